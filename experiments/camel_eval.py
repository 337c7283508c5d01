"""Greedy returns of a CAMEL run's trained policies on the task WITHOUT any mask (the paper's
agent ends unconstrained once epsilon-masking has lifted the mask), next to `jaxrl-actions eval`,
which evaluates in the run's own env (for masked variants: the mask at its first schedule
step, i.e. on).

    python experiments/camel_eval.py RUN_DIR --task hopper [--episodes 10]

Writes RUN_DIR/eval_unmasked.json: per trial, the variant, the mean and per-seed returns.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

import envs
from jaxrl_actions.run.evaluate_run import trained_policy


def episode_returns(env, policy, key, episodes: int) -> np.ndarray:
    def one(k):
        state, ts = env.reset(k)

        def body(carry, k_step):
            state, ts, total, alive = carry
            state, ts = env.step(k_step, state, policy(ts.obs))
            total = total + alive * ts.reward
            return (state, ts, total, alive * (1.0 - (ts.terminated | ts.truncated))), None

        steps = env.spec.max_episode_steps
        (_, _, total, _), _ = jax.lax.scan(body, (state, ts, 0.0, 1.0), jax.random.split(k, steps))
        return total

    return np.asarray(jax.jit(jax.vmap(one))(jax.random.split(key, episodes)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--task", required=True, help="the MJX task the run trained on (hopper, walker2d, ant)")
    parser.add_argument("--episodes", type=int, default=10)
    args = parser.parse_args(argv)
    config = json.load(open(os.path.join(args.run_dir, "config.json")))
    env = envs.make(args.task)
    results = []
    for trial in config["trials"]:
        per_seed = []
        for seed_index in range(len(config["seeds"])):
            policy = trained_policy(args.run_dir, trial=trial["trial"], seed_index=seed_index)
            returns = episode_returns(env, policy, jax.random.PRNGKey(seed_index), args.episodes)
            per_seed.append(float(returns.mean()))
        results.append({"trial": trial["trial"], "variant": trial.get("variant"), "return_mean": float(np.mean(per_seed)),
                        "return_std": float(np.std(per_seed)), "return_per_seed": per_seed})
        print(f"trial {trial['trial']} ({trial.get('variant')}): {np.mean(per_seed):.1f} +- {np.std(per_seed):.1f} "
              f"{[round(r, 1) for r in per_seed]}", flush=True)
    out = {"task": args.task, "episodes": args.episodes, "deterministic": True, "mask": "none", "trials": results}
    with open(os.path.join(args.run_dir, "eval_unmasked.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {os.path.join(args.run_dir, 'eval_unmasked.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
