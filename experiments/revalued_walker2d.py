"""REValueD on Walker2d (brax/MJX): an ensemble of DecQN critics with the regularised value
decomposition, torques discretised per joint.

    jaxrl-actions run experiments/revalued_walker2d.py --seeds 4 --out runs/revalued_walker2d   # GPU
    jaxrl-actions run experiments/revalued_walker2d.py --set env.bins=21

Published-style defaults (Ireland & Montana 2024): 1M env steps, ensemble of 10 critics,
(512, 512) MLP, Adam 1e-4, regulariser weight 0.5, 3 bins per joint (try 21: the method
targets many sub-actions).
CPU-sized preset: --set total_steps=100000 --set agent.num_critics=2 --set agent.hidden_sizes=[64,64]
"""
import envs
from jaxrl_actions.actions import discretize, transform_actions
from jaxrl_actions.agents import factorised
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

EXPERIMENT = Experiment(
    name="revalued_walker2d",
    description="REValueD on Walker2d, torques discretised per joint",
    make_env=lambda bins=3, **kwargs: transform_actions(envs.make("walker2d", **kwargs), discretize(bins)),
    agent=factorised.REVALUED,
    config=factorised.REValueDConfig(
        total_steps=1_000_000, num_envs=1, batch_size=256, buffer_size=1_000_000, warmup_steps=10_000,
        hidden_sizes=(512, 512), num_critics=10, lr=1e-4, gamma=0.99, tau=0.005, eps_start=1.0, eps_end=0.1,
        eps_decay_steps=100_000.0, reg_weight=0.5, max_grad_norm=40.0,
    ),
    env_kwargs={"bins": 3},
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
