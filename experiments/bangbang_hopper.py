"""Bang-bang control (Seyde et al. 2021, "Is Bang-Bang Control All You Need?"): PPO with a
Bernoulli policy per joint on Hopper (brax/MJX); each joint's torque is its minimum or
maximum (`transform_actions(env, bang_bang())`, a MultiBinary action space).

    jaxrl-actions run experiments/bangbang_hopper.py --seeds 4 --out runs/bangbang_hopper   # GPU

Settings: ours, after Brax's PPO on Hopper (10M env steps, 256 envs, rollouts of 32,
(256, 256) SiLU MLP, Adam 3e-4), not the paper's: the paper keeps each base algorithm's
own settings and evaluates on DeepMind Control (experiments/reproduce/bangbang_dmc.py,
which also runs bang-bang SAC, `agents/sac_bernoulli.py`).
CPU-sized preset: --set total_steps=200000 --set agent.num_envs=8 --set agent.hidden_sizes=[64,64]
"""
import envs
from jaxrl_actions.actions import bang_bang, transform_actions
from jaxrl_actions.agents import ppo
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

EXPERIMENT = Experiment(
    name="bangbang_hopper",
    description="PPO with Bernoulli (bang-bang) torques on Hopper",
    make_env=lambda **kwargs: transform_actions(envs.make("hopper", **kwargs), bang_bang()),
    agent=ppo.AGENT,
    config=ppo.PPOConfig(
        total_steps=10_000_000, num_envs=256, rollout_len=32, update_epochs=4, num_minibatches=32,
        hidden_sizes=(256, 256), activation="silu", lr=3e-4, gamma=0.99, gae_lambda=0.95, clip_eps=0.2,
        ent_coef=1e-3, max_grad_norm=0.5, normalize_obs=True,
    ),
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
