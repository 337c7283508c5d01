"""Benchmark: the torso's convolution as `PatchConv` (image patches times a matrix) against
flax's `nn.Conv`, where a training loop runs it: inside `lax.scan`.

    python experiments/bench_conv.py --out runs/bench_conv.json [--repeats 3]

Two programs, each timed both ways (ahead-of-time compiled, calls interleaved, median):
  minibatches  8 Adam steps of the 10x10 µRTS policy CNN (conv 16x3, conv 32x3, dense 128,
               78 outputs; batch 256 of [10, 10, 27]) in one `lax.scan`, as PPO's epochs run
  ppo_update   one PPO update of experiments/masking_study.py on MicrortsMining 10x10 (a
               2048-step rollout, 10 epochs x 8 minibatches, the policy and value CNNs)
`time_ratio` = PatchConv / nn.Conv. Outside a loop the two are within 2x of each other;
inside one, XLA:CPU's gradient of `lax.conv` falls far behind. On the 2-core CPU machine,
shared with two trainings (`docs/bench/conv_in_scan.json`): minibatches 0.42 s against
6.78 s (ratio 0.063), ppo_update 10.5 s against 137.7 s (0.077).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a script from anywhere
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # beside this file

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

import _bench_common as bench  # noqa: E402
from jaxrl_actions.networks import mlp  # noqa: E402

CONV_LAYERS = ((16, 3, 1), (32, 3, 1))  # invalid_action_masking/ppo_10x10.py


class LaxConv(nn.Module):
    """`PatchConv`'s interface over flax's nn.Conv (valid padding, stride 1)."""

    features: int
    kernel_size: int
    kernel_init: object = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x):
        return nn.Conv(self.features, (self.kernel_size,) * 2, padding="VALID", kernel_init=self.kernel_init)(x)


def with_conv(conv_cls, build):
    """`build()` with the torso's convolution swapped for `conv_cls` while it traces."""
    original = mlp.PatchConv
    mlp.PatchConv = conv_cls
    try:
        return build()
    finally:
        mlp.PatchConv = original


def minibatches_program():
    net = mlp.MLP(hidden_sizes=(128,), activation="relu", output_size=78, obs_ndim=3, conv_layers=CONV_LAYERS)
    obs = jax.random.normal(jax.random.key(0), (8, 256, 10, 10, 27))
    params = net.init(jax.random.key(1), obs[0, :1])
    optimizer = optax.adam(3e-4)

    def step(carry, batch):
        p, o = carry
        grads = jax.grad(lambda p: jnp.sum(net.apply(p, batch) ** 2))(p)
        updates, o = optimizer.update(grads, o, p)
        return (optax.apply_updates(p, updates), o), None

    compiled = jax.jit(lambda p, o, x: jax.lax.scan(step, (p, o), x)[0]).lower(
        params, optimizer.init(params), obs).compile()
    return lambda: jax.block_until_ready(compiled(params, optimizer.init(params), obs))


def ppo_update_program():
    import masking_study as study
    from jaxrl_actions.training import make_trainer

    config = study.variant_config("masking", 10, 2048)
    trainer = make_trainer(study.make_env("masking", 10), study.ppo.AGENT, config)
    carry = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    compiled = jax.jit(lambda c: trainer.update(c)[0].agent_state.params).lower(carry).compile()
    return lambda: jax.block_until_ready(compiled(carry))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/bench_conv.json")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    results = {}
    for name, program in (("minibatches", minibatches_program), ("ppo_update", ppo_update_program)):
        runs = {"patch_conv": with_conv(mlp.PatchConv, program), "nn_conv": with_conv(LaxConv, program)}
        sides = {side: bench.Side(0.0, run, lambda _: {}) for side, run in runs.items()}
        times, _ = bench.time_interleaved(sides, args.repeats)
        medians = {side: statistics.median(t) for side, t in times.items()}
        results[name] = {"wall_s": medians, "times_s": times, "time_ratio": medians["patch_conv"] / medians["nn_conv"]}
        print(f"{name}: PatchConv {medians['patch_conv']:.3f} s, nn.Conv {medians['nn_conv']:.3f} s, "
              f"ratio {results[name]['time_ratio']:.3f}", flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"benchmark": "conv_in_scan", "machine": bench.machine(), "load": bench.load(),
                   "repeats": args.repeats, "results": results}, f, indent=1)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
