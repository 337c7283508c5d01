"""Benchmark: what do many vmapped seeds cost next to one? PPO on CartPole, same machine.

    python experiments/bench_sweep.py --seeds 64 --out bench_sweep.json [--total-steps 1e5]

Runs the `ppo_cartpole` experiment (or `--experiment FILE`) once with 1 seed and once with
N seeds in one vmapped program, and writes JSON:

    {"one_seed_s", "many_seeds_s", "seeds", "cost_ratio" (= many / one),
     "one_seed_compile_s", "many_seeds_compile_s", "env_steps", "device", ...}

Times are the runner's `train_s`: the compiled chunks only (compile timed separately,
logging and checkpoints excluded). The whole run is one chunk, so host work is minimal.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", default=os.path.join(HERE, "ppo_cartpole.py"))
    parser.add_argument("--seeds", type=int, default=64)
    parser.add_argument("--total-steps", type=float, default=None)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default="bench_sweep.json", help="JSON file, or a directory for bench_sweep.json")
    args = parser.parse_args(argv)

    import jax

    from jaxrl_actions.run.experiment import load_experiment, parse_assignment
    from jaxrl_actions.run.runner import run_experiment

    if not os.path.isfile(args.experiment):
        print(f"error: {args.experiment} does not exist (PPO CartPole experiment not written yet?)", file=sys.stderr)
        return 2
    experiment, source = load_experiment(args.experiment)
    overrides = dict(parse_assignment(s) for s in args.sets)
    total = int(args.total_steps) if args.total_steps else None

    def timed(seeds: int) -> dict:
        with tempfile.TemporaryDirectory() as tmp:
            return run_experiment(experiment, seeds=seeds, overrides=overrides, total_steps=total, chunks=1,
                                  checkpoint_every=0, keep_checkpoints=1, out=os.path.join(tmp, "run"),
                                  quiet=True, plot=False, source=source)

    one, many = timed(1), timed(args.seeds)
    result = {
        "experiment": experiment.name,
        "env_steps": one["env_steps"],
        "seeds": args.seeds,
        "one_seed_s": one["train_s"],
        "many_seeds_s": many["train_s"],
        "cost_ratio": many["train_s"] / one["train_s"],
        "one_seed_compile_s": one["compile_s"],
        "many_seeds_compile_s": many["compile_s"],
        "one_seed_steps_per_s": one["steps_per_s"],
        "many_seeds_steps_per_s": many["steps_per_s"],
        "one_seed_final_return": one["trials"][0]["final_return_mean"],
        "many_seeds_final_return": many["trials"][0]["final_return_mean"],
        "device": f"{jax.default_backend()}: {jax.devices()[0].device_kind} x {jax.device_count()}",
    }
    out = args.out if args.out.endswith(".json") else os.path.join(args.out, "bench_sweep.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
