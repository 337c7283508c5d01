"""What the peer benchmarks (bench_cartpole, bench_dqn, bench_sac) share: compiling a side,
timing the sides interleaved, vmapping over seeds, and writing one JSON.

A *side* is one implementation's training program, compiled ahead of time
(`jax.jit(fn).lower(*args).compile()`, timed as `compile_s`). Its timed calls alternate with
the other side's (ours, peer, ours, peer, ...), each ended by `block_until_ready`, so a
machine shared with other work slows both alike; the JSON keeps every call's time and
reports the median (`wall_s`) and the best (`best_s`). `time_ratio` = ours / peer median.

The leading underscore keeps this file out of `jaxrl-actions list` (not an experiment).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable, NamedTuple, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a script from anywhere

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

PEER_INSTALL = "install the bench extra into its own environment: pip install -e .[bench] (rejax==0.1.3, gymnax==0.0.9)"


class Side(NamedTuple):
    """One implementation, compiled: `run()` is one timed training call; `summary(out)`
    turns its output into the JSON fields besides the timings."""

    compile_s: float
    run: Callable[[], Any]
    summary: Callable[[Any], dict]


def seed_keys(seed: int, seeds: int) -> jax.Array:
    """One PRNG key (`seeds == 0`: unbatched) or `seeds` keys (a batch for vmap). Both
    sides get the same keys."""
    if seeds == 0:
        return jax.random.PRNGKey(seed)
    return jax.random.split(jax.random.PRNGKey(seed), seeds)


def compile_call(fn: Callable, key: jax.Array, batched: bool) -> tuple[float, Callable[[], Any]]:
    """(compile_s, run): `fn(key)` jitted (vmapped over a batch of keys when `batched`)
    and compiled ahead of time; `run()` calls it and waits for the result."""
    fn = jax.vmap(fn) if batched else fn
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(key).compile()
    return time.perf_counter() - start, lambda: jax.block_until_ready(compiled(key))


def time_interleaved(sides: dict[str, Side], repeats: int) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Every side's wall time per call, the sides' calls alternating; and each side's last output."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    last: dict[str, Any] = {}
    for _ in range(repeats):
        for name, side in sides.items():
            start = time.perf_counter()
            last[name] = side.run()
            times[name].append(time.perf_counter() - start)
    return times, last


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages (the machine may be shared)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict:
    return {"device": str(jax.devices()[0]), "backend": jax.default_backend(), "cpu_count": os.cpu_count(),
            "jax": jax.__version__, "python": platform.python_version()}


def evaluate_batched(env, agent, agent_state, key: jax.Array, episodes: int, deterministic: bool,
                     batched: bool) -> np.ndarray:
    """Mean evaluation return per run: float[] (one run) or float[seeds] (a vmapped batch of
    agent states; each seed gets its own evaluation key)."""
    from jaxrl_actions.training.evaluate import evaluation_fn

    fn = evaluation_fn(env, agent, episodes, deterministic)
    if not batched:
        return np.asarray(jnp.mean(fn(agent_state, key)))
    seeds = jax.tree_util.tree_leaves(agent_state)[0].shape[0]
    returns = jax.jit(jax.vmap(fn))(agent_state, jax.random.split(key, seeds))
    return np.asarray(jnp.mean(returns, axis=-1))


def return_fields(per_run: np.ndarray, prefix: str = "final_return") -> dict:
    """`final_return` (mean over seeds) and, for several seeds, the per-seed values and the
    worst seed."""
    per_run = np.atleast_1d(np.asarray(per_run, dtype=np.float64))
    fields = {prefix: float(per_run.mean())}
    if per_run.size > 1:
        fields[f"{prefix}_per_seed"] = [round(float(x), 2) for x in per_run]
        fields[f"{prefix}_min"] = float(per_run.min())
    return fields


def base_parser(description: str, default_out: str, total_steps: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default=default_out)
    parser.add_argument("--total-steps", type=float, default=total_steps)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per side, interleaved; the median is reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=0,
                        help="0: one unbatched run per side; N >= 1: N seeds vmapped in one program on each side")
    return parser


def check_args(parser: argparse.ArgumentParser, args) -> None:
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.seeds < 0:
        parser.error(f"--seeds must be >= 0, got {args.seeds}")


def report(benchmark: str, sides: dict[str, Side], args, hparams: dict, differences: list[str],
           peer: str, extra: Optional[dict] = None) -> dict:
    """Times the sides interleaved and builds the JSON: both sides with their timings and
    summaries, `time_ratio` (ours / peer median wall time), settings, differences, machine."""
    load_before = load()
    times, outputs = time_interleaved(sides, args.repeats)
    result: dict[str, Any] = {"benchmark": benchmark}
    for name, side in sides.items():
        result[name] = {"wall_s": statistics.median(times[name]), "best_s": min(times[name]),
                        "times_s": [round(t, 4) for t in times[name]], "compile_s": side.compile_s,
                        **side.summary(outputs[name])}
    result["time_ratio"] = result["ours"]["wall_s"] / result[peer]["wall_s"]
    result["best_time_ratio"] = result["ours"]["best_s"] / result[peer]["best_s"]
    result.update({"seeds": max(args.seeds, 1), "vmapped": args.seeds > 0, "seed": args.seed,
                   "repeats": args.repeats, "hparams": hparams, "differences": differences,
                   "load_avg_before": load_before, "load_avg_after": load(), **machine(), **(extra or {})})
    return result


def write(result: dict, path: str, keys: tuple = ("ours", "time_ratio")) -> None:
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2, default=_jsonable)
    brief = {k: result[k] for k in result if k in keys or k in ("rejax", "best_time_ratio", "load_avg_after")}
    for side in ("ours", "rejax"):
        if side in brief:
            brief[side] = {k: v for k, v in brief[side].items() if not k.endswith("_per_seed")}
    print(json.dumps(brief, indent=2, default=_jsonable))
    print(f"wrote {path}")


def _jsonable(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, (tuple, np.ndarray)):
        return list(x)
    return str(x)
