"""On-policy rollouts: what the collector stores and the minibatch-epoch machinery every
on-policy learner reuses."""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp


class Rollout(NamedTuple):
    """`T` steps of `B` parallel envs, time-major."""

    obs: Any  # [T, B, *obs]  observation the action was taken in
    action: Any  # [T, B, *act] the agent's action (what the env received)
    raw_action: Any  # [T, B, *raw] what the policy distribution sampled (scored by log_prob)
    log_prob: jax.Array  # [T, B]
    value: jax.Array  # [T, B]  V(obs)
    reward: jax.Array  # [T, B]
    terminated: jax.Array  # [T, B]
    truncated: jax.Array  # [T, B]
    final_value: jax.Array  # [T, B]  V(final_obs): bootstraps a truncated episode
    action_mask: Optional[Any]  # [T, B, *mask] or None
    last_value: jax.Array  # [B]  V(obs after the last step)


def flatten_time_env(tree: Any) -> Any:
    """[T, B, ...] -> [T * B, ...] for every leaf."""
    return jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), tree)


def minibatch_epochs(
    key: jax.Array,
    carry: Any,
    data: Any,  # pytree of [N, ...]
    num_epochs: int,
    num_minibatches: int,
    minibatch_step: Callable[[Any, Any], tuple[Any, dict]],
) -> tuple[Any, dict]:
    """`num_epochs` passes over `data` in `num_minibatches` shuffled minibatches each,
    threading `carry` through `minibatch_step(carry, minibatch) -> (carry, metrics)`.
    Returns the final carry and the metrics averaged over every minibatch step."""
    n = jax.tree.leaves(data)[0].shape[0]
    if n % num_minibatches:
        raise ValueError(f"{n} samples do not split into num_minibatches={num_minibatches}")

    def epoch(carry, epoch_key):
        order = jax.random.permutation(epoch_key, n)
        batches = jax.tree.map(
            lambda x: x[order].reshape((num_minibatches, n // num_minibatches) + x.shape[1:]), data)
        return jax.lax.scan(minibatch_step, carry, batches)

    carry, metrics = jax.lax.scan(epoch, carry, jax.random.split(key, num_epochs))
    return carry, jax.tree.map(jnp.mean, metrics)
