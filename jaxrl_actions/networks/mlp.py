"""Multi-layer perceptrons shared by every agent."""
from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

ACTIVATIONS: dict[str, Callable] = {"tanh": nn.tanh, "relu": nn.relu, "elu": nn.elu, "silu": nn.silu}


def activation(name: str) -> Callable:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def orthogonal(scale: float = np.sqrt(2.0)):
    return nn.initializers.orthogonal(scale)


class MLP(nn.Module):
    """Flattens the trailing observation axes of `x` ([..., *obs_shape]) and applies
    Dense layers. `output_size=None` returns the last hidden features."""

    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    output_size: int | None = None
    output_scale: float = 1.0
    obs_ndim: int = 1  # trailing axes that belong to one observation

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        x = jnp.asarray(x, jnp.float32)
        if self.obs_ndim != 1:
            batch = x.shape[: x.ndim - self.obs_ndim]
            x = x.reshape(batch + (-1,))
        act = activation(self.activation)
        for size in self.hidden_sizes:
            x = act(nn.Dense(size, kernel_init=orthogonal())(x))
        if self.output_size is not None:
            x = nn.Dense(self.output_size, kernel_init=orthogonal(self.output_scale))(x)
        return x
