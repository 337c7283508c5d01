"""Pieces the continuous-action actor-critic agents (SAC, REDQ, TD3/DDPG) share.

Actions and masks. A policy produces a *unit* action u in [-1, 1]^d; `squash_to_bounds`
maps it affinely into [low, high], the action space's bounds or, when the TimeStep
carries a state-dependent Box mask `(low, high)`, the mask's. So every action `act`
returns lies inside the mask. Critics see the env action rescaled by the (static) space
bounds to [-1, 1] (`critic_action`), so a narrowed mask changes the action, not its units.

Log-probabilities (SAC) are those of the tanh-squashed unit action: the affine map to
[low, high] only adds a state-dependent constant, which would make the entropy target
depend on the mask width (a narrow mask could never reach it).

Networks work on any leading batch axes:

    GaussianActor(obs [..., *obs_shape]) -> (mean [..., d], log_std [..., d])
    DeterministicActor(obs)              -> unit action [..., d]
    QEnsemble(obs, action [..., d])      -> Q-values [..., num_critics]

Optimisers are Adam (or AdamW, with a weight decay) with optional global-norm clipping,
built by `optax.inject_hyperparams` so learning rates are pytree leaves of the optimiser
state (and `vmap` sweeps them). Weight initialisations are named (`networks.mlp.INITS`).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jaxrl_actions import running_stats
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.networks.mlp import MLP, check_init, dense
from jaxrl_actions.spaces import Box
from jaxrl_actions.training.config import OffPolicyConfig


# ---------------------------------------------------------------------------------------
# Config fields of the soft actor-critics (SAC, REDQ, discrete SAC)


@struct.dataclass
class SoftActorCriticConfig(OffPolicyConfig):
    # structure (static)
    actor_hidden: Sequence[int] = struct.field(pytree_node=False, default=(256, 256))
    critic_hidden: Sequence[int] = struct.field(pytree_node=False, default=(256, 256))
    activation: str = struct.field(pytree_node=False, default="relu")
    autotune_alpha: bool = struct.field(pytree_node=False, default=True)
    weight_init: str = struct.field(pytree_node=False, default="orthogonal")  # networks.mlp.INITS
    # hyper-parameters (pytree leaves: vmap sweeps them)
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    init_alpha: float = 1.0
    reward_scale: float = 1.0
    max_grad_norm: float = 0.0  # global-norm clipping; <= 0 turns it off


def check_network_init(config: Any) -> None:
    """Raises a ValueError naming the config if its `weight_init` is unknown."""
    try:
        check_init(getattr(config, "weight_init", "orthogonal"))
    except ValueError as err:
        raise ValueError(f"{type(config).__name__}.weight_init: {err}") from None


SOFT_ACTOR_CRITIC_CHECKS = {
    "actor_lr": lambda v: v > 0, "critic_lr": lambda v: v > 0, "alpha_lr": lambda v: v >= 0,
    "gamma": lambda v: (v >= 0) & (v <= 1), "tau": lambda v: (v > 0) & (v <= 1),
    "init_alpha": lambda v: v > 0, "reward_scale": lambda v: v > 0,
}


# ---------------------------------------------------------------------------------------
# Spaces, masks and action scaling


def check_box_spec(spec: EnvSpec, agent: str) -> int:
    """The action dimension; raises a ValueError unless the action space is a bounded Box."""
    space = spec.action_space
    if not isinstance(space, Box):
        raise ValueError(f"{agent} needs a Box action space, got {space!r}; discretising agents suit other spaces")
    if not space.bounded:
        raise ValueError(f"{agent} needs a bounded Box action space (a tanh policy), got {space!r}")
    return int(np.prod(space.shape)) if space.shape else 1


def action_bounds(space: Box, mask: Optional[tuple]) -> tuple[jax.Array, jax.Array]:
    """(low, high) an action must lie in: the state-dependent mask, else the space bounds."""
    if mask is None:
        return jnp.asarray(space.low), jnp.asarray(space.high)
    low, high = mask
    return jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)


def squash_to_bounds(unit: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
    """Affine map of u in [-1, 1] onto [low, high] (shapes broadcast); clipped so float
    rounding never leaves the interval."""
    action = low + (unit + 1.0) * 0.5 * (high - low)
    return jnp.clip(action, low, high)


def critic_action(space: Box, action: jax.Array) -> jax.Array:
    """Env action rescaled by the static space bounds to [-1, 1] (the critic's input)."""
    low, high = jnp.asarray(space.low), jnp.asarray(space.high)
    half = jnp.where(high > low, (high - low) * 0.5, 1.0)
    return (action - (high + low) * 0.5) / half


def flatten_obs(obs: jax.Array, obs_space: Any) -> jax.Array:
    """[..., *obs_shape] -> float32[..., prod(obs_shape)]."""
    obs = jnp.asarray(obs, jnp.float32)
    ndim = len(obs_space.shape)
    return obs.reshape(obs.shape[: obs.ndim - ndim] + (-1,))


# Optional observation normalisation inside the agent: running moments of the observations
# in the replay batches (so the buffer keeps raw observations and `act` needs no wrapper).


def init_obs_stats(obs_space: Any) -> running_stats.RunningStats:
    return running_stats.init((int(np.prod(obs_space.shape)) if obs_space.shape else 1,))


def network_obs(stats: running_stats.RunningStats, obs: jax.Array, obs_space: Any, normalize: bool) -> jax.Array:
    """What the networks see: flat float32 observations, normalised when `normalize`."""
    flat = flatten_obs(obs, obs_space)
    return running_stats.normalize(stats, flat) if normalize else flat


def observe_batch(stats: running_stats.RunningStats, obs: jax.Array, obs_space: Any, normalize: bool):
    return running_stats.update(stats, flatten_obs(obs, obs_space)) if normalize else stats


# ---------------------------------------------------------------------------------------
# Networks


LOG_STD_BOUNDS = ("tanh", "clip")


class GaussianActor(nn.Module):
    """Mean and log standard deviation of a diagonal Gaussian over pre-tanh actions, from
    two Dense heads on a shared torso. log_std is kept in [log_std_min, log_std_max]
    smoothly (`log_std_bound="tanh"`, after CleanRL/DrQ) or by a hard clip ("clip", as
    REDQ's core.py `torch.clamp(log_std, LOG_SIG_MIN, LOG_SIG_MAX)`). With the default
    orthogonal init the heads use gain 0.01; other inits treat them like any layer."""

    action_dim: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    log_std_bound: str = "tanh"
    weight_init: str = "orthogonal"

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        features = MLP(tuple(self.hidden_sizes), self.activation, weight_init=self.weight_init)(obs)
        width = features.shape[-1]
        mean = dense(self.action_dim, self.weight_init, width, 0.01)(features)
        raw = dense(self.action_dim, self.weight_init, width, 0.01)(features)
        if self.log_std_bound == "clip":
            return mean, jnp.clip(raw, self.log_std_min, self.log_std_max)
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (jnp.tanh(raw) + 1.0)
        return mean, log_std


class DeterministicActor(nn.Module):
    """A unit action tanh(f(obs)) in [-1, 1]^d."""

    action_dim: int
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    weight_init: str = "orthogonal"  # networks.mlp.INITS; the orthogonal head has gain 0.01

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        features = MLP(tuple(self.hidden_sizes), self.activation, weight_init=self.weight_init)(obs)
        return jnp.tanh(dense(self.action_dim, self.weight_init, features.shape[-1], 0.01)(features))


class _QNetwork(nn.Module):
    hidden_sizes: Sequence[int]
    activation: str
    weight_init: str = "orthogonal"

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        x = jnp.concatenate([obs, action], axis=-1)
        return MLP(tuple(self.hidden_sizes), self.activation, output_size=1, weight_init=self.weight_init)(x)[..., 0]


class QEnsemble(nn.Module):
    """`num_critics` independent Q-networks (separate parameters, stacked on axis 0 of
    every kernel) evaluated together: Q(obs, action) -> [..., num_critics]."""

    num_critics: int = 2
    hidden_sizes: Sequence[int] = (256, 256)
    activation: str = "relu"
    weight_init: str = "orthogonal"  # networks.mlp.INITS

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        ensemble = nn.vmap(
            _QNetwork,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=-1,
            axis_size=self.num_critics,
        )
        return ensemble(tuple(self.hidden_sizes), self.activation, self.weight_init)(obs, action)


# ---------------------------------------------------------------------------------------
# Tanh-Gaussian policy


def critic_network(config: Any) -> QEnsemble:
    """The Q-ensemble a config describes (`num_critics`, `critic_hidden`, `activation`, and
    `weight_init` when the config has one)."""
    return QEnsemble(config.num_critics, tuple(config.critic_hidden), config.activation,
                     getattr(config, "weight_init", "orthogonal"))


def init_actor_critic(key: jax.Array, spec: EnvSpec, config: Any, actor: nn.Module,
                      action_dim: int) -> tuple[Any, Any]:
    """(actor params, critic params): `actor` takes observations, the config's
    `critic_network` takes (observation, action [action_dim])."""
    k_actor, k_critic = jax.random.split(key)
    obs = flatten_obs(jnp.zeros(spec.obs_space.shape), spec.obs_space)
    action = jnp.zeros((action_dim,), jnp.float32)
    return actor.init(k_actor, obs), critic_network(config).init(k_critic, obs, action)


def agent_obs(state: Any, obs: jax.Array) -> jax.Array:
    """What the networks of an agent state (with `obs_stats`, `spec`, `config`) see."""
    return network_obs(state.obs_stats, obs, state.spec.obs_space, state.config.normalize_obs)


def q_values(state: Any, critic_params: Any, obs: jax.Array, action: jax.Array) -> jax.Array:
    """float32[..., num_critics]: the agent's critics at (obs, env action)."""
    return critic_network(state.config).apply(critic_params, agent_obs(state, obs),
                                              critic_action(state.spec.action_space, action))


def tanh_gaussian(mean: jax.Array, log_std: jax.Array) -> distrax.Distribution:
    """Distribution over unit actions tanh(z), z ~ N(mean, exp(log_std)), event over the
    last axis (distrax's Tanh bijector has a numerically stable log-det)."""
    base = distrax.MultivariateNormalDiag(mean, jnp.exp(log_std))
    return distrax.Transformed(base, distrax.Block(distrax.Tanh(), ndims=1))


def sample_unit_action(mean: jax.Array, log_std: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(unit action [..., d], log-prob [...]) by the reparameterisation trick."""
    return tanh_gaussian(mean, log_std).sample_and_log_prob(seed=key)


def ensemble_target(q: jax.Array, key: jax.Array, subset_size: int) -> jax.Array:
    """[B, N] -> [B]: the minimum over a random subset of `subset_size` critics (REDQ's
    in-target minimisation; the whole ensemble, and no randomness, when subset_size == N)."""
    num = q.shape[-1]
    if subset_size >= num:
        return jnp.min(q, axis=-1)
    chosen = jax.random.choice(key, num, (subset_size,), replace=False)
    return jnp.min(q[..., chosen], axis=-1)


# ---------------------------------------------------------------------------------------
# Optimisation


def _clip_if_on(max_grad_norm: Any) -> optax.GradientTransformation:
    """clip_by_global_norm(max_grad_norm), or the identity when max_grad_norm <= 0. A
    `lax.cond`, so a run with clipping off skips the norm (a reduction per leaf, about 16
    CPU kernels per Adam step) instead of scaling by inf / max(norm, inf); same numbers for
    finite gradients. The state is clip_by_global_norm's (empty), as before."""
    clip = optax.clip_by_global_norm(max_grad_norm)

    def update(updates, state, params=None):
        clipped = jax.lax.cond(max_grad_norm > 0, lambda u: clip.update(u, state)[0], lambda u: u, updates)
        return clipped, state

    return optax.GradientTransformation(clip.init, update)


def _clipped_adam(learning_rate: Any, max_grad_norm: Any) -> optax.GradientTransformation:
    return optax.chain(_clip_if_on(max_grad_norm), optax.adam(learning_rate))


def _clipped_adamw(learning_rate: Any, weight_decay: Any, max_grad_norm: Any) -> optax.GradientTransformation:
    # Decoupled weight decay on every parameter (torch.optim.AdamW: biases and LayerNorm
    # scales included), Adam's betas (0.9, 0.999) and eps 1e-8 as torch's defaults.
    return optax.chain(_clip_if_on(max_grad_norm), optax.adamw(learning_rate, weight_decay=weight_decay))


ADAM = optax.inject_hyperparams(_clipped_adam)
ADAMW = optax.inject_hyperparams(_clipped_adamw)


@struct.dataclass
class Learner:
    """Parameters with their optimiser state."""

    params: Any
    opt_state: Any


def make_learner(params: Any, learning_rate: Any, max_grad_norm: Any, weight_decay: Any = None) -> Learner:
    """Adam, or AdamW (decoupled weight decay) when `weight_decay` is given."""
    if weight_decay is None:
        return Learner(params, ADAM(learning_rate=learning_rate, max_grad_norm=max_grad_norm).init(params))
    tx = ADAMW(learning_rate=learning_rate, weight_decay=weight_decay, max_grad_norm=max_grad_norm)
    return Learner(params, tx.init(params))


def apply_gradients(learner: Learner, grads: Any) -> Learner:
    """One Adam (AdamW) step with the hyper-parameters stored in the optimiser state."""
    if "weight_decay" in learner.opt_state.hyperparams:
        tx = ADAMW(learning_rate=0.0, weight_decay=0.0, max_grad_norm=0.0)  # values unused: the state holds them
    else:
        tx = ADAM(learning_rate=0.0, max_grad_norm=0.0)
    updates, opt_state = tx.update(grads, learner.opt_state, learner.params)
    return Learner(optax.apply_updates(learner.params, updates), opt_state)


