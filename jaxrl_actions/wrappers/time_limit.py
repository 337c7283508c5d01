"""TimeLimit: truncates episodes after `max_steps` steps.

Envs already truncate themselves at `spec.max_episode_steps`; this wrapper is for a
shorter limit. It cannot lengthen an env's own limit (build the env with a longer one).
When the limit falls on a terminal step, `terminated` wins and `truncated` stays False.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions.environment import EnvSpec, Environment, Wrapper


@struct.dataclass
class TimeLimitState:
    env_state: Any
    steps: jax.Array  # int32[] steps taken in the current episode


class TimeLimit(Wrapper):
    def __init__(self, env: Environment, max_steps: int):
        if int(max_steps) < 1:
            raise ValueError(f"TimeLimit needs max_steps >= 1, got max_steps={max_steps}")
        inner = env.spec.max_episode_steps
        if inner is not None and int(max_steps) > inner:
            raise ValueError(
                f"TimeLimit(max_steps={max_steps}) cannot exceed {env.name}'s own limit of {inner} steps; "
                f"build the env with a longer limit instead"
            )
        super().__init__(env)
        self.max_steps = int(max_steps)

    @property
    def spec(self) -> EnvSpec:
        return self.env.spec._replace(max_episode_steps=self.max_steps)

    def reset_env(self, key, params):
        env_state, ts = self.env.reset(key, params)
        return TimeLimitState(env_state, jnp.int32(0)), ts

    def step_env(self, key, state: TimeLimitState, action, params):
        env_state, ts = self.env.step(key, state.env_state, action, params)
        steps = state.steps + 1
        at_limit = (steps >= self.max_steps) & ~ts.terminated
        return TimeLimitState(env_state, steps), ts._replace(truncated=ts.truncated | at_limit)
