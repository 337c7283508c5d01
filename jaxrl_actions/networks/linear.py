"""Linear-architecture pieces of the papers that use them: PyTorch's default `nn.Linear`
initialisation and the Fourier basis of Konidaris et al. (2011) as Chandak et al.'s and
Akkerman et al.'s code computes it.

    TorchLinear(features)(x)                      [..., in] -> [..., features]
    fourier_features(obs, low, high, order)       [..., D] -> [..., D * order]
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def _uniform(bound: float):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class TorchLinear(nn.Module):
    """A Dense layer initialised as torch.nn.Linear: weights and biases uniform in
    +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)), so a port of PyTorch code starts
    from the same distribution."""

    features: int

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        bound = 1.0 / np.sqrt(x.shape[-1])
        return nn.Dense(self.features, kernel_init=_uniform(bound), bias_init=_uniform(bound))(x)


def fourier_features(obs: jnp.ndarray, low: np.ndarray, high: np.ndarray, order: int) -> jnp.ndarray:
    """The uncoupled cosine Fourier basis without a constant term: x = (obs - low) / (high -
    low), then cos(pi k x_d) for every dimension d and k = 1..order, dimension-major:
    [..., D] -> [..., D * order] (`Src/Utils/Basis.py`, `Fourier_Basis.uncoupled` of
    tumBAIS/dynamicNeighborhoodConstruction). As there, the state is not normalised when some
    high - low exceeds 1e3 (`Basis.flag`), and values outside [low, high] are not clipped."""
    low, high = np.asarray(low, np.float32), np.asarray(high, np.float32)
    x = jnp.asarray(obs, jnp.float32)
    if not np.any(high - low > 1e3):
        x = (x - low) / (high - low)
    k = jnp.arange(1, int(order) + 1, dtype=jnp.float32)
    basis = jnp.cos(jnp.pi * x[..., :, None] * k)  # [..., D, order]
    return basis.reshape(basis.shape[:-2] + (-1,))
