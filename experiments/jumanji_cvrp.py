"""Masked PPO on Jumanji's CVRP-v1 (20 customers and a depot in the unit square, vehicle
capacity 30, demands 1-9), next to a random valid policy and the nearest-neighbour heuristic
(both in summary.json["references"]).

    pip install -e ".[jumanji]"
    jaxrl-actions run experiments/jumanji_cvrp.py --seeds 2 --out runs/jumanji_cvrp

The agent sees the flat observation (coordinates, demands, unvisited flags, position,
trajectory, remaining capacity: float32[126]) through an MLP (the `mlp` variant of the
Knapsack and TSP experiments; CVRP has no item view), and the action mask (unvisited
customers whose demand fits the remaining capacity, and the depot unless the vehicle is
there); masked logits mean it never picks an invalid node (`invalid_actions` stays 0). The
return is minus the total route length (Jumanji's dense reward: the distance of each move,
the depot refills the vehicle). The default budget, 7M env steps per seed, is about 30
minutes for 2 seeds on a 2-core CPU: a 2-seed run of 150k steps measured 8,600 env steps/s
(both seeds together, compiles excluded, on 2 cores shared with other runs), so about 27
minutes of training, plus about 50 s of compiling and 30 s for the references.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _jumanji_common beside this file
import envs  # noqa: E402
from _jumanji_common import FLAT_MLP  # noqa: E402
from envs.jumanji_heuristics import cvrp_nearest_neighbour  # noqa: E402
from jaxrl_actions.agents import ppo  # noqa: E402
from jaxrl_actions.cli import main_for  # noqa: E402
from jaxrl_actions.run import Experiment  # noqa: E402
from jaxrl_actions.run.references import random_valid  # noqa: E402

EXPERIMENT = Experiment(
    name="jumanji_cvrp",
    description="Masked PPO on jumanji/CVRP-v1 vs random valid and nearest neighbour",
    make_env=lambda **kwargs: envs.make("jumanji/CVRP-v1", **kwargs),
    env_kwargs={"observation": "flat"},
    agent=ppo.AGENT,
    config=ppo.PPOConfig(
        # Episodes end by themselves after 21-40 moves: undiscounted returns, as Jumanji's own
        # CVRP training (jumanji/training/configs/env/cvrp.yaml: discount 1.0, GAE 0.95,
        # entropy 0.005). Sizes, lr and the MLP (the Knapsack/TSP `mlp` variant) are ours.
        total_steps=7_000_000, num_envs=64, rollout_len=32, update_epochs=4, num_minibatches=8,
        **FLAT_MLP, activation="relu",
        lr=3e-4, gamma=1.0, gae_lambda=0.95, ent_coef=0.005,
    ),
    references={"random_valid": random_valid, "nearest_neighbour": cvrp_nearest_neighbour},
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
