"""Masked PPO on Jumanji's Knapsack-v1 (50 items, budget 12.5), next to a random valid
policy and the greedy value/weight heuristic (both in summary.json["references"]).

    pip install -e ".[jumanji]"
    jaxrl-actions run experiments/jumanji_knapsack.py --seeds 4 --out runs/jumanji_knapsack

The agent sees the items (`observation="items"`: per item its weight, value, packed flag,
value/weight, the remaining budget and whether it fits; float32[50, 6]) through an attention
encoder with one logit per item (PPO `torso="set"`, networks/attention.py), and the action
mask (unpacked items that fit); masked logits mean it never picks an invalid item
(`invalid_actions` stays 0). The return is the total value packed. Variant `mlp` is the
baseline: an MLP over the flat observation (weights, values, packed flags: float32[150]).

    jaxrl-actions run experiments/jumanji_knapsack.py --sweep variant=attention,mlp --seeds 2
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _jumanji_common beside this file
import envs  # noqa: E402
from _jumanji_common import SET_TORSO, TORSO_VARIANTS  # noqa: E402
from envs.jumanji_heuristics import knapsack_greedy  # noqa: E402
from jaxrl_actions.agents import ppo  # noqa: E402
from jaxrl_actions.cli import main_for  # noqa: E402
from jaxrl_actions.run import Experiment  # noqa: E402
from jaxrl_actions.run.references import random_valid  # noqa: E402

EXPERIMENT = Experiment(
    name="jumanji_knapsack",
    description="Masked PPO on jumanji/Knapsack-v1 vs random valid and greedy value/weight",
    make_env=lambda **kwargs: envs.make("jumanji/Knapsack-v1", **kwargs),
    env_kwargs={"observation": "items"},
    agent=ppo.AGENT,
    config=ppo.PPOConfig(
        # Episodes are short (about 25-30 items) and end by themselves: undiscounted returns.
        total_steps=2_000_000, num_envs=64, rollout_len=32, update_epochs=4, num_minibatches=8,
        **SET_TORSO, activation="relu", lr=3e-4, gamma=1.0, gae_lambda=0.95, ent_coef=0.01,
    ),
    variants=TORSO_VARIANTS,
    references={"random_valid": random_valid, "greedy_value_per_weight": knapsack_greedy},
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
