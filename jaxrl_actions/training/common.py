"""Pieces every training loop shares: the `Trainer` protocol the runner drives, the
checked error flag, and the fused `train` built from a trainer.

A loop family (on-policy, off-policy, bandit) provides

    make_trainer(env, agent, config) -> Trainer(init, update, num_updates, steps_per_update)
        init(key) -> carry                 # a flax struct dataclass with a `step` field
        update(carry) -> (carry, metrics)  # one iteration: collect + learn; metrics: dict of scalars

and everything else derives from it: the fused program is `init` then `lax.scan(update)`;
the runner runs the same `update` in jitted chunks of K iterations, so chunked and fused
runs give the same numbers. Numeric config fields are only read inside traced code, so
`jax.vmap(lambda k, c: make_train(env, agent, c)(k))(keys, configs)` sweeps them.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions.spaces import Box
from jaxrl_actions.types import EPISODE_DONE, EPISODE_LENGTH, EPISODE_RETURN, INVALID_ACTION, Metrics

LEARN_PREFIX = "learn/"  # learner metrics (losses, entropies, ...) are kept apart from episode metrics
# 1.0 in iterations that ran a learning phase: loops that learn every few iterations report
# zeros as learner metrics in between, so a log row takes them from the last one that learned.
LEARNED = "learned"

# The name the runner gives its vmap over runs (seeds x trials): `jax.vmap(f, axis_name=RUN_AXIS)`.
RUN_AXIS = "runs"


def shared_across_runs(step: jax.Array) -> jax.Array:
    """`step` (the iteration count, equal in every run of a group) as one value for all runs
    when traced under a vmap named RUN_AXIS, else unchanged.

    Why: under vmap a `lax.cond` whose predicate is batched becomes a select that runs both
    branches; a predicate on the carried (hence batched) step would run every learning phase
    and copy the replay buffer each iteration. The max over the run axis is unbatched, so a
    cond on it stays a cond."""
    try:
        return jax.lax.pmax(step, RUN_AXIS)
    except NameError:  # not under the runner's named vmap: nothing to share
        return step


class Trainer(NamedTuple):
    init: Callable[[jax.Array], Any]
    update: Callable[[Any], tuple[Any, Metrics]]
    num_updates: int  # static: iterations of `update` in a full run
    steps_per_update: int  # static: env steps (summed over parallel envs) per iteration


EMPTY_MASK = 1  # ErrorFlag kinds
ACTION_OUT_OF_RANGE = 2


@struct.dataclass
class ErrorFlag:
    """A checked error carried through the compiled loop: set at the first update where a
    state offered no valid action (EMPTY_MASK) or the agent returned an action outside the
    action space (ACTION_OUT_OF_RANGE), with the env index. The runner raises it between
    chunks (`raise_if_set`), so nothing is sampled silently from an empty mask and no
    out-of-range action silently changes the dynamics."""

    set: jax.Array  # bool[]
    update: jax.Array  # int32[] iteration index of the first error
    env_index: jax.Array  # int32[] which parallel env
    kind: jax.Array  # int32[] EMPTY_MASK or ACTION_OUT_OF_RANGE (0 while clear)

    @classmethod
    def clear(cls) -> "ErrorFlag":
        return cls(jnp.bool_(False), jnp.int32(-1), jnp.int32(-1), jnp.int32(0))

    def record(self, bad: jax.Array, update: jax.Array, kind: int = EMPTY_MASK) -> "ErrorFlag":
        """`bad`: bool[...] over envs (any leading shape); keeps the first error."""
        bad = jnp.reshape(bad, (-1,))
        new = ~self.set & jnp.any(bad)
        return ErrorFlag(
            set=self.set | new,
            update=jnp.where(new, jnp.asarray(update, jnp.int32), self.update),
            env_index=jnp.where(new, jnp.argmax(bad).astype(jnp.int32), self.env_index),
            kind=jnp.where(new, jnp.int32(kind), self.kind),
        )


def out_of_range(space, actions) -> jax.Array:
    """bool[num_envs]: the action lies outside a discrete space (Box actions are clipped
    by their envs, so they are not flagged)."""
    if isinstance(space, Box):
        return jnp.zeros((1,), bool)
    return ~jax.vmap(space.contains)(actions)


class LoopError(RuntimeError):
    """A checked error raised from a training loop's ErrorFlag."""


