"""Factorised value agents for MultiDiscrete actions (e.g. `transform_actions(env,
discretize(k))` over a Box env). Q(s, a) is the mean of per-dimension utilities
U_d(s, a_d); each dimension is maximised independently, so the greedy joint action costs
D * K evaluations instead of K^D, and it is exactly the joint argmax of the decomposed Q.

Both are configurations of the DQN code (`agents/dqn.py`, update and options there); the
defaults below are the authors' settings, each with its source. Masks apply per
dimension (bool[sum(nvec)]).

    state = init(key, spec, DecQNConfig(...))       # spec.action_space: MultiDiscrete
    action = act(state, obs, mask, key)             # int32[D]

DecQN (Seyde et al., "Solving Continuous Control via Q-learning", ICLR 2023) follows the
authors' code, github.com/tseyde/decqn @ 2309e0b (TF2/acme 0.4.0; paths below under
decqn/), with the settings of its `run_experiment.py` `__main__` block for state features
(`--algorithm=decqn`). What this agent takes from it:
- two critics, each with its own target copy; critic e bootstraps from its own online argmax
  per dimension, valued by the mean of the two target networks (`q_heads.per_critic_double_q`;
  agents/dqn/learning.py:162-179); TD error = mean over dimensions of y_d - U_{e,d} taken
  before the Huber loss (misc/utils.py:116-118); loss = mean over the batch of importance
  weight x (huber(td_1) + huber(td_2)) (learning.py:181-196);
- prioritised replay, alpha 0.6, importance exponent 0.2 constant, weights normalised by the
  batch max, new priorities 0.5 (|td_1| + |td_2|), new items at priority 1.0 (agent.py:87-93,
  learning.py:190-223, config_default.py:37-38); flashbax's sum tree samples stratified;
- acting greedy on the elementwise max of the two critics' utilities, training and
  evaluation alike (agent.py:123-131);
- constant epsilon 0.1 with the code's per-dimension exploration: each dimension's
  categorical gets epsilon / (D K) per bin plus 1 - epsilon on the greedy bin and is then
  renormalised, so a dimension explores with probability (epsilon/D) / (1 - epsilon +
  epsilon/D), about 0.018 per dimension for D = 6 rather than 0.1
  (misc/utils.py:125-178; `q_heads.decqn_dimension_epsilon`). We follow the code;
  `exploration="per_dimension"` gives the textbook per-dimension epsilon;
- one gradient step every 8 env steps (samples_per_insert 32 with batch 256: acme's
  observations_per_step = 8; agent.py:176-180), learning from 1000 observations on, the
  epsilon-greedy policy acting from the first step (no uniform warm-up, agent.py:179);
- hard target copies every 100 gradient steps (learning.py:226-230); Polyak averaging is an
  option (tau < 1 with target_period=1), off by default;
- the critic network: acme LayerNormAndResidualMLP(512, 1 block) -> ELU -> Dense(D K),
  VarianceScaling(0.333, fan_out, uniform) init (agents/dqn/networks.py:20-46);
- 3-step returns, gamma 0.99, Adam 1e-4, global-norm clip 40, batch 256, 1M buffer;
  2 bins per dimension (bang-bang, config_default.py:20) is an env setting (`discretize(2)`).
Differences kept: none in the update. Around it: episodes truncated by a time limit bootstrap
their last n-step transitions from the final observation (acme does the same); the paper's
per-task budgets and the bin ablations were not checked against the paper text.

REValueD (Ireland & Montana, "REValueD: Regularised Ensemble Value-Decomposition for
Factorisable Markov Decision Processes", ICLR 2024, arXiv 2401.08850) follows the authors'
code, github.com/davidireland3/REValueD @ 2e811a5 (PyTorch; the 2024 code @ f328364 has the
same update), for everything but the regulariser:
- an ensemble of 10 critics (revalued/algorithms/revalued.py:24), one shared target
  y = r + gamma^n (1 - done) mean_d max_k mean_E U'_{e,d}(s', k) with no double-Q selection
  (update_type 'Mean', the code's default, revalued.py:25,196-204; the 2024 training script
  used 'REDQ', a min over two random members, which is not implemented here);
- ensemble loss = Huber (delta 1) averaged over batch and members: PyTorch's HuberLoss()
  reduces to the mean before the code's `.mean(dim=0).sum()` (revalued.py:152,
  decqn.py:60);
- exploration: with probability epsilon a uniformly random joint action, after which
  epsilon <- max(0.999 epsilon, 0.05); otherwise greedy per dimension on one ensemble member
  drawn uniformly at each step (revalued.py:68-94; decqn.py:24-27); epsilon starts at 1.0
  after the burn-in. Greedy evaluation uses the ensemble mean (revalued.py:96-113);
- one gradient step every 5 env steps (configs/base_config.yaml:30-31,
  trainers/trainer.py:111), 10k uniformly random burn-in steps (base_config.yaml:38,
  trainer.py:147-173), Polyak tau 0.005 after every gradient step (algorithms/base.py:84-101);
- the critic network: Dense(512) -> x + relu(Dense(relu(Dense(x)))) -> LayerNorm shared by
  all members -> per-dimension linear heads, PyTorch default init (networks/q_networks.py:56-121,
  networks/layers.py);
- 3-step returns, gamma 0.99, Adam 1e-4, clip 40, batch 256, buffer 500k, 3 bins
  (base_config.yaml:11-38).
The regulariser is in neither version of the authors' code (its README lists it as a TODO),
and the paper's text could not be read with the tools of this project (only its abstract:
"a regularisation loss that helps to mitigate the effects that exploratory actions in one
dimension can have on the value of optimal actions in other dimensions"). Its form here is
the paper's as we read it, unverified: per member e and dimension d,
L_reg = mean_{e,d} w_{e,d} (U_{e,d}(s, a_d) - U'_{e,d}(s, a_d))^2 with
w_{e,d} = 1 - exp(-|y - U_{e,d}(s, a_d)|) (online utility, no gradient through w or the target
network's U'), added to the TD loss with weight beta = 0.5 (`dqn.utility_regulariser`). Set
`regularise_utilities=False` to run the authors' code as published.
Differences kept: the authors drop the last n - 1 transitions of each DMC episode (their
n-step buffer is flushed only on termination); ours stores them, bootstrapping from the final
observation. Their step budget counts env steps after the 10k burn-in; ours includes it.
"""
from __future__ import annotations

