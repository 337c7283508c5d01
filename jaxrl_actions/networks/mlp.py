"""Multi-layer perceptrons shared by every agent."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS: dict[str, Callable] = {"tanh": nn.tanh, "relu": nn.relu, "elu": nn.elu, "silu": nn.silu}


def activation(name: str) -> Callable:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _orthonormal_columns(a: jnp.ndarray) -> jnp.ndarray:
    """Gram-Schmidt on the columns of a [m, k] (m >= k): the Q of a = QR with R's diagonal
    positive. Each column is projected twice (classical Gram-Schmidt re-orthogonalised),
    accurate to float32 rounding for the Gaussian matrices an initializer draws."""
    k = a.shape[1]

    def orthonormalise_column(j, q):
        earlier = (jnp.arange(k) < j).astype(q.dtype)  # columns already orthonormal
        v = q[:, j]
        for _ in range(2):
            v = v - q @ ((q.T @ v) * earlier)
        return q.at[:, j].set(v / jnp.linalg.norm(v))

    return jax.lax.fori_loop(0, k, orthonormalise_column, a)


def orthogonal(scale: float = np.sqrt(2.0), column_axis: int = -1):
    """Orthogonal kernel initializer with the law of `nn.initializers.orthogonal` (the same
    values, to float32 rounding, for the same key), computed without LAPACK.

    Hand-written because jaxlib 0.10's CPU QR kernels (geqrf/orgqr custom calls) split a
    batched QR over the intra-op thread pool and block a pool thread while they wait; with
    `vmap(train)` over seeds every Dense layer's init is a batched QR, so on a 2-core machine
    two of them running at once deadlock the program (tests/test_no_deadlock.py)."""

    def init(key, shape, dtype=jnp.float32):
        n_cols = shape[column_axis]
        n_rows = math.prod(shape) // n_cols
        tall = (max(n_rows, n_cols), min(n_rows, n_cols))
        q = _orthonormal_columns(jax.random.normal(key, tall, dtype))
        if n_rows < n_cols:
            q = q.T
        q = jnp.reshape(q, tuple(np.delete(shape, column_axis)) + (n_cols,))
        return scale * jnp.moveaxis(q, -1, column_axis)

    return init


class MLP(nn.Module):
    """Flattens the trailing observation axes of `x` ([..., *obs_shape]) and applies
    Dense layers. `output_size=None` returns the last hidden features.

    `conv_layers`: for image observations ([..., H, W, C], obs_ndim 3), convolutions applied
    first, each (features, kernel size, max-pool window or 1): valid padding, stride 1,
    then pooling, then the ReLU (the order of Huang & Ontañón's µRTS networks)."""

    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    output_size: int | None = None
    output_scale: float = 1.0
    obs_ndim: int = 1  # trailing axes that belong to one observation
    conv_layers: Sequence[tuple] = ()

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        x = jnp.asarray(x, jnp.float32)
        if self.conv_layers and self.obs_ndim != 3:
            raise ValueError(f"conv_layers need [H, W, C] observations (obs_ndim 3), got obs_ndim={self.obs_ndim}")
        for features, kernel, pool in self.conv_layers:
            x = nn.Conv(features, (kernel, kernel), padding="VALID", kernel_init=orthogonal())(x)
            if pool > 1:
                x = nn.max_pool(x, (pool, pool), strides=(pool, pool))
            x = nn.relu(x)
        if self.obs_ndim != 1:
            batch = x.shape[: x.ndim - self.obs_ndim]
            x = x.reshape(batch + (-1,))
        act = activation(self.activation)
        for size in self.hidden_sizes:
            x = act(nn.Dense(size, kernel_init=orthogonal())(x))
        if self.output_size is not None:
            x = nn.Dense(self.output_size, kernel_init=orthogonal(self.output_scale))(x)
        return x
