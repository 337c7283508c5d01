"""Masked PPO on Jumanji's BinPack-v2 (3D bin packing: up to 20 items cut from one
container, 40 empty maximal spaces (EMSs) in view), next to a random valid policy and a
first-fit-decreasing heuristic (both in summary.json["references"]).

    pip install -e ".[jumanji]"
    jaxrl-actions run experiments/jumanji_binpack.py --seeds 2 --out runs/jumanji_binpack

The action is an (EMS, item) pair: the adapter exposes Jumanji's MultiDiscrete([40, 20]) as
Discrete(800) over the flattened product (index ems * 20 + item) with Jumanji's joint mask
flattened, so the mask is exact (a per-component mask would admit items that fit no chosen
space). The agent sees the flat observation (the EMSs' corners, their mask, the items'
sizes, item mask and placed flags, all in container units: float32[380]) through an MLP
(the `mlp` variant of the Knapsack and TSP experiments; BinPack has no item view); masked
logits mean it never picks an invalid pair (`invalid_actions` stays 0). The return is the
volume utilisation of the container (Jumanji's dense reward: each packed item's volume as a
fraction of the container's), at most 1 (the items tile the container). The heuristic packs
the largest item that fits anywhere into the first (largest) EMS that holds it
(envs/jumanji_heuristics.binpack_largest_first_fit). The default budget, 1.5M env steps
per seed, is about 30 minutes for 2 seeds on a 2-core CPU: a 2-seed run of 40k steps
measured 1,900 env steps/s (both seeds together, compiles excluded, on 2 cores shared with
other runs; Jumanji's BinPack step dominates), so about 26 minutes of training, plus about
75 s of compiling and 2 minutes for the references.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _jumanji_common beside this file
import envs  # noqa: E402
from _jumanji_common import FLAT_MLP  # noqa: E402
from envs.jumanji_heuristics import binpack_largest_first_fit  # noqa: E402
from jaxrl_actions.agents import ppo  # noqa: E402
from jaxrl_actions.cli import main_for  # noqa: E402
from jaxrl_actions.run import Experiment  # noqa: E402
from jaxrl_actions.run.references import random_valid  # noqa: E402

EXPERIMENT = Experiment(
    name="jumanji_binpack",
    description="Masked PPO on jumanji/BinPack-v2 vs random valid and first-fit decreasing",
    make_env=lambda **kwargs: envs.make("jumanji/BinPack-v2", **kwargs),
    env_kwargs={"observation": "flat"},
    agent=ppo.AGENT,
    config=ppo.PPOConfig(
        # Episodes end by themselves within 20 steps (one item each): undiscounted returns, as
        # Jumanji's own BinPack training (jumanji/training/configs/env/bin_pack.yaml: discount
        # 1.0, GAE 0.95, entropy 0.005). Sizes, lr and the MLP (the Knapsack/TSP `mlp` variant)
        # are ours.
        total_steps=1_500_000, num_envs=64, rollout_len=20, update_epochs=4, num_minibatches=4,
        **FLAT_MLP, activation="relu",
        lr=3e-4, gamma=1.0, gae_lambda=0.95, ent_coef=0.005,
    ),
    references={"random_valid": random_valid, "first_fit_decreasing": binpack_largest_first_fit},
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
