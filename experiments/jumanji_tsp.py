"""Masked PPO on Jumanji's TSP-v1 (20 cities in the unit square), next to a random valid
policy and the nearest-neighbour heuristic (both in summary.json["references"]).

    pip install -e ".[jumanji]"
    jaxrl-actions run experiments/jumanji_tsp.py --seeds 4 --out runs/jumanji_tsp

The agent sees the cities (`observation="items"`: per city its coordinates, visited,
current and start flags, its offset and distance from the current city, and whether the tour
has started; float32[20, 9]) through an attention encoder with one logit per city (PPO
`torso="set"`, networks/attention.py), and the mask of unvisited cities. The return is minus
the tour length (Jumanji's dense reward: the distance of each move, and the way back to the
first city on the last step). Variant `mlp` is the baseline: an MLP over the flat
observation (coordinates, position, trajectory: float32[61]).

    jaxrl-actions run experiments/jumanji_tsp.py --sweep variant=attention,mlp --seeds 2
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _jumanji_common beside this file
import envs  # noqa: E402
from _jumanji_common import SET_TORSO, TORSO_VARIANTS  # noqa: E402
from envs.jumanji_heuristics import tsp_nearest_neighbour  # noqa: E402
from jaxrl_actions.agents import ppo  # noqa: E402
from jaxrl_actions.cli import main_for  # noqa: E402
from jaxrl_actions.run import Experiment  # noqa: E402
from jaxrl_actions.run.references import random_valid  # noqa: E402

EXPERIMENT = Experiment(
    name="jumanji_tsp",
    description="Masked PPO on jumanji/TSP-v1 vs random valid and nearest neighbour",
    make_env=lambda **kwargs: envs.make("jumanji/TSP-v1", **kwargs),
    env_kwargs={"observation": "items"},
    agent=ppo.AGENT,
    config=ppo.PPOConfig(
        # Every episode is exactly 20 steps: undiscounted returns over whole tours.
        total_steps=2_000_000, num_envs=64, rollout_len=20, update_epochs=4, num_minibatches=4,
        **SET_TORSO, activation="relu", lr=3e-4, gamma=1.0, gae_lambda=0.95, ent_coef=0.01,
    ),
    variants=TORSO_VARIANTS,
    references={"random_valid": random_valid, "nearest_neighbour": tsp_nearest_neighbour},
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
