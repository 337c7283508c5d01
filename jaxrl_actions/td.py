"""One-step temporal-difference targets for off-policy learners (pure, shape-asserted).

    td_target(reward[B], terminated[B], next_value[B], gamma) -> float32[B]
        reward + gamma * (1 - terminated) * next_value
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


def td_target(reward: jax.Array, terminated: jax.Array, next_value: jax.Array, gamma: Any) -> jax.Array:
    """[B] one-step bootstrapped targets; no bootstrap after a terminal step."""
    chex.assert_rank([reward, terminated, next_value], 1)
    chex.assert_equal_shape([reward, terminated, next_value])
    continues = 1.0 - jnp.asarray(terminated, jnp.float32)
    return jax.lax.stop_gradient(reward + gamma * continues * next_value)


def soft_value(next_q: jax.Array, next_log_prob: jax.Array, alpha: Any) -> jax.Array:
    """[B] V(s') = Q(s', a') - alpha * log pi(a'|s') for a' ~ pi(s')."""
    chex.assert_rank([next_q, next_log_prob], 1)
    chex.assert_equal_shape([next_q, next_log_prob])
    return next_q - alpha * next_log_prob


def soft_update(target: Any, online: Any, tau: Any) -> Any:
    """Polyak averaging of two parameter pytrees of one structure (tau=1 copies)."""
    return jax.tree_util.tree_map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)