from typing import Sequence

from flax import struct

from jaxrl_actions.agents import dqn
from jaxrl_actions.agents.base import register
from jaxrl_actions.agents.base import Agent
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.spaces import MultiDiscrete

@struct.dataclass
class DecQNConfig(dqn.DQNConfig):
    """DecQN as in tseyde/decqn (see the module docstring); paths are under its decqn/."""

    # loop
    total_steps: int = struct.field(pytree_node=False, default=1_000_000)  # run_experiment.py:239 (1000 episodes of 1000 steps)
    batch_size: int = struct.field(pytree_node=False, default=256)  # run_experiment.py:249
    buffer_size: int = struct.field(pytree_node=False, default=1_000_000)  # config_default.py:34
    warmup_steps: int = struct.field(pytree_node=False, default=1_000)  # agent.py:179 min_observations = max(256, 1000)
    random_warmup: bool = struct.field(pytree_node=False, default=False)  # agent.py:123-131: the policy acts from step 0
    update_every: int = struct.field(pytree_node=False, default=8)  # agent.py:180 observations_per_step = 256 / 32
    n_step: int = struct.field(pytree_node=False, default=3)  # run_experiment.py:248
    replay: str = struct.field(pytree_node=False, default="prioritised")  # agent.py:87-93 reverb Prioritized
    priority_exponent: float = struct.field(pytree_node=False, default=0.6)  # config_default.py:38
    importance_exponent: float = struct.field(pytree_node=False, default=0.2)  # config_default.py:37
    # network and update
    hidden_sizes: Sequence[int] = struct.field(pytree_node=False, default=(512,))  # run_experiment.py:255 (width [0])
    torso: str = struct.field(pytree_node=False, default="residual_ln_elu")  # agents/dqn/networks.py:33-38
    num_critics: int = struct.field(pytree_node=False, default=2)  # networks.py:49-67, run_experiment.py:246
    double: bool = struct.field(pytree_node=False, default=True)  # learning.py:162-179
    per_critic_target: bool = struct.field(pytree_node=False, default=True)  # learning.py:175-178
    ensemble_loss: str = struct.field(pytree_node=False, default="sum")  # learning.py:184-185 loss1 + loss2
    target_period: int = struct.field(pytree_node=False, default=100)  # config_default.py:32, learning.py:226-230
    act_critics: str = struct.field(pytree_node=False, default="max")  # agent.py:125,130 tf.maximum(*q)
    exploration: str = struct.field(pytree_node=False, default="decqn")  # misc/utils.py:159-176
    lr: float = 1e-4  # config_default.py:24
    gamma: float = 0.99  # config_default.py:29
    tau: float = 1.0  # hard copies (learning.py:228-230); tau < 1 with target_period=1: Polyak (not DecQN)
    eps_start: float = 0.1  # config_default.py:27, run_experiment.py:250: constant
    eps_end: float = 0.1
    max_grad_norm: float = 40.0  # config_default.py:25-26


