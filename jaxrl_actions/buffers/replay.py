"""Uniform replay buffer of `types.Transition` pytrees that lives inside `jit`.

    buffer = make_replay_buffer(capacity=100_000, batch_size=256)
    state = buffer.init(example)          # example: one unbatched Transition (values unused)
    state = buffer.add(state, batch)      # batch: Transition with a leading [N] axis (N envs)
    batch = buffer.sample(state, key)     # Transition [batch_size], uniform over stored items
    buffer.size(state) -> int32[]         # items stored (saturates at capacity)

Built on flashbax's item buffer, which works with our JAX: it keeps a ring of `capacity`
items, overwriting the oldest once full, and samples uniformly (with replacement) from the
items written so far. `None` leaves (absent action masks) are kept as None.

Prioritised replay (Schaul et al. 2016), on flashbax's prioritised item buffer (a sum tree):

    buffer = make_prioritised_replay_buffer(capacity, batch_size, priority_exponent=0.6,
                                            importance_exponent=0.2)
    sample = buffer.sample(state, key)    # PrioritisedSample(batch, indices, weights)
    state = buffer.set_priorities(state, sample.indices, priorities)   # raw p >= 0, [B]

An item is drawn with probability P = p^alpha / sum_j p_j^alpha (flashbax draws one item from
each of B equal strata of the total, as the PER paper does); the loss weights are
`importance_weights(P, beta)` = (1/P)^beta / max over the batch. Items enter with raw priority
`initial_priority` (1.0: reverb's default when an adder sets none, as in DecQN's acme agent;
None keeps flashbax's rule, the largest priority recorded so far).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

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


class PrioritisedSample(NamedTuple):
    batch: Transition  # [B]
    indices: jax.Array  # int32[B] the items' places in the sum tree (for set_priorities)
    weights: jax.Array  # float32[B] importance weights, max 1 over the batch


class PrioritisedReplayBuffer(NamedTuple):
    capacity: int
    batch_size: int
    init: Callable[[Transition], ReplayState]
    add: Callable[[ReplayState, Transition], ReplayState]
    sample: Callable[[ReplayState, PRNGKey], PrioritisedSample]
    set_priorities: Callable[[ReplayState, jax.Array, jax.Array], ReplayState]
    size: Callable[[ReplayState], jax.Array]


def importance_weights(probabilities: jax.Array, exponent) -> jax.Array:
    """float32[B]: (1/P)^exponent divided by its max over the batch (so the largest is 1)."""
    w = jnp.power(1.0 / probabilities, exponent)
    return w / jnp.max(w)


def replace_empty_draws(experience: Any, indices: jax.Array, probabilities: jax.Array):
    """(experience, indices, probabilities) with every draw of probability 0 replaced by the
    batch's first draw of positive probability.

    Why: flashbax's float32 sum tree can descend into an empty leaf (an unwritten slot, or an
    item of priority 0) when rounding puts a stratum's query past the last positive leaf:
    measured about 1 draw in 500k with 10k items in a buffer of capacity 1M. Such a draw is
    a transition of zeros with importance weight 1/0, whose NaN loss would wreck the network."""
    valid = probabilities > 0
    pick = jnp.where(valid, jnp.arange(valid.shape[0]), jnp.argmax(valid))
    return jax.tree_util.tree_map(lambda x: x[pick], experience), indices[pick], probabilities[pick]


def _sum_tree_device() -> str:
    backend = jax.default_backend()
    return backend if backend in ("cpu", "gpu", "tpu") else "cpu"


def make_prioritised_replay_buffer(capacity: int, batch_size: int, priority_exponent: float = 0.6,
                                   importance_exponent: float = 0.4,
                                   initial_priority: Optional[float] = 1.0) -> PrioritisedReplayBuffer:
    """A ring buffer of `capacity` transitions sampled in proportion to priority^alpha."""
    capacity, batch_size = int(capacity), int(batch_size)
    if batch_size < 1:
        raise ValueError(f"replay buffer needs batch_size >= 1, got batch_size={batch_size}")
    if capacity < batch_size:
        raise ValueError(f"replay buffer capacity={capacity} must be at least batch_size={batch_size}")
    if initial_priority is not None and not initial_priority > 0:
        raise ValueError(f"initial_priority={initial_priority!r} must be > 0 (or None: the max recorded)")
    inner = flashbax.make_prioritised_item_buffer(
        max_length=capacity, min_length=1, sample_batch_size=batch_size, add_sequences=True, add_batches=False,
        priority_exponent=float(priority_exponent), device=_sum_tree_device(),
    )

    def init(example: Transition) -> ReplayState:
        return inner.init(example)

    def add(state: ReplayState, batch: Transition) -> ReplayState:
        n = jax.tree_util.tree_leaves(batch)[0].shape[0]
        if n > capacity:
            raise ValueError(f"cannot add {n} transitions at once to a replay buffer of capacity={capacity}")
        new = inner.add(state, batch)
        if initial_priority is None:
            return new
        placed = (state.current_index + jnp.arange(n)) % capacity  # the added items' sum-tree leaves
        return inner.set_priorities(new, placed, jnp.full((n,), initial_priority, jnp.float32))

    def sample(state: ReplayState, key: PRNGKey) -> PrioritisedSample:
        drawn = inner.sample(state, key)
        experience, indices, probabilities = replace_empty_draws(drawn.experience, drawn.indices,
                                                                 drawn.probabilities)
        return PrioritisedSample(experience, indices, importance_weights(probabilities, importance_exponent))

    def set_priorities(state: ReplayState, indices: jax.Array, priorities: jax.Array) -> ReplayState:
        return inner.set_priorities(state, indices, priorities)

    def size(state: ReplayState) -> jax.Array:
        return jnp.where(state.is_full, capacity, state.current_index).astype(jnp.int32)

    return PrioritisedReplayBuffer(capacity, batch_size, init, add, sample, set_priorities, size)
