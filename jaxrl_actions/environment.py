"""The environment protocol (explicit keys and params, as in gymnax; typed TimeStep, as
in Jumanji) and the base class for wrappers.

    env.spec -> EnvSpec(obs_space, action_space, max_episode_steps)
    env.default_params
    env.reset(key, params=None) -> (state, TimeStep)
    env.step(key, state, action, params=None) -> (state, TimeStep)

Subclasses implement `reset_env` and `step_env`; the public `reset`/`step` fill in
default params and check the action against the action space at trace time, so a wrong
shape or dtype fails with a message naming expected and actual before XLA compiles.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions.spaces import Space, check_action
from jaxrl_actions.types import PRNGKey, TimeStep


@struct.dataclass
class EnvParams:
    """Base for dynamics / instance parameters. Fields are pytree leaves, so `vmap` over a
    stacked params object runs many instances at once."""


class EnvSpec(NamedTuple):
    obs_space: Space
    action_space: Space
    max_episode_steps: Optional[int]


class Environment:
    """Base class. `name` is the registry name (set by `envs.make`)."""

    name: str = "env"
    # True when the action mask excludes every action the env reports in info[INVALID_ACTION].
    # An env whose published mask is partial on purpose (Gym-µRTS) sets it False.
    mask_is_complete: bool = True

    @property
    def spec(self) -> EnvSpec:
        raise NotImplementedError

    @property
    def default_params(self) -> Any:
        return EnvParams()

    def reset(self, key: PRNGKey, params: Any = None) -> tuple[Any, TimeStep]:
        return self.reset_env(key, self.default_params if params is None else params)

    def step(self, key: PRNGKey, state: Any, action: Any, params: Any = None) -> tuple[Any, TimeStep]:
        check_action(self.spec.action_space, action, where=f"{self.name}.step")
        return self.step_env(key, state, action, self.default_params if params is None else params)

    def reset_env(self, key: PRNGKey, params: Any) -> tuple[Any, TimeStep]:
        raise NotImplementedError

    def step_env(self, key: PRNGKey, state: Any, action: Any, params: Any) -> tuple[Any, TimeStep]:
        raise NotImplementedError

    @property
    def unwrapped(self) -> "Environment":
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


class Wrapper(Environment):
    """Holds the inner env and forwards everything; a wrapper's state nests the inner
    state (`XState(env_state, ...)`). Params are the inner env's params."""

    def __init__(self, env: Environment):
        self.env = env
        self.name = env.name

    @property
    def spec(self) -> EnvSpec:
        return self.env.spec

    @property
    def default_params(self) -> Any:
        return self.env.default_params

    def reset_env(self, key, params):
        return self.env.reset_env(key, params)

    def step_env(self, key, state, action, params):
        return self.env.step_env(key, state, action, params)

    @property
    def unwrapped(self) -> Environment:
        return self.env.unwrapped

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env!r})"


def scalar_timestep(obs, reward, terminated, truncated=False, action_mask=None, info=None) -> TimeStep:
    """A TimeStep with the usual dtypes (float32 reward, bool flags)."""
    return TimeStep(
        obs=obs,
        reward=jnp.asarray(reward, jnp.float32),
        terminated=jnp.asarray(terminated, bool),
        truncated=jnp.asarray(truncated, bool),
        action_mask=action_mask,
        info={} if info is None else info,
    )