@struct.dataclass
class REValueDConfig(dqn.DQNConfig):
    """REValueD as in davidireland3/REValueD plus the paper's regulariser (see the module
    docstring); paths are under that repository (revalued/...)."""

    # loop
    total_steps: int = struct.field(pytree_node=False, default=1_000_000)  # configs/experiments/*_run_decqn.yaml (walker_walk: 500k)
    batch_size: int = struct.field(pytree_node=False, default=256)  # configs/base_config.yaml:17
    buffer_size: int = struct.field(pytree_node=False, default=500_000)  # base_config.yaml:37
    warmup_steps: int = struct.field(pytree_node=False, default=10_000)  # base_config.yaml:38 burn_in_steps (uniform)
    update_every: int = struct.field(pytree_node=False, default=5)  # base_config.yaml:30-31, trainers/trainer.py:111
    n_step: int = struct.field(pytree_node=False, default=3)  # base_config.yaml:24
    # network and update
    hidden_sizes: Sequence[int] = struct.field(pytree_node=False, default=(512,))  # base_config.yaml:16
    torso: str = struct.field(pytree_node=False, default="residual_relu_ln")  # networks/q_networks.py:56-121
    num_critics: int = struct.field(pytree_node=False, default=10)  # algorithms/revalued.py:24
    double: bool = struct.field(pytree_node=False, default=False)  # revalued.py:196-204 ('Mean' target)
    ensemble_loss: str = struct.field(pytree_node=False, default="mean")  # revalued.py:152 (HuberLoss() means)
    regularise_utilities: bool = struct.field(pytree_node=False, default=True)  # paper (arXiv 2401.08850); not in code
    act_critics: str = struct.field(pytree_node=False, default="random")  # revalued.py:86-92
    exploration: str = struct.field(pytree_node=False, default="joint")  # revalued.py:77-84
    epsilon_schedule: str = struct.field(pytree_node=False, default="per_exploration")  # revalued.py:79-82
    lr: float = 1e-4  # base_config.yaml:18
    gamma: float = 0.99  # base_config.yaml:19
    tau: float = 0.005  # base_config.yaml:20, algorithms/base.py:89-95 (every gradient step)
    eps_start: float = 1.0  # base_config.yaml:21
    eps_end: float = 0.05  # base_config.yaml:22
    eps_decay: float = 0.999  # base_config.yaml:23
    max_grad_norm: float = 40.0  # base_config.yaml:25
    reg_weight: float = 0.5  # beta of the paper's regulariser, as we read it (unverified)


def check_factorised_spec(spec: EnvSpec, agent: str) -> None:
    if not isinstance(spec.action_space, MultiDiscrete):
        raise ValueError(f"{agent} needs a MultiDiscrete action space (e.g. transform_actions(env, discretize(k))), "
                         f"got {spec.action_space!r}")


def init_decqn(key, spec: EnvSpec, config: dqn.DQNConfig) -> dqn.DQNState:
    check_factorised_spec(spec, "DecQN")
    return dqn.init(key, spec, config)


def init_revalued(key, spec: EnvSpec, config: dqn.DQNConfig) -> dqn.DQNState:
    check_factorised_spec(spec, "REValueD")
    return dqn.init(key, spec, config)


EXTRAS = {"act_batch": dqn.act_batch, "prioritised_update": dqn.update_weighted}
DECQN = Agent(
    name="decqn", family="off_policy", config_cls=DecQNConfig, init=init_decqn, act=dqn.act, update=dqn.update,
    check_config=dqn.check, extras=EXTRAS,
    description="DecQN (tseyde/decqn): two decoupled critics, prioritised replay, MultiDiscrete (discretised Box) "
                "actions, masks",
)
REVALUED = Agent(
    name="revalued", family="off_policy", config_cls=REValueDConfig, init=init_revalued, act=dqn.act,
    update=dqn.update, check_config=dqn.check, extras=EXTRAS,
    description="REValueD: ensemble of DecQN critics with a regularised value decomposition (MultiDiscrete)",
)
register(DECQN)
register(REVALUED)
