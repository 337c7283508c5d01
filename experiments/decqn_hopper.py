"""DecQN on Hopper (brax/MJX) with each joint's torque discretised into `bins` values.

    jaxrl-actions run experiments/decqn_hopper.py --seeds 4 --out runs/decqn_hopper      # GPU
    jaxrl-actions run experiments/decqn_hopper.py --set env.bins=3 --set total_steps=1000000

Published-style defaults (Seyde et al. 2023): 1M env steps, 3 bins per joint (bang-off-bang),
(512, 512) MLP, Adam 1e-4, double Q with Polyak targets, epsilon 1 -> 0.1.
CPU-sized preset (brax compiles slowly on CPU; minutes per 100k steps):
    --set total_steps=100000 --set agent.num_envs=4 --set agent.hidden_sizes=[64,64]
"""
import envs
from jaxrl_actions.actions import discretize, transform_actions
from jaxrl_actions.agents import factorised
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment


def make_discretised(name: str, bins: int = 3, **kwargs):
    """`name` (a Box env) with every action dimension discretised into `bins` values."""
    return transform_actions(envs.make(name, **kwargs), discretize(bins))


EXPERIMENT = Experiment(
    name="decqn_hopper",
    description="DecQN on Hopper, torques discretised per joint",
    make_env=lambda bins=3, **kwargs: make_discretised("hopper", bins, **kwargs),
    agent=factorised.DECQN,
    config=factorised.DecQNConfig(
        total_steps=1_000_000, num_envs=1, batch_size=256, buffer_size=1_000_000, warmup_steps=10_000,
        hidden_sizes=(512, 512), lr=1e-4, gamma=0.99, tau=0.005, eps_start=1.0, eps_end=0.1,
        eps_decay_steps=100_000.0, max_grad_norm=40.0,
    ),
    env_kwargs={"bins": 3},
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
