"""Q-value heads and the masked greedy pieces every value-based agent shares.

Every value-based agent (DQN, DecQN, REValueD, CQN's levels) sees its Q-values in one
*factorised* layout: an ensemble of E critics, each giving D action dimensions of K
utilities,

    FactorisedQ(obs [..., obs_dim]) -> utilities float32[..., E, D, K]
    Q(s, a) = mean over d of U_d(s, a_d)          (`decoupled_q`; DecQN's decomposition)

A flat Discrete(n) space is the case D = 1, K = n, so DQN is one point of this family and
the greedy/bootstrap code is written once. Masks use the same layout: `factor_mask(space,
mask)` -> bool[D, K] (dimensions with fewer than K choices are padded with False).

    masked_argmax(u [..., K], mask [..., K] | None) -> int32[...]   never an invalid entry
    masked_max(u, mask)                              -> float32[...] max over valid entries
    epsilon_greedy(key, greedy [D], mask [D, K], eps) -> int32[D]   per-dimension random
                                                                      choice among valid ones
"""
from __future__ import annotations

from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_actions import spaces
from jaxrl_actions.networks.heads import MASKED_LOGIT
from jaxrl_actions.networks.mlp import MLP, orthogonal


# ---------------------------------------------------------------------------------------
# Action layout


def factor_shape(space: spaces.Space) -> tuple[int, int]:
    """(D, K) of a Discrete or MultiDiscrete space; other spaces raise a ValueError."""
    if isinstance(space, spaces.Discrete):
        return 1, space.n
    if isinstance(space, spaces.MultiDiscrete):
        return len(space.nvec), max(space.nvec)
    raise ValueError(f"value-based agents need a Discrete or MultiDiscrete action space, got {space!r}")


def factor_mask(space: spaces.Space, mask: Optional[jax.Array]) -> jax.Array:
    """bool[D, K] mask in the factorised layout (all True inside each dimension's range
    when `mask` is None; padded entries of shorter dimensions are always False)."""
    spaces.check_mask(space, mask, "Q-head")
    num_dims, bins = factor_shape(space)
    nvec = (space.n,) if isinstance(space, spaces.Discrete) else space.nvec
    in_range = jnp.asarray(np.arange(bins)[None, :] < np.asarray(nvec)[:, None])  # [D, K]
    if mask is None:
        return in_range
    if isinstance(space, spaces.Discrete):
        return mask.reshape(1, bins) & in_range
    parts = [jnp.pad(m, (0, bins - n)) for m, n in zip(space.split_mask(mask), nvec)]
    return jnp.stack(parts) & in_range


def to_space_action(space: spaces.Space, factors: jax.Array) -> jax.Array:
    """int32[D] factorised choice -> the space's action (a scalar for Discrete)."""
    factors = factors.astype(jnp.int32)
    return factors[0] if isinstance(space, spaces.Discrete) else factors


def from_space_action(space: spaces.Space, action: jax.Array) -> jax.Array:
    """The space's action [...] (or [..., D]) -> int32[..., D]."""
    action = jnp.asarray(action, jnp.int32)
    return action[..., None] if isinstance(space, spaces.Discrete) else action


# ---------------------------------------------------------------------------------------
# Masked greedy operations


def mask_values(values: jax.Array, mask: Optional[jax.Array]) -> jax.Array:
    """Invalid entries replaced by a large negative constant (never chosen by a max)."""
    return values if mask is None else jnp.where(mask, values, MASKED_LOGIT)


def masked_argmax(values: jax.Array, mask: Optional[jax.Array]) -> jax.Array:
    """int32[...]: argmax over the last axis among valid entries."""
    return jnp.argmax(mask_values(values, mask), axis=-1).astype(jnp.int32)


def masked_max(values: jax.Array, mask: Optional[jax.Array]) -> jax.Array:
    """float32[...]: max over the last axis among valid entries."""
    return jnp.max(mask_values(values, mask), axis=-1)


def gather(values: jax.Array, index: jax.Array) -> jax.Array:
    """values[..., K], index int[...] -> values[..., index]."""
    return jnp.take_along_axis(values, index[..., None].astype(jnp.int32), axis=-1)[..., 0]


def decoupled_q(utilities: jax.Array, factors: jax.Array) -> jax.Array:
    """Q(s, a) = mean_d U_d(s, a_d): utilities [..., D, K], factors int[..., D] -> [...]."""
    return jnp.mean(gather(utilities, factors), axis=-1)


def epsilon_greedy(key: jax.Array, greedy: jax.Array, mask: jax.Array, epsilon) -> jax.Array:
    """int32[D]: each dimension independently keeps its greedy choice, or with probability
    `epsilon` takes a uniform choice among its valid entries (mask bool[D, K])."""
    k_coin, k_pick = jax.random.split(key)
    explore = jax.random.uniform(k_coin, greedy.shape) < epsilon
    random = jax.random.categorical(k_pick, jnp.where(mask, 0.0, -jnp.inf), axis=-1).astype(jnp.int32)
    return jnp.where(explore, random, greedy)


def linear_schedule(start, end, duration, t) -> jax.Array:
    """start -> end linearly over `duration` steps of t, then end."""
    frac = jnp.clip(jnp.asarray(t, jnp.float32) / jnp.maximum(duration, 1.0), 0.0, 1.0)
    return start + frac * (end - start)


# ---------------------------------------------------------------------------------------
# Networks


class _FactorisedQ(nn.Module):
    num_dims: int
    bins: int
    hidden_sizes: Sequence[int]
    activation: str
    dueling: bool

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        features = MLP(tuple(self.hidden_sizes), self.activation)(obs)
        adv = nn.Dense(self.num_dims * self.bins, kernel_init=orthogonal(1.0))(features)
        adv = adv.reshape(adv.shape[:-1] + (self.num_dims, self.bins))
        if not self.dueling:
            return adv
        # Dueling (Wang et al. 2016): a shared state value plus mean-centred advantages.
        value = nn.Dense(1, kernel_init=orthogonal(1.0))(features)[..., None]
        return value + adv - jnp.mean(adv, axis=-1, keepdims=True)


class FactorisedQ(nn.Module):
    """`num_critics` independent MLPs (parameters stacked on axis 0) giving utilities
    float32[..., num_critics, num_dims, bins] for observations [..., obs_dim]."""

    num_dims: int
    bins: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    dueling: bool = False
    num_critics: int = 1

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        ensemble = nn.vmap(
            _FactorisedQ, variable_axes={"params": 0}, split_rngs={"params": True},
            in_axes=None, out_axes=-3, axis_size=self.num_critics,
        )
        return ensemble(self.num_dims, self.bins, tuple(self.hidden_sizes), self.activation, self.dueling)(obs)
