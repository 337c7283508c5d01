"""Uniform replay buffer of `types.Transition` pytrees that lives inside `jit`.

    buffer = make_replay_buffer(capacity=100_000, batch_size=256)
    state = buffer.init(example)          # example: one unbatched Transition (values unused)
    state = buffer.add(state, batch)      # batch: Transition with a leading [N] axis (N envs)
    batch = buffer.sample(state, key)     # Transition [batch_size], uniform over stored items
    buffer.size(state) -> int32[]         # items stored (saturates at capacity)

Built on flashbax's item buffer, which works with our JAX: it keeps a ring of `capacity`
items, overwriting the oldest once full, and samples uniformly (with replacement) from the
items written so far. `None` leaves (absent action masks) are kept as None.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flashbax
import jax
import jax.numpy as jnp

from jaxrl_actions.types import PRNGKey, Transition

ReplayState = Any  # flashbax's TrajectoryBufferState: experience [1, capacity, ...], current_index, is_full


class ReplayBuffer(NamedTuple):
    capacity: int
    batch_size: int
    init: Callable[[Transition], ReplayState]
    add: Callable[[ReplayState, Transition], ReplayState]
    sample: Callable[[ReplayState, PRNGKey], Transition]
    size: Callable[[ReplayState], jax.Array]


def make_replay_buffer(capacity: int, batch_size: int) -> ReplayBuffer:
    """A ring buffer of `capacity` transitions sampling batches of `batch_size`."""
    capacity, batch_size = int(capacity), int(batch_size)
    if batch_size < 1:
        raise ValueError(f"replay buffer needs batch_size >= 1, got batch_size={batch_size}")
    if capacity < batch_size:
        raise ValueError(f"replay buffer capacity={capacity} must be at least batch_size={batch_size}")
    inner = flashbax.make_item_buffer(
        max_length=capacity, min_length=1, sample_batch_size=batch_size, add_sequences=True, add_batches=False
    )

    def init(example: Transition) -> ReplayState:
        return inner.init(example)

    def add(state: ReplayState, batch: Transition) -> ReplayState:
        n = jax.tree_util.tree_leaves(batch)[0].shape[0]
        if n > capacity:
            raise ValueError(f"cannot add {n} transitions at once to a replay buffer of capacity={capacity}")
        return inner.add(state, batch)

    def sample(state: ReplayState, key: PRNGKey) -> Transition:
        return inner.sample(state, key).experience

    def size(state: ReplayState) -> jax.Array:
        return jnp.where(state.is_full, capacity, state.current_index).astype(jnp.int32)

    return ReplayBuffer(capacity, batch_size, init, add, sample, size)
