"""Coarse-to-fine Q-network (CQN) on Hopper (brax/MJX): continuous torques from 3 levels of
5 bins per joint (resolution 2 / 125 of the torque range).

    jaxrl-actions run experiments/cqn_hopper.py --seeds 4 --out runs/cqn_hopper      # GPU
    jaxrl-actions run experiments/cqn_hopper.py --set agent.levels=4 --set agent.bins=3

Settings: the agent's defaults, which are the authors' state-based DMC settings
(younggyoseo/CQN-AS `cfgs/config_cqn_dmc_state.yaml`; see agents/cqn.py): 512-512
LayerNorm/SiLU network with a zero-initialised head, AdamW lr 1e-4 with weight decay 0.1,
no gradient clipping, 3-step returns, batch 256, hard target copies every 100 updates,
Gaussian exploration (std 0.1) snapped to the bins, 2000 uniform steps, updates from 8000
env steps; here 1M env steps. The authors did not run CQN on Gym/MJX Hopper, so there is
no published number for this file (experiments/reproduce/cqn_dmc.py is the DMC one).
CPU-sized preset: --set total_steps=100000 --set agent.hidden_sizes=[64,64]
"""
import envs
from jaxrl_actions.agents import cqn
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

EXPERIMENT = Experiment(
    name="cqn_hopper",
    description="CQN (coarse-to-fine Q, authors' DMC settings) on Hopper, continuous torques",
    make_env=lambda **kwargs: envs.make("hopper", **kwargs),
    agent=cqn.AGENT,
    config=cqn.CQNConfig(total_steps=1_000_000, num_envs=1, buffer_size=1_000_000),
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
