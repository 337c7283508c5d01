"""NormalizeObs: normalises observations with running mean / variance over the batch.

Usually put on a `VecEnv` (statistics over all envs each step); on a single env it
updates with one observation per step. Both `obs` and `final_obs` are normalised with
the statistics after this step's update (which sees `obs`, the observations the agent
acts on). The statistics live in the wrapper state: `state.obs_stats`.
"""
from __future__ import annotations

from typing import Any

from flax import struct

from jaxrl_actions import running_stats
from jaxrl_actions.environment import Environment
from jaxrl_actions.spaces import Tuple
from jaxrl_actions.types import TimeStep
from jaxrl_actions.wrappers.vec import BatchedWrapper


@struct.dataclass
class NormalizeObsState:
    env_state: Any
    obs_stats: running_stats.RunningStats


class NormalizeObs(BatchedWrapper):
    def __init__(self, env: Environment, clip: float = 10.0):
        obs_space = env.spec.obs_space
        if isinstance(obs_space, Tuple):
            raise ValueError(f"NormalizeObs needs an array observation space, got {obs_space}")
        super().__init__(env)
        self.clip = float(clip)
        self._batched = hasattr(env, "num_envs")
        self._obs_shape = tuple(obs_space.shape)

    @property
    def num_envs(self) -> int:
        if not self._batched:
            raise AttributeError(f"{self!r} wraps an unbatched env and has no num_envs")
        return self.env.num_envs

    def step(self, key, state, action, params=None):
        if self._batched:
            return super().step(key, state, action, params)
        return Environment.step(self, key, state, action, params)

    def _normalize(self, stats: running_stats.RunningStats, ts: TimeStep) -> TimeStep:
        norm = lambda x: None if x is None else running_stats.normalize(stats, x, self.clip)
        return ts._replace(obs=norm(ts.obs), final_obs=norm(ts.final_obs))

    def reset_env(self, key, params):
        env_state, ts = self.env.reset(key, params)
        stats = running_stats.update(running_stats.init(self._obs_shape), ts.obs)
        return NormalizeObsState(env_state, stats), self._normalize(stats, ts)

    def step_env(self, key, state: NormalizeObsState, action, params):
        env_state, ts = self.env.step(key, state.env_state, action, params)
        stats = running_stats.update(state.obs_stats, ts.obs)
        return NormalizeObsState(env_state, stats), self._normalize(stats, ts)
