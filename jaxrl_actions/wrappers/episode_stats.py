"""EpisodeStats: writes the return and length of the last finished episode into `info`.

    info[EPISODE_RETURN]  float32[]  return of the last finished episode (0 before any)
    info[EPISODE_LENGTH]  int32[]    its length in steps
    info[EPISODE_DONE]    bool[]     an episode finished on this step

The running sums and the last finished values live in `KeepOnReset` nodes, so they
survive `AutoReset` (which sits outside this wrapper). Other info keys pass through.
Put it directly on the env to log the env's own return, or above an action transform
to log the return the agent optimises (e.g. with an invalid-action penalty).
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions.environment import Wrapper
from jaxrl_actions.types import EPISODE_DONE, EPISODE_LENGTH, EPISODE_RETURN, TimeStep
from jaxrl_actions.wrappers.autoreset import KeepOnReset


@struct.dataclass
class EpisodeCounters:
    running_return: jax.Array  # float32[] return so far in the current episode
    running_length: jax.Array  # int32[]
    last_return: jax.Array  # float32[] of the last finished episode
    last_length: jax.Array  # int32[]

    @classmethod
    def zeros(cls) -> "EpisodeCounters":
        return cls(jnp.float32(0.0), jnp.int32(0), jnp.float32(0.0), jnp.int32(0))

    def after_step(self, reward: jax.Array, done: jax.Array) -> "EpisodeCounters":
        ret = self.running_return + jnp.asarray(reward, jnp.float32)
        length = self.running_length + 1
        return EpisodeCounters(
            running_return=jnp.where(done, 0.0, ret),
            running_length=jnp.where(done, 0, length),
            last_return=jnp.where(done, ret, self.last_return),
            last_length=jnp.where(done, length, self.last_length),
        )


@struct.dataclass
class EpisodeStatsState:
    env_state: Any
    counters: KeepOnReset  # KeepOnReset(EpisodeCounters)


def _with_stats(ts: TimeStep, counters: EpisodeCounters, done: jax.Array) -> TimeStep:
    info = dict(ts.info)
    info[EPISODE_RETURN] = counters.last_return
    info[EPISODE_LENGTH] = counters.last_length
    info[EPISODE_DONE] = jnp.asarray(done, bool)
    return ts._replace(info=info)


class EpisodeStats(Wrapper):
    def reset_env(self, key, params) -> tuple[EpisodeStatsState, TimeStep]:
        env_state, ts = self.env.reset(key, params)
        counters = EpisodeCounters.zeros()
        return EpisodeStatsState(env_state, KeepOnReset(counters)), _with_stats(ts, counters, False)

    def step_env(self, key, state: EpisodeStatsState, action, params) -> tuple[EpisodeStatsState, TimeStep]:
        env_state, ts = self.env.step(key, state.env_state, action, params)
        done = ts.done
        counters = state.counters.value.after_step(ts.reward, done)
        return EpisodeStatsState(env_state, KeepOnReset(counters)), _with_stats(ts, counters, done)
