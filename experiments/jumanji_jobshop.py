"""Masked PPO on Jumanji's JobShop-v0 (20 jobs of up to 8 operations on 10 machines,
durations 1-6), next to a random valid policy and the shortest-processing-time heuristic
(both in summary.json["references"]).

    pip install -e ".[jumanji]"
    jaxrl-actions run experiments/jumanji_jobshop.py --seeds 2 --out runs/jumanji_jobshop

The action gives every machine a job or the no-op: the adapter exposes Jumanji's
MultiDiscrete([21] * 10) as is, with Jumanji's per-machine mask rows concatenated (exact: a
job's next operation needs one specific machine, so no two machines both see it as valid),
and PPO samples one masked categorical per machine. The agent sees the flat observation
(each operation's machine, duration and scheduled flag, each machine's job and remaining
time: float32[500]) through an MLP (the `mlp` variant of the Knapsack and TSP experiments;
JobShop has no item view); masked logits mean it never picks an invalid job
(`invalid_actions` stays 0). The return is minus the makespan (-1 per time step), or
-960 (Jumanji's penalty, the makespan bound 20 * 8 * 6) on the step every machine is idle
at once, which ends the episode. The heuristic gives each free machine the valid job whose
next operation is shortest (envs/jumanji_heuristics.jobshop_shortest_processing_time).
The default budget, 2.5M env steps per seed, is about 30 minutes for 2 seeds on a 2-core
CPU: a 2-seed run of 60k steps measured 3,150 env steps/s (both seeds together, compiles
excluded, on 2 cores shared with other runs), so about 26 minutes of training, plus about
65 s of compiling and 2.5 minutes for the references (1000 episodes each, scanned over the
960-step bound).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _jumanji_common beside this file
import envs  # noqa: E402
from _jumanji_common import FLAT_MLP  # noqa: E402
from envs.jumanji_heuristics import jobshop_shortest_processing_time  # noqa: E402
from jaxrl_actions.agents import ppo  # noqa: E402
from jaxrl_actions.cli import main_for  # noqa: E402
from jaxrl_actions.run import Experiment  # noqa: E402
from jaxrl_actions.run.references import random_valid  # noqa: E402

EXPERIMENT = Experiment(
    name="jumanji_jobshop",
    description="Masked PPO on jumanji/JobShop-v0 vs random valid and shortest processing time",
    make_env=lambda **kwargs: envs.make("jumanji/JobShop-v0", **kwargs),
    env_kwargs={"observation": "flat"},
    agent=ppo.AGENT,
    config=ppo.PPOConfig(
        # Jumanji's own JobShop training (jumanji/training/configs/env/job_shop.yaml): discount
        # 0.99, GAE 0.95, entropy 0.01. Ours: sizes, lr, the MLP (the Knapsack/TSP `mlp`
        # variant), and reward_scale 0.01, which keeps the -960 penalty and the values of
        # episodes of 60-900 steps near 1 for the clipped value loss.
        total_steps=2_500_000, num_envs=64, rollout_len=64, update_epochs=4, num_minibatches=8,
        **FLAT_MLP, activation="relu",
        lr=3e-4, gamma=0.99, gae_lambda=0.95, ent_coef=0.01, reward_scale=0.01,
    ),
    references={"random_valid": random_valid, "shortest_processing_time": jobshop_shortest_processing_time},
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
