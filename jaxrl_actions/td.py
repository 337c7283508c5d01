"""Temporal-difference targets for off-policy learners (pure, shape-asserted).

    transition_target(batch: Transition[B], next_value[B, ...], gamma, reward_scale) -> [B, ...]
        reward_scale * reward + discount * (1 - terminated) * next_value, with discount
        gamma, or each n-step transition's own gamma^m; extra axes of next_value (levels,
        critics) broadcast
    n_step_transition(window: Transition[n, B], gamma) -> Transition[B]
        the n-step transition starting at window[0], cut at the first episode end
    soft_value(next_q[B], next_log_prob[B], alpha) -> float32[B]
        next_q - alpha * next_log_prob       (the entropy-regularised state value)
    soft_update(target, online, tau) -> target
        Polyak averaging: (1 - tau) * target + tau * online, leaf by leaf

`terminated` stops bootstrapping; a truncated step bootstraps like any other step (its
`next_obs` is the episode's last observation), so truncation never enters here.
Targets are wrapped in `stop_gradient`.
"""
from __future__ import annotations

from typing import Any

import chex
import jax
import jax.numpy as jnp

from jaxrl_actions.types import Transition


def transition_target(batch: Transition, next_value: jax.Array, gamma: Any, reward_scale: Any = 1.0) -> jax.Array:
    """[B, ...] targets for a replay batch: reward_scale * r + discount * (1 - terminated) *
    next_value, where discount is gamma, or gamma^m for an m-step transition."""
    chex.assert_rank([batch.reward, batch.terminated], 1)
    chex.assert_axis_dimension(next_value, 0, batch.reward.shape[0])

    def along_value(x):  # [B] -> [B, 1, ...] to broadcast over next_value's extra axes
        return jnp.reshape(x, x.shape + (1,) * (next_value.ndim - 1))

    discount = gamma if batch.discount is None else along_value(batch.discount)
    continues = 1.0 - along_value(jnp.asarray(batch.terminated, jnp.float32))
    return jax.lax.stop_gradient(reward_scale * along_value(batch.reward) + discount * continues * next_value)


def n_step_transition(window: Transition, gamma: Any) -> Transition:
    """The transition from `window[0]` over up to n steps of one env (window: [n, B], in
    time order): rewards summed with discounts up to and including the first step that
    ends the episode, whose `next_obs`, flags and `next_action_mask` it takes; `discount`
    = gamma^m for the m steps it spans."""
    n = window.reward.shape[0]
    ended = (window.terminated | window.truncated).astype(jnp.int32)  # [n, B]
    inside = (jnp.cumsum(ended, axis=0) - ended) == 0  # no episode end strictly before step k
    powers = jnp.power(gamma, jnp.arange(n, dtype=jnp.float32))[:, None]
    reward = jnp.sum(jnp.where(inside, powers * window.reward, 0.0), axis=0)
    span = jnp.sum(inside, axis=0)  # m in 1..n
    last = span - 1

    def at_last(x):
        index = jnp.reshape(last, (1,) + last.shape + (1,) * (x.ndim - 2))
        return jnp.take_along_axis(x, index, axis=0)[0]

    def first(x):
        return x[0]

    tree = jax.tree_util.tree_map
    return Transition(
        obs=tree(first, window.obs), action=tree(first, window.action), reward=reward,
        terminated=at_last(window.terminated), truncated=at_last(window.truncated),
        next_obs=tree(at_last, window.next_obs), action_mask=tree(first, window.action_mask),
        next_action_mask=tree(at_last, window.next_action_mask),
        discount=jnp.power(gamma, span.astype(jnp.float32)), behaviour=tree(first, window.behaviour),
    )


def soft_value(next_q: jax.Array, next_log_prob: jax.Array, alpha: Any) -> jax.Array:
    """[B] V(s') = Q(s', a') - alpha * log pi(a'|s') for a' ~ pi(s')."""
    chex.assert_rank([next_q, next_log_prob], 1)
    chex.assert_equal_shape([next_q, next_log_prob])
    return next_q - alpha * next_log_prob


def soft_update(target: Any, online: Any, tau: Any) -> Any:
    """Polyak averaging of two parameter pytrees of one structure (tau=1 copies)."""
    return jax.tree_util.tree_map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)
