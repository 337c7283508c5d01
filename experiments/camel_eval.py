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

import envs
from jaxrl_actions.run.evaluate_run import evaluate_run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--task", required=True, help="the MJX task the run trained on (hopper, walker2d, ant)")
    parser.add_argument("--episodes", type=int, default=10)
    args = parser.parse_args(argv)
    result = evaluate_run(args.run_dir, args.episodes, deterministic=True, env=envs.make(args.task))
    for trial in result["trials"]:
        trial["variant"] = trial["hparams"].get("variant")
        print(f"trial {trial['trial']} ({trial['variant']}): {trial['return_mean']:.1f} +- {trial['return_std']:.1f} "
              f"{[round(r, 1) for r in trial['return_per_seed']]}", flush=True)
    out = {"task": args.task, "mask": "none", **result}
    with open(os.path.join(args.run_dir, "eval_unmasked.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {os.path.join(args.run_dir, 'eval_unmasked.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
