"""PPO on Ant (brax MJX port), Brax's published PPO settings for ant: 4096 envs, unrolls of 5
steps (an 80-step rollout cut into 16 unrolls for GAE), 32 minibatches, 4 epochs, discount
0.97, reward scaling 10, observation normalisation, swish MLPs of 32x4 (policy) and 256x5
(value), 50M env steps.

    jaxrl-actions run experiments/ppo_ant.py --seeds 2 --out runs/ppo_ant      # a GPU

Brax's PPO reaches an eval return of about 1700 at 21M env steps on an H100 with these
settings (see experiments/bench_brax.py for the side-by-side run). A CPU-sized smoke run
(MJX compiles slowly on CPU; a few minutes):

    python experiments/ppo_ant.py --out /tmp/ppo_ant \\
        --set total_steps=20480 --set agent.num_envs=16 --set agent.num_minibatches=4 \\
        --set 'agent.hidden_sizes=(16,16)' --set 'agent.critic_hidden_sizes=(16,16)'
"""
import envs
from jaxrl_actions.agents import ppo
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

EXPERIMENT = Experiment(
    name="ppo_ant",
    description="PPO on Ant (MJX), Brax's published settings, 50M env steps",
    make_env=lambda **kwargs: envs.make("ant", **kwargs),
    agent=ppo.AGENT,
    config=ppo.PPOConfig(
        total_steps=50_000_000, num_envs=4096, rollout_len=80, unroll_len=5, update_epochs=4, num_minibatches=32,
        hidden_sizes=(32,) * 4, critic_hidden_sizes=(256,) * 5, activation="silu", anneal_lr=False,
        normalize_obs=True, lr=3e-4, gamma=0.97, gae_lambda=0.95, clip_eps=0.3, ent_coef=1e-2, vf_coef=0.5,
        max_grad_norm=1.0, reward_scale=10.0,
    ),
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
