"""PPO on CartPole (Gymnasium CartPole-v1 dynamics, 500-step episodes): the CPU demo.

    jaxrl-actions run experiments/ppo_cartpole.py --seeds 4 --out runs/ppo_cartpole
    jaxrl-actions run experiments/ppo_cartpole.py --seeds 3 --sweep agent.lr=1e-3,3e-4

Every seed reaches the maximum return of 500 well within 500k env steps on a 2-core CPU.
"""
import envs
from jaxrl_actions.agents import ppo
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

EXPERIMENT = Experiment(
    name="ppo_cartpole",
    description="PPO on CartPole, 500k env steps (the CPU demo)",
    make_env=lambda **kwargs: envs.make("cartpole", **kwargs),
    agent=ppo.AGENT,
    config=ppo.PPOConfig(
        total_steps=500_000, num_envs=4, rollout_len=128, update_epochs=4, num_minibatches=4,
        hidden_sizes=(64, 64), lr=2.5e-3, gamma=0.99, gae_lambda=0.95, clip_eps=0.2, ent_coef=0.01,
    ),
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
