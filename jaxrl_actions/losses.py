"""Losses and targets shared by the agents: pure, shape-asserted, tested against
reference implementations. Shapes: `[T, B]` is time by parallel envs.

GAE uses rlax (per trajectory, vmapped over envs); the truncation handling around it is
ours: a time-limit cut is bootstrapped from the value of the episode's final observation
and then the advantage chain is cut, so the next episode's values never leak back.
"""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import rlax


def gae_advantages(
    rewards: jax.Array,  # [T, B]
    values: jax.Array,  # [T, B]   V(obs_t)
    terminated: jax.Array,  # [T, B]
    truncated: jax.Array,  # [T, B]
    final_values: jax.Array,  # [T, B]   V(final_obs_t), used where truncated
    last_value: jax.Array,  # [B]      V(obs_T) after the rollout
    gamma: jax.Array,
    gae_lambda: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Returns (advantages [T, B], value targets [T, B])."""
    chex.assert_rank([rewards, values, terminated, truncated, final_values, last_value], [2, 2, 2, 2, 2, 1])
    chex.assert_equal_shape([rewards, values, terminated, truncated, final_values])
    done = terminated | truncated
    # A truncated step's reward absorbs gamma * V(final_obs); then every episode end cuts.
    rewards = rewards + gamma * final_values * (truncated & ~terminated)
    discounts = gamma * (1.0 - done.astype(jnp.float32))
    values_ext = jnp.concatenate([values, last_value[None]], axis=0)  # [T+1, B]
    gae = jax.vmap(rlax.truncated_generalized_advantage_estimation, in_axes=(1, 1, None, 1), out_axes=1)
    advantages = gae(rewards, discounts, gae_lambda, values_ext)
    return advantages, advantages + values


def ppo_policy_loss(log_prob: jax.Array, old_log_prob: jax.Array, advantages: jax.Array,
                    clip_eps: jax.Array) -> jax.Array:
    """Clipped surrogate objective (to minimise). All inputs [N]."""
    chex.assert_rank([log_prob, old_log_prob, advantages], 1)
    ratio = jnp.exp(log_prob - old_log_prob)
    return rlax.clipped_surrogate_pg_loss(ratio, advantages, clip_eps)


def clipped_value_loss(values: jax.Array, old_values: jax.Array, targets: jax.Array,
                       clip_eps: jax.Array) -> jax.Array:
    """PPO's clipped value regression: 0.5 * max(unclipped, clipped) squared error. [N]."""
    chex.assert_rank([values, old_values, targets], 1)
    clipped = old_values + jnp.clip(values - old_values, -clip_eps, clip_eps)
    return 0.5 * jnp.mean(jnp.maximum(jnp.square(values - targets), jnp.square(clipped - targets)))


def normalize(x: jax.Array, eps: float = 1e-8) -> jax.Array:
    return (x - x.mean()) / (x.std() + eps)
