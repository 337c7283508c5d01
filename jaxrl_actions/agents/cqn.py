"""Coarse-to-fine Q-network (CQN, Seo et al. 2024) for Box actions: each action dimension's
interval [-1, 1] is split into `bins` parts, the chosen part is split again, for `levels`
levels; the action is the centre of the last interval (mapped affinely onto the space
bounds), so `levels` x `bins` Q-values per dimension reach a resolution of bins^-levels.

    config = CQNConfig(levels=3, bins=5)
    state = init(key, spec, config)                 # spec.action_space: bounded Box
    action = act(state, obs, mask, key)             # float32[d], the env action

Level l's utilities come from one network shared by the levels, fed the observation, a
one-hot of l and the centre of the current interval (the previous levels' choice):

    U(obs, onehot(l), centre_{l-1}) -> float32[D, bins]       Q_l(s, a) = mean_d U_d(s, a_d)

Acting goes coarse to fine, each level greedy per dimension (epsilon-greedy per dimension
when exploring). Learning recovers each stored action's level choices from its value
(`action_to_levels`: exact for the centres `act` returns, the containing interval for any
other action, e.g. warm-up samples) and regresses every level on its own double-Q target

    y_l = r + gamma (1 - terminated) Q'_l(s', a*)   a* = greedy coarse-to-fine action of the
                                                     online net at s', scored by the target net

summing the levels' losses. Masks: a (low, high) Box mask clips the action into the
interval (the level choices are not masked).

Everything else (epsilon schedule, loss, target updates, config fields) is shared with
`agents/dqn.py`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions import td
from jaxrl_actions.agents import dqn
from jaxrl_actions.agents.base import register
from jaxrl_actions.agents.base import Agent
from jaxrl_actions.agents.continuous import (
    action_bounds,
    check_box_spec,
    critic_action,
    flatten_obs,
    make_learner,
    squash_to_bounds,
)
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.networks import q_heads
from jaxrl_actions.types import Transition


@struct.dataclass
class CQNConfig(dqn.DQNConfig):
    levels: int = struct.field(pytree_node=False, default=3)
    bins: int = struct.field(pytree_node=False, default=5)
    lr: float = 1e-4
    eps_end: float = 0.1


def check(config: CQNConfig) -> None:
    dqn.check(config)
    if config.levels < 1:
        raise ValueError(f"CQNConfig.levels={config.levels} must be >= 1")
    if config.bins < 2:
        raise ValueError(f"CQNConfig.bins={config.bins} must be >= 2")


def network(config: CQNConfig, dim: int) -> q_heads.FactorisedQ:
    return q_heads.FactorisedQ(dim, config.bins, tuple(config.hidden_sizes), config.activation, config.dueling, 1)


# ---------------------------------------------------------------------------------------
# Intervals (unit action space [-1, 1]^D)


def refine(low: jax.Array, width: jax.Array, choice: jax.Array, bins: int) -> tuple[jax.Array, jax.Array]:
    """The `choice`-th of `bins` equal parts of [low, low + width] (per dimension)."""
    width = width / bins
    return low + choice * width, width


def levels_to_action(choices: jax.Array, bins: int) -> jax.Array:
    """int[..., L, D] level choices -> float32[..., D] centre of the final unit interval."""
    low = jnp.full(choices.shape[:-2] + choices.shape[-1:], -1.0)
    width = jnp.full_like(low, 2.0)
    for level in range(choices.shape[-2]):
        low, width = refine(low, width, choices[..., level, :], bins)
    return low + 0.5 * width


def action_to_levels(unit: jax.Array, levels: int, bins: int) -> jax.Array:
    """float32[..., D] unit action -> int32[..., L, D]: the intervals that contain it."""
    low = jnp.full_like(unit, -1.0)
    width = jnp.full_like(unit, 2.0)
    choices = []
    for _ in range(levels):
        choice = jnp.clip(jnp.floor((unit - low) / (width / bins)), 0, bins - 1).astype(jnp.int32)
        choices.append(choice)
        low, width = refine(low, width, choice, bins)
    return jnp.stack(choices, axis=-2)


def level_centres(choices: jax.Array, bins: int) -> jax.Array:
    """int[..., L, D] -> float32[..., L, D]: the interval centre each level refines."""
    low = jnp.full(choices.shape[:-2] + choices.shape[-1:], -1.0)
    width = jnp.full_like(low, 2.0)
    centres = []
    for level in range(choices.shape[-2]):
        centres.append(low + 0.5 * width)
        low, width = refine(low, width, choices[..., level, :], bins)
    return jnp.stack(centres, axis=-2)


# ---------------------------------------------------------------------------------------
# Agent


def _level_inputs(state: dqn.DQNState, obs, centres: jax.Array) -> jax.Array:
    """obs [..., *obs_shape], centres [..., L, D] -> network inputs [..., L, obs + L + D]."""
    levels = state.config.levels
    flat = flatten_obs(obs, state.spec.obs_space)[..., None, :]
    flat = jnp.broadcast_to(flat, centres.shape[:-1] + flat.shape[-1:])
    onehot = jnp.broadcast_to(jnp.eye(levels), centres.shape[:-1] + (levels,))
    return jnp.concatenate([flat, onehot, centres], axis=-1)


def level_utilities(state: dqn.DQNState, params, obs, centres: jax.Array) -> jax.Array:
    """float32[..., L, D, bins] for every level given the centres it refines."""
    dim = centres.shape[-1]
    return network(state.config, dim).apply(params, _level_inputs(state, obs, centres))[..., 0, :, :]


def coarse_to_fine(state: dqn.DQNState, params, obs, key, epsilon) -> jax.Array:
    """int32[L, D] level choices for one observation, greedy (epsilon-greedy) per level."""
    config = state.config
    dim = check_box_spec(state.spec, "CQN")
    low, width = jnp.full((dim,), -1.0), jnp.full((dim,), 2.0)
    all_valid = jnp.ones((dim, config.bins), bool)
    flat = flatten_obs(obs, state.spec.obs_space)
    choices = []
    for level, k in enumerate(jax.random.split(key, config.levels)):
        inputs = jnp.concatenate([flat, jnp.eye(config.levels)[level], low + 0.5 * width])
        u = network(config, dim).apply(params, inputs)[0]  # [D, bins]
        choice = q_heads.epsilon_greedy(k, q_heads.masked_argmax(u, None), all_valid, epsilon)
        choices.append(choice)
        low, width = refine(low, width, choice, config.bins)
    return jnp.stack(choices)


def init(key: jax.Array, spec: EnvSpec, config: CQNConfig) -> dqn.DQNState:
    check(config)
    dim = check_box_spec(spec, "CQN")
    obs_dim = flatten_obs(jnp.zeros(spec.obs_space.shape), spec.obs_space).shape[-1]
    params = network(config, dim).init(key, jnp.zeros((obs_dim + config.levels + dim,)))
    return dqn.DQNState(make_learner(params, config.lr, config.max_grad_norm), params, jnp.int32(0), config, spec)


def act(state: dqn.DQNState, obs, mask, key, deterministic: bool = False) -> jax.Array:
    """float32[d]: the centre of the chosen finest interval on the space (clipped into a
    (low, high) mask when given)."""
    eps = jnp.float32(0.0) if deterministic else dqn.epsilon(state)
    choices = coarse_to_fine(state, state.q.params, obs, key, eps)
    space = state.spec.action_space
    unit = levels_to_action(choices, state.config.bins).reshape(space.shape)
    bounds = (jnp.asarray(space.low), jnp.asarray(space.high))
    action = squash_to_bounds(unit, *bounds)
    return jnp.clip(action, *action_bounds(space, mask))


def _loss(params, state: dqn.DQNState, batch: Transition, targets: jax.Array, choices: jax.Array):
    config = state.config
    u = level_utilities(state, params, batch.obs, level_centres(choices, config.bins))  # [B, L, D, bins]
    q = q_heads.decoupled_q(u, choices)  # [B, L]
    loss = jnp.sum(jnp.mean(dqn._pointwise_loss(config.loss, targets - q), axis=0))
    return loss, {"q_loss": loss, "q_mean": jnp.mean(q)}


def update(state: dqn.DQNState, batch: Transition, key) -> tuple[dqn.DQNState, dict]:
    """One gradient step over all levels (see module docstring)."""
    config = state.config
    space = state.spec.action_space
    batch_size = batch.reward.shape[0]
    choices = action_to_levels(critic_action(space, batch.action).reshape(batch_size, -1), config.levels, config.bins)
    select = state.q.params if config.double else state.target_params
    keys = jax.random.split(key, batch_size)
    next_choices = jax.vmap(lambda o, k: coarse_to_fine(state, select, o, k, 0.0))(batch.next_obs, keys)
    next_u = level_utilities(state, state.target_params, batch.next_obs, level_centres(next_choices, config.bins))
    next_q = q_heads.decoupled_q(next_u, next_choices)  # [B, L]
    targets = td.transition_target(batch, next_q, config.gamma, config.reward_scale)  # [B, L]
    (_, metrics), grads = jax.value_and_grad(_loss, has_aux=True)(state.q.params, state, batch, targets, choices)
    return dqn.apply_step(state, grads, metrics)


AGENT = Agent(
    name="cqn",
    family="off_policy",
    config_cls=CQNConfig,
    init=init,
    act=act,
    update=update,
    check_config=check,
    description="Coarse-to-fine Q-network: per-dimension intervals refined over levels (Box actions)",
)
register(AGENT)
