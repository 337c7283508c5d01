"""Randomized Ensembled Double Q-learning (Chen et al. 2021): SAC with an ensemble of N
critics, the minimum over a random subset of M of them in the target, a high
update-to-data ratio, and the actor trained on the ensemble mean once per `policy_delay`
critic steps. The update is SAC's (`agents/sac.py`); only the defaults differ, each from
the authors' code (watchernyu/REDQ: `redq/algos/redq_sac.py` REDQSACAgent.__init__,
`redq/algos/core.py`, `experiments/train_redq_sac.py`).

    config = REDQConfig()     # N=10, M=2, utd=20, actor every 20 critic steps
    config = REDQConfig(target_entropy=MBPO_TARGET_ENTROPY["hopper"])   # as the authors on Hopper

Target entropy: the authors use the MBPO paper's per-env table (`target_entropy='mbpo'`,
core.py `mbpo_target_entropy_dict`), `MBPO_TARGET_ENTROPY` here, which the experiment files
set; for an env outside the table the agent default is their `'auto'`, -|A|
(`target_entropy=None`).

Remaining differences from the authors' code (minor, not options):
- their actor loss uses the critics *before* the iteration's critic step (they back-prop
  both losses, then step both optimisers); here the actor sees the critics after it;
- their time-limit handling forces `done=False` at max_ep_len; here truncation never stops
  bootstrapping (the loop stores the final observation), which is the same.
"""
from __future__ import annotations

from typing import Optional, Sequence

from flax import struct

from jaxrl_actions.agents import sac
from jaxrl_actions.agents.base import register
from jaxrl_actions.agents.base import Agent

# Absolute target entropies (core.py mbpo_target_entropy_dict, "from the MBPO paper"),
# keyed by this library's env names of the Gym MuJoCo tasks.
MBPO_TARGET_ENTROPY = {"hopper": -1.0, "halfcheetah": -3.0, "walker2d": -3.0, "ant": -4.0, "humanoid": -2.0}
# Env steps per task (core.py mbpo_epoches x 1000 steps per epoch).
MBPO_ENV_STEPS = {"hopper": 125_000, "walker2d": 300_000, "ant": 300_000, "halfcheetah": 400_000,
                  "humanoid": 300_000}


@struct.dataclass
class REDQConfig(sac.SACConfig):
    num_critics: int = struct.field(pytree_node=False, default=10)  # num_Q (redq_sac.py)
    target_subset: int = struct.field(pytree_node=False, default=2)  # num_min
    actor_q: str = struct.field(pytree_node=False, default="mean")  # actor on the mean of all N Qs
    utd: int = struct.field(pytree_node=False, default=20)  # utd_ratio
    policy_delay: int = struct.field(pytree_node=False, default=20)  # policy_update_delay
    warmup_steps: int = struct.field(pytree_node=False, default=5_000)  # start_steps (= delay_update_steps 'auto')
    total_steps: int = struct.field(pytree_node=False, default=300_000)  # mbpo_epoches: Walker2d/Ant/Humanoid
    actor_hidden: Sequence[int] = struct.field(pytree_node=False, default=(256, 256))  # hidden_sizes
    critic_hidden: Sequence[int] = struct.field(pytree_node=False, default=(256, 256))
    weight_init: str = struct.field(pytree_node=False, default="xavier")  # core.py weights_init_: xavier_uniform, bias 0
    log_std_bound: str = struct.field(pytree_node=False, default="clip")  # core.py: torch.clamp(log_std, ...)
    log_std_min: float = struct.field(pytree_node=False, default=-20.0)  # core.py LOG_SIG_MIN
    log_std_max: float = struct.field(pytree_node=False, default=2.0)  # core.py LOG_SIG_MAX
    # None: -|A| (their target_entropy='auto'); experiments set MBPO_TARGET_ENTROPY[env] ('mbpo').
    target_entropy: Optional[float] = None
    # lr 3e-4 for policy, Qs and alpha, batch 256, gamma 0.99, polyak 0.995 (tau 0.005),
    # alpha init 1 (log_alpha = 0), no gradient clipping: SACConfig's defaults already.


AGENT = Agent(
    name="redq",
    family="off_policy",
    config_cls=REDQConfig,
    init=sac.init,
    act=sac.act,
    update=sac.update,
    check_config=sac.check,
    description="REDQ: SAC with N critics, min over a random M in the target, high update-to-data ratio",
)
register(AGENT)
