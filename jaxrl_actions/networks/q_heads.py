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
    joint_epsilon_greedy(key, greedy, mask, eps) -> (int32[D], explored bool[])   one coin
                                                      for all dimensions (REValueD's code)
    decqn_dimension_epsilon(eps, D)              -> the per-dimension probability of a random
                                                      choice in DecQN's code
    per_critic_double_q(select_u, target_u, mask) -> [B, E]   DecQN's two-critic bootstrap

Torsos of `FactorisedQ` (`torso=`): "mlp" (an MLP of `hidden_sizes`, orthogonal init),
"residual_ln_elu" (DecQN's critic, acme's LayerNormAndResidualMLP(width, num_blocks=1)
then ELU: Dense(W) -> LN(x + Dense(W)(relu(Dense(W)(x)))) -> elu, every Dense with
VarianceScaling(0.333, fan_out, uniform) and zero bias; tseyde/decqn
decqn/agents/dqn/networks.py:20-46, acme/tf/networks/continuous.py), and "residual_relu_ln"
(REValueD's critic: Dense(W) -> x + relu(Dense(W)(relu(Dense(W)(x)))) -> LayerNorm, the
LayerNorm's scale and offset shared by all ensemble members, PyTorch's default
U(+-1/sqrt(fan_in)) init of weights and biases; davidireland3/REValueD
revalued/networks/q_networks.py:56-121, layers.py). The residual torsos have one block of
width W = hidden_sizes[0].
"""
from __future__ import annotations

import math
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


def joint_epsilon_greedy(key: jax.Array, greedy: jax.Array, mask: jax.Array, epsilon) -> tuple[jax.Array, jax.Array]:
    """(int32[D], explored bool[]): with probability `epsilon` every dimension takes a uniform
    choice among its valid entries (a uniformly random joint action), else all keep the
    greedy choice (davidireland3/REValueD revalued/algorithms/revalued.py:68-94)."""
    k_coin, k_pick = jax.random.split(key)
    explored = jax.random.uniform(k_coin) < epsilon
    random = jax.random.categorical(k_pick, jnp.where(mask, 0.0, -jnp.inf), axis=-1).astype(jnp.int32)
    return jnp.where(explored, random, greedy), explored


def decqn_dimension_epsilon(epsilon, num_dims: int) -> jax.Array:
    """The per-dimension probability of a uniform choice in DecQN's code (tseyde/decqn
    decqn/misc/utils.py:125-178): each dimension's categorical puts epsilon / (D K) on every
    bin plus 1 - epsilon on the greedy one, which sums to 1 - epsilon + epsilon / D and is
    renormalised, so a dimension explores with probability
    (epsilon / D) / (1 - epsilon + epsilon / D): epsilon for D = 1, about epsilon / D for small
    epsilon and larger D."""
    share = epsilon / num_dims
    return share / (1.0 - epsilon + share)


def per_critic_double_q(select_u: jax.Array, target_u: jax.Array, mask: Optional[jax.Array]) -> jax.Array:
    """float32[B, E]: DecQN's bootstrap value for each of E critics (tseyde/decqn
    decqn/agents/dqn/learning.py:162-179): critic e picks a*_{e,d} = argmax over valid k of
    its own online U_{e,d}(s', k) (`select_u` [B, E, D, K]); the choice is valued by the mean
    over critics of the target networks' utilities (`target_u` [B, E, D, K]) and averaged over
    dimensions: mean_d mean_e' U'_{e',d}(s', a*_{e,d}). `mask`: [D, K] or [B, D, K] or None."""
    mask = None if mask is None else jnp.expand_dims(mask, -3)  # broadcast over critics
    best = masked_argmax(select_u, mask)  # [B, E, D]
    value = jnp.mean(target_u, axis=-3, keepdims=True)  # [B, 1, D, K]
    return decoupled_q(jnp.broadcast_to(value, select_u.shape), best)


def linear_schedule(start, end, duration, t) -> jax.Array:
    """start -> end linearly over `duration` steps of t, then end."""
    frac = jnp.clip(jnp.asarray(t, jnp.float32) / jnp.maximum(duration, 1.0), 0.0, 1.0)
    return start + frac * (end - start)


# ---------------------------------------------------------------------------------------
# Networks


TORSOS = ("mlp", "residual_ln_elu", "residual_relu_ln")
# acme/tf/networks/continuous.py `_uniform_initializer` (DecQN's critic).
ACME_UNIFORM = nn.initializers.variance_scaling(0.333, "fan_out", "uniform")
LAYER_NORM_EPS = 1e-5  # sonnet's and PyTorch's LayerNorm default


def torch_uniform(fan_in: int):
    """PyTorch's default Linear init for weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)


def torch_dense(features: int, x: jax.Array, name: Optional[str] = None) -> jax.Array:
    fan_in = x.shape[-1]
    return nn.Dense(features, kernel_init=torch_uniform(fan_in), bias_init=torch_uniform(fan_in), name=name)(x)


def _factor_head(features: jax.Array, num_dims: int, bins: int, dueling: bool, dense) -> jax.Array:
    """[..., H] -> utilities [..., D, K] (a dueling head adds a state value to mean-centred
    advantages, Wang et al. 2016); `dense(size, x)` builds each output layer."""
    adv = dense(num_dims * bins, features)
    adv = adv.reshape(adv.shape[:-1] + (num_dims, bins))
    if not dueling:
        return adv
    value = dense(1, features)[..., None]
    return value + adv - jnp.mean(adv, axis=-1, keepdims=True)


class _FactorisedQ(nn.Module):
    """One critic: torso "mlp" or "residual_ln_elu" and its head."""

    num_dims: int
    bins: int
    hidden_sizes: Sequence[int]
    activation: str
    dueling: bool
    torso: str = "mlp"

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        if self.torso == "mlp":
            features = MLP(tuple(self.hidden_sizes), self.activation)(obs)
            return _factor_head(features, self.num_dims, self.bins, self.dueling,
                                lambda n, x: nn.Dense(n, kernel_init=orthogonal(1.0))(x))
        width = self.hidden_sizes[0]
        dense = lambda n, x: nn.Dense(n, kernel_init=ACME_UNIFORM)(x)  # noqa: E731
        x = dense(width, obs)  # acme: snt.nets.MLP([W]), no activation
        h = dense(width, nn.relu(dense(width, x)))  # snt.nets.MLP([W, W]): relu between, none after
        x = nn.elu(nn.LayerNorm(epsilon=LAYER_NORM_EPS)(x + h))  # ResidualLayernormWrapper, then tf.nn.elu
        return _factor_head(x, self.num_dims, self.bins, self.dueling, dense)


class _ResidualReLU(nn.Module):
    """REValueD's pre-LayerNorm torso: Dense(W) -> x + relu(Dense(relu(Dense(x))))."""

    width: int

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = torch_dense(self.width, obs)
        return x + nn.relu(torch_dense(self.width, nn.relu(torch_dense(self.width, x))))


class _Head(nn.Module):
    num_dims: int
    bins: int
    dueling: bool

    @nn.compact
    def __call__(self, features: jax.Array) -> jax.Array:
        return _factor_head(features, self.num_dims, self.bins, self.dueling, lambda n, x: torch_dense(n, x))


class FactorisedQ(nn.Module):
    """`num_critics` independent critics (parameters stacked on axis 0; with
    "residual_relu_ln" the LayerNorm is shared) giving utilities
    float32[..., num_critics, num_dims, bins] for observations [..., obs_dim]."""

    num_dims: int
    bins: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    dueling: bool = False
    num_critics: int = 1
    torso: str = "mlp"

    def _members(self, module, in_axes):
        return nn.vmap(module, variable_axes={"params": 0}, split_rngs={"params": True},
                       in_axes=in_axes, out_axes=-3 if module is not _ResidualReLU else -2,
                       axis_size=self.num_critics)

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        if self.torso not in TORSOS:
            raise ValueError(f"unknown torso {self.torso!r}; choose one of {TORSOS}")
        if self.torso != "residual_relu_ln":
            ensemble = self._members(_FactorisedQ, None)
            return ensemble(self.num_dims, self.bins, tuple(self.hidden_sizes), self.activation, self.dueling,
                            self.torso)(obs)
        features = self._members(_ResidualReLU, None)(self.hidden_sizes[0])(obs)  # [..., E, W]
        # One nn.LayerNorm(W) applied to all members at once in the authors' code: shared affine.
        features = nn.LayerNorm(epsilon=LAYER_NORM_EPS)(features)
        return self._members(_Head, -2)(self.num_dims, self.bins, self.dueling)(features)
