"""Env-step throughput: the DMC tasks from MuJoCo Playground next to brax's own MJX envs,
through our adapters, on whatever device JAX finds (a CPU unless told otherwise).

    python experiments/bench_dmc.py --out runs/bench_dmc.json
    python experiments/bench_dmc.py --envs dmc/cheetah_run hopper --num-envs 1 256 --steps 200

For each env and each batch size N: one compiled `jit(scan(vmap(step)))` of `--steps` steps
of N envs from N resets, with uniform random actions drawn inside the scan (no auto-reset,
no policy). `compile_s` is its ahead-of-time compile; `steps_per_s` = N * steps / seconds of
the fastest of `--repeats` timed calls after a warm-up call. An env step is one control
step: `substeps` physics steps of `control_dt / substeps` seconds (recorded per env, since
brax and playground cut simulated time differently). The machine's load average is recorded
too: on a shared CPU the numbers move with it. Needs the dmc extra for dmc/* envs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a script from anywhere

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

DEFAULT_ENVS = ("dmc/cartpole_swingup", "dmc/walker_walk", "inverted_pendulum", "hopper")


def physics_info(env) -> dict:
    """Control step length and physics steps per env step, from either adapter."""
    if hasattr(env, "pg_env"):  # PlaygroundEnv
        return {"adapter": "playground", "impl": env.impl, "control_dt": float(env.pg_env.dt),
                "substeps": int(env.pg_env.n_substeps), "action_repeat": env.action_repeat}
    brax_env = env.brax_env  # BraxEnv
    return {"adapter": "brax", "impl": brax_env.backend, "control_dt": float(brax_env.dt),
            "substeps": int(getattr(brax_env, "_n_frames", 1)), "action_repeat": 1}


def rollout_fn(env, num_envs: int, steps: int):
    """run(key) -> (summed reward, summed last observation): `steps` batched steps of
    `num_envs` envs from their resets. The last observation depends on every step's
    physics, so XLA cannot drop steps whose reward is constant (inverted_pendulum's is 1)."""
    space = env.spec.action_space

    def run(key):
        k_reset, k_steps = jax.random.split(key)
        state, first = jax.vmap(env.reset)(jax.random.split(k_reset, num_envs))

        def body(carry, key):
            state, _ = carry
            k_action, k_env = jax.random.split(key)
            actions = jax.random.uniform(k_action, (num_envs,) + space.shape, minval=space.low, maxval=space.high)
            state, ts = jax.vmap(env.step)(jax.random.split(k_env, num_envs), state, actions)
            return (state, ts.obs), ts.reward.sum()

        (_, last_obs), rewards = jax.lax.scan(body, (state, first.obs), jax.random.split(k_steps, steps))
        return rewards.sum(), last_obs.sum()  # scalars keep the timed call's transfer negligible

    return run


def measure(env, num_envs: int, steps: int, repeats: int) -> dict:
    key = jax.random.key(0)
    start = time.perf_counter()
    compiled = jax.jit(rollout_fn(env, num_envs, steps)).lower(key).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(compiled(key))  # warm-up
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(compiled(jax.random.key(i + 1)))
        times.append(time.perf_counter() - t)
    return {"num_envs": num_envs, "steps": steps, "compile_s": compile_s, "call_s": times,
            "steps_per_s": num_envs * steps / min(times)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/bench_dmc.json")
    parser.add_argument("--envs", nargs="+", default=list(DEFAULT_ENVS))
    parser.add_argument("--num-envs", nargs="+", type=int, default=[1, 64])
    parser.add_argument("--steps", type=int, default=500, help="scan length per timed call")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    import envs

    result = {"benchmark": "dmc_env_steps", "device": str(jax.devices()[0]), "jax": jax.__version__,
              "python": platform.python_version(), "cpu_count": os.cpu_count(),
              "loadavg_start": os.getloadavg(), "results": []}
    for name in args.envs:
        env = envs.make(name)
        for n in args.num_envs:
            row = {"env": name, **physics_info(env), "obs_size": env.spec.obs_space.shape[0],
                   "action_size": env.spec.action_space.shape[0], **measure(env, n, args.steps, args.repeats)}
            row["loadavg"] = os.getloadavg()
            result["results"].append(row)
            print(f"[bench_dmc] {name:22s} N={n:<4d} {row['steps_per_s']:10.0f} steps/s  "
                  f"compile {row['compile_s']:.1f}s  ({row['substeps']} x {row['control_dt'] / row['substeps']:g} s "
                  f"physics steps per env step)", flush=True)
    if os.path.dirname(args.out):
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"[bench_dmc] wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
