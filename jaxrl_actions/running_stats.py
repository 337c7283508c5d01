"""Running mean / variance of a stream of batches (parallel Welford: Chan et al.'s merge of
two sets' moments), as a pure pytree. Used by `wrappers.NormalizeObs` and by agent-side
observation normalisers.

    stats = init(obs_shape)
    stats = update(stats, batch)        # batch: [*batch_axes, *obs_shape]
    y = normalize(stats, x, clip=10.0)  # x: [..., *obs_shape]
"""
from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp
from flax import struct

Array = jax.Array


@struct.dataclass
class RunningStats:
    mean: Array  # float32[*shape]
    var: Array  # float32[*shape] population variance of everything seen so far
    count: Array  # float32[] number of samples seen


def init(shape: Sequence[int]) -> RunningStats:
    """No data yet: mean 0, var 1, so `normalize` is the identity until the first update."""
    shape = tuple(int(s) for s in shape)
    return RunningStats(jnp.zeros(shape, jnp.float32), jnp.ones(shape, jnp.float32), jnp.float32(0.0))


def update(stats: RunningStats, batch: Array) -> RunningStats:
    """Merges the moments of `batch` ([*batch_axes, *shape]; any number of leading batch
    axes, zero included) into `stats`. Exact up to float rounding: after updates with
    batches b1, b2, ... the result equals the moments of their concatenation."""
    batch = jnp.asarray(batch, jnp.float32)
    n_batch_axes = batch.ndim - stats.mean.ndim
    if n_batch_axes < 0 or batch.shape[n_batch_axes:] != stats.mean.shape:
        raise ValueError(
            f"running_stats.update: batch shape {batch.shape} must end with the stats shape {stats.mean.shape}"
        )
    axes = tuple(range(n_batch_axes))
    n = jnp.float32(math.prod(batch.shape[:n_batch_axes]))  # static sample count (1 with no batch axes)
    batch_mean = jnp.mean(batch, axis=axes)
    batch_var = jnp.var(batch, axis=axes)
    total = stats.count + n
    delta = batch_mean - stats.mean
    mean = stats.mean + delta * (n / total)
    # Sum of squared deviations of the union = both sums + the between-set term.
    m2 = stats.var * stats.count + batch_var * n + jnp.square(delta) * (stats.count * n / total)
    return RunningStats(mean=mean, var=m2 / total, count=total)


def normalize(stats: RunningStats, x: Array, clip: float = 10.0, eps: float = 1e-8) -> Array:
    """(x - mean) / sqrt(var + eps), clipped to [-clip, clip]; x: [..., *shape]."""
    y = (jnp.asarray(x, jnp.float32) - stats.mean) / jnp.sqrt(stats.var + eps)
    return jnp.clip(y, -clip, clip)