class EmptyMaskError(LoopError):
    pass


class ActionOutOfRangeError(LoopError):
    pass


def raise_if_set(flag: ErrorFlag, env_steps_per_update: int, where: str = "") -> None:
    """Host-side check after a chunk: raises EmptyMaskError naming the step and env.
    Accepts flags batched over seeds/trials (any leading axes)."""
    import numpy as np

    is_set = np.asarray(flag.set)
    if not is_set.any():
        return
    idx = np.unravel_index(np.argmax(is_set), is_set.shape) if is_set.ndim else ()
    update = int(np.asarray(flag.update)[idx])
    env = int(np.asarray(flag.env_index)[idx])
    run = f" in run {tuple(int(i) for i in idx)}" if is_set.ndim else ""
    at = f"at update {update} (about env step {update * env_steps_per_update}), parallel env index {env}{run}"
    if int(np.asarray(flag.kind)[idx]) == ACTION_OUT_OF_RANGE:
        raise ActionOutOfRangeError(f"{where}the agent returned an action outside the action space {at}")
    raise EmptyMaskError(f"{where}an action mask with no valid action was returned {at}")


@struct.dataclass
class EpisodeTally:
    """What the episode metrics carry from one report (one `update`) to the next."""

    last_return: jax.Array  # float32[] mean return of the latest report that saw an episode end
    last_length: jax.Array  # float32[] their mean length
    invalid_actions: jax.Array  # int32[] invalid actions the env reported so far

    @classmethod
    def zeros(cls) -> "EpisodeTally":
        return cls(jnp.float32(0.0), jnp.float32(0.0), jnp.int32(0))


def episode_metrics(tally: EpisodeTally, info: dict) -> tuple[EpisodeTally, Metrics]:
    """The episode metrics of every loop, from the EpisodeStats `info` of the env steps since
    the last report (leaves of any shape, e.g. [T, B] or [B]):

        episode_return   mean return of the episodes that finished since the last report,
                         carried forward when none did (0 before the first)
        episode_length   their mean length, likewise
        episodes         how many finished since the last report
        invalid_actions  invalid actions the env reported (info[INVALID_ACTION]) so far
    """
    finished = info[EPISODE_DONE]
    count = finished.sum()
    some = count > 0

    def mean_or_last(values, last):
        return jnp.where(some, (values * finished).sum() / jnp.maximum(count, 1), last).astype(jnp.float32)

    invalid = info[INVALID_ACTION].sum().astype(jnp.int32) if INVALID_ACTION in info else jnp.int32(0)
    tally = EpisodeTally(
        last_return=mean_or_last(info[EPISODE_RETURN], tally.last_return),
        last_length=mean_or_last(info[EPISODE_LENGTH], tally.last_length),
        invalid_actions=tally.invalid_actions + invalid,
    )
    metrics = {"episode_return": tally.last_return, "episode_length": tally.last_length,
               "episodes": count.astype(jnp.int32), "invalid_actions": tally.invalid_actions}
    return tally, metrics


def learner_metrics(metrics: Metrics) -> Metrics:
    """An agent's update metrics under the `learn/` prefix, apart from the episode metrics."""
    return {f"{LEARN_PREFIX}{name}": value for name, value in metrics.items()}


def fused_train(trainer: Trainer) -> Callable[[jax.Array], tuple[Any, Metrics]]:
    """train(key) -> (final carry, metrics stacked over all updates)."""

    def train(key):
        carry = trainer.init(key)
        return jax.lax.scan(lambda c, _: trainer.update(c), carry, None, length=trainer.num_updates)

    return train


def run_chunk(trainer: Trainer, carry: Any, length: int) -> tuple[Any, Metrics]:
    """`length` iterations of `update`; the runner jits this between logs/checkpoints."""
    return jax.lax.scan(lambda c, _: trainer.update(c), carry, None, length=length)
