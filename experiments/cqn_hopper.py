"""Coarse-to-fine Q-network (CQN) on Hopper (brax/MJX): continuous torques from 3 levels of
5 bins per joint (resolution 2 / 125 of the torque range).

    jaxrl-actions run experiments/cqn_hopper.py --seeds 4 --out runs/cqn_hopper      # GPU
    jaxrl-actions run experiments/cqn_hopper.py --set agent.levels=4 --set agent.bins=3

Published-style defaults (Seo et al. 2024, state-based): 1M env steps, 3 levels x 5 bins,
(512, 512) MLP, Adam 1e-4, double Q, Polyak targets, epsilon 1 -> 0.1.
CPU-sized preset: --set total_steps=100000 --set agent.hidden_sizes=[64,64]
"""
import envs
from jaxrl_actions.agents import cqn
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

EXPERIMENT = Experiment(
    name="cqn_hopper",
    description="CQN (coarse-to-fine Q) on Hopper, continuous torques",
    make_env=lambda **kwargs: envs.make("hopper", **kwargs),
    agent=cqn.AGENT,
    config=cqn.CQNConfig(
        total_steps=1_000_000, num_envs=1, batch_size=256, buffer_size=1_000_000, warmup_steps=10_000,
        hidden_sizes=(512, 512), levels=3, bins=5, lr=1e-4, gamma=0.99, tau=0.005, eps_start=1.0, eps_end=0.1,
        eps_decay_steps=100_000.0, max_grad_norm=40.0,
    ),
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
