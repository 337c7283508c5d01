"""Bang-bang control on DeepMind Control tasks from states (Seyde et al., NeurIPS 2021, "Is
Bang-Bang Control All You Need? Solving Continuous Control with Bernoulli Policies", arXiv
2111.02552): each base algorithm with its Gaussian policy head replaced by a Bernoulli over
each action dimension's extremes (`transform_actions(env, bang_bang())`, a MultiBinary
space), and the Gaussian originals for the paper's Bernoulli-vs-Gaussian comparison.

    jaxrl-actions run experiments/reproduce/bangbang_dmc.py --seeds 2                 # bang-bang SAC
    jaxrl-actions run experiments/reproduce/bangbang_dmc.py --variant ppo --seeds 2   # bang-bang PPO
    jaxrl-actions run experiments/reproduce/bangbang_dmc.py --variant gaussian_sac
    jaxrl-actions run experiments/reproduce/bangbang_dmc.py --variant sac_cpu|ppo_cpu|gaussian_sac_cpu|cpu
    ... --set env.task=walker_walk

Variants (`<method>` and `<method>_cpu`, the latter only cutting the budget; `cpu` is
`sac_cpu`):
- `sac` (default): bang-bang SAC, `agents/sac_bernoulli.py` with Gaussian SAC's settings;
- `gaussian_sac`: SAC (`agents/sac.py`) with the same settings;
- `ppo`: bang-bang PPO (`agents/ppo.py`: a 2-way categorical per dimension = Bernoulli).

What rests on the paper (abstract, introduction): the Bernoulli head is a "slight
modification" of each algorithm, everything else stays the base algorithm's. The paper's
own implementations, hyper-parameters and budgets could not be read here, so the settings
are each base algorithm's published defaults:
- SAC: Haarnoja et al. 2018b ("Soft Actor-Critic Algorithms and Applications", Table 1):
  (256, 256) ReLU, Adam 3e-4, batch 256, 1M replay, tau 0.005, gamma 0.99, one gradient step
  per env step, target entropy -|A| (kept for bang-bang SAC; see agents/sac_bernoulli.py);
  10k uniform warm-up steps (this library's SAC default); 1M env steps.
- PPO: Schulman et al. 2017 (Table 3, MuJoCo): horizon 2048 with one env, Adam 3e-4, 10
  epochs, minibatch 64, gamma 0.99, GAE lambda 0.95, clip 0.2, no entropy bonus, (64, 64)
  tanh networks; observations normalised by running moments, no value or gradient clipping
  (the authors' baselines `ppo1`); 1M env steps.
Action repeat 1 (the adapter's default). Published numbers: the paper's DMC learning curves
(Figure 2 and the appendix) would have to be read by eye; see docs/results.md.
"""
import dataclasses

import envs
from jaxrl_actions.actions import bang_bang, transform_actions
from jaxrl_actions.agents import ppo, sac, sac_bernoulli
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

DEFAULT_TASK = "cartpole_swingup"
STEPS = 1_000_000  # env steps (SAC paper's and PPO paper's MuJoCo budgets; the bang-bang paper's: unverified)
CPU_STEPS = {"sac": 100_000, "gaussian_sac": 100_000, "ppo": 200_000}  # the `_cpu` budgets (2 CPU cores)

# Haarnoja et al. 2018b Table 1 (SoftActorCriticConfig's defaults are these).
SAC_SETTINGS = dict(total_steps=STEPS, num_envs=1, batch_size=256, buffer_size=1_000_000, warmup_steps=10_000, utd=1,
                    actor_hidden=(256, 256), critic_hidden=(256, 256), actor_lr=3e-4, critic_lr=3e-4, alpha_lr=3e-4,
                    gamma=0.99, tau=0.005)
# Schulman et al. 2017 Table 3 (MuJoCo); minibatch 64 = 2048 / 32. Their code (baselines
# ppo1) neither clips the value loss nor the gradient norm (a huge max_grad_norm: off).
PPO_SETTINGS = dict(total_steps=STEPS, num_envs=1, rollout_len=2048, update_epochs=10, num_minibatches=32,
                    hidden_sizes=(64, 64), activation="tanh", lr=3e-4, anneal_lr=False, gamma=0.99, gae_lambda=0.95,
                    clip_eps=0.2, ent_coef=0.0, normalize_obs=True, clip_value=False, max_grad_norm=1e6)


def make_bang_bang_env(task: str = DEFAULT_TASK, **kwargs):
    return transform_actions(envs.make(f"dmc/{task}", **kwargs), bang_bang())


def make_gaussian_env(task: str = DEFAULT_TASK, **kwargs):
    return envs.make(f"dmc/{task}", **kwargs)


def bang_bang_sac(exp: Experiment) -> Experiment:
    return dataclasses.replace(exp, agent=sac_bernoulli.AGENT, make_env=make_bang_bang_env,
                               config=sac_bernoulli.SACBernoulliConfig(**SAC_SETTINGS))


def gaussian_sac(exp: Experiment) -> Experiment:
    return dataclasses.replace(exp, agent=sac.AGENT, make_env=make_gaussian_env,
                               config=sac.SACConfig(**SAC_SETTINGS))


def bang_bang_ppo(exp: Experiment) -> Experiment:
    return dataclasses.replace(exp, agent=ppo.AGENT, make_env=make_bang_bang_env,
                               config=ppo.PPOConfig(**PPO_SETTINGS))


METHODS = {"sac": bang_bang_sac, "gaussian_sac": gaussian_sac, "ppo": bang_bang_ppo}


def _cpu(method: str):
    def variant(exp: Experiment) -> Experiment:
        exp = METHODS[method](exp)
        return dataclasses.replace(exp, config=exp.config.replace(total_steps=CPU_STEPS[method]))

    return variant


EXPERIMENT = bang_bang_sac(Experiment(
    name="bangbang_dmc",
    description="Bang-bang (Bernoulli) SAC and PPO vs Gaussian SAC on DMC tasks; default cartpole_swingup, 1M steps",
    make_env=make_bang_bang_env,
    env_kwargs={"task": DEFAULT_TASK},
    agent=sac_bernoulli.AGENT,
    config=sac_bernoulli.SACBernoulliConfig(**SAC_SETTINGS),
    variants={**METHODS, **{f"{m}_cpu": _cpu(m) for m in METHODS}, "cpu": _cpu("sac")},
))

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
