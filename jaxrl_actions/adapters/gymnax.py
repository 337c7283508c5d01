"""gymnax (1.x) environments behind our Environment API.

    env = GymnaxEnv.from_name("CartPole-v1")              # any registered gymnax id
    env = GymnaxEnv(my_gymnax_env, my_gymnax_params)

gymnax is imported lazily: building an adapter without it raises an ImportError naming the
extra to install (`pip install -e ".[gymnax]"`).

The adapter calls gymnax's `reset_env` / `step_env`, not its auto-resetting `step`: our
`AutoReset` wrapper resets, and keeps the last observation of an ended episode in
`TimeStep.final_obs`, so truncated episodes bootstrap from the true final state (gymnax's own
`step` has already swapped in the next episode's first observation).

    params:      gymnax's `EnvParams` (dynamics constants, `max_steps_in_episode`): our
                 `default_params`, so `vmap` over stacked params runs variants at once
    observation: gymnax's observation as float32 (bool MinAtar frames as 0/1), the shape of
                 its observation space; `Box` from that space's bounds
    action:      gymnax `Discrete(n)` -> `Discrete(n)`; `Box` -> `Box`
    reward:      gymnax's reward, float32[]
    terminated:  gymnax 1.x `step_env`'s `terminated` (a natural end: no bootstrapping)
    truncated:   gymnax's `is_truncated` (the time limit `max_steps_in_episode`) without
                 termination: bootstrap
    action_mask: None (gymnax envs have no masks)
    info:        {} (gymnax's info, e.g. its legacy `discount`, is not forwarded)

`spec.max_episode_steps` is the default params' `max_steps_in_episode`.
"""
from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_actions.environment import EnvSpec, Environment
from jaxrl_actions.spaces import Box, Discrete, Space
from jaxrl_actions.types import PRNGKey, TimeStep

EXTRA = "gymnax"  # pyproject extra that installs gymnax (and `six`, which it imports undeclared)


def import_gymnax():
    """The `gymnax` module, or an ImportError naming the extra to install."""
    try:
        import gymnax
    except ImportError as err:
        raise ImportError(
            f"gymnax environments need the `gymnax` package (1.x) and `six` ({err}); install them with "
            f"pip install -e \".[{EXTRA}]\" (or \".[envs]\" for every adapter)"
        ) from err
    return gymnax


def make_gymnax_env(env_id: str, **gymnax_kwargs: Any) -> tuple[Any, Any]:
    """`gymnax.make(env_id, **gymnax_kwargs)` -> (env, default params); an unknown id raises a
    KeyError listing gymnax's."""
    gymnax = import_gymnax()
    if env_id not in gymnax.registered_envs:
        raise KeyError(f"unknown gymnax id {env_id!r}; gymnax has {', '.join(gymnax.registered_envs)}")
    return gymnax.make(env_id, **gymnax_kwargs)


def convert_space(space: Any, what: str) -> Space:
    """A gymnax space as ours (Discrete or Box)."""
    from gymnax.environments import spaces

    if isinstance(space, spaces.Discrete):
        return Discrete(int(space.n))
    if isinstance(space, spaces.Box):
        shape = tuple(int(s) for s in space.shape)
        low = np.broadcast_to(np.asarray(space.low, np.float32), shape)
        high = np.broadcast_to(np.asarray(space.high, np.float32), shape)
        return Box(low, high, shape)
    raise TypeError(f"GymnaxEnv supports Discrete and Box {what} spaces, got {space!r}")


class GymnaxEnv(Environment):
    """Our Environment over a gymnax 1.x environment (see module docstring).

    bounded_obs: take the observation `Box`'s bounds from gymnax's observation space; False
                 for envs whose observations leave the bounds gymnax declares (they become
                 (-inf, inf))
    """

    def __init__(self, gymnax_env: Any, params: Optional[Any] = None, bounded_obs: bool = True):
        import_gymnax()
        params = gymnax_env.default_params if params is None else params
        self.gymnax_env = gymnax_env
        self._params = params
        action_space = convert_space(gymnax_env.action_space(params), "action")
        obs_space = convert_space(gymnax_env.observation_space(params), "observation")
        if isinstance(obs_space, Discrete):  # e.g. FrozenLake's cell index
            obs_space = Box(0.0, obs_space.n - 1.0, ())
        if not bounded_obs:
            obs_space = Box(-np.inf, np.inf, obs_space.shape)
        max_steps = getattr(params, "max_steps_in_episode", None)
        self._spec = EnvSpec(obs_space, action_space, None if max_steps is None else int(max_steps))
        self.name = gymnax_env.name

    @classmethod
    def from_name(cls, env_id: str, bounded_obs: bool = True, **gymnax_kwargs: Any) -> "GymnaxEnv":
        """Builds gymnax's registered `env_id` with its default params; `gymnax_kwargs` go to `gymnax.make`."""
        gymnax_env, params = make_gymnax_env(env_id, **gymnax_kwargs)
        env = cls(gymnax_env, params, bounded_obs=bounded_obs)
        env.name = f"gymnax/{env_id}"
        return env

    @property
    def spec(self) -> EnvSpec:
        return self._spec

    @property
    def default_params(self) -> Any:
        return self._params

    def _obs(self, obs: Any) -> jax.Array:
        return jnp.asarray(obs, jnp.float32).reshape(self._spec.obs_space.shape)

    def _action(self, action: Any) -> Any:
        if isinstance(self._spec.action_space, Discrete):
            return jnp.asarray(action, jnp.int32)
        return jnp.asarray(action, jnp.float32)

    def reset_env(self, key: PRNGKey, params: Any) -> tuple[Any, TimeStep]:
        obs, state = self.gymnax_env.reset_env(key, params)
        # Python scalars (gymnax's `time=0`) become strongly typed arrays, as `step` keeps them,
        # so scan carries and AutoReset's selections see one type.
        state = jax.tree.map(lambda x: jnp.asarray(x, jnp.asarray(x).dtype), state)
        no = jnp.bool_(False)
        return state, TimeStep(self._obs(obs), jnp.float32(0.0), no, no, None, {})

    def step_env(self, key: PRNGKey, state: Any, action: Any, params: Any) -> tuple[Any, TimeStep]:
        old = state
        obs, state, reward, terminated, _ = self.gymnax_env.step_env(key, state, self._action(action), params)
        state = jax.tree.map(lambda new, prev: jnp.asarray(new, jnp.asarray(prev).dtype), state, old)
        terminated = jnp.asarray(terminated, bool).reshape(())
        truncated = jnp.asarray(self.gymnax_env.is_truncated(state, params), bool).reshape(()) & ~terminated
        reward = jnp.asarray(reward, jnp.float32).reshape(())
        return state, TimeStep(self._obs(obs), reward, terminated, truncated, None, {})

    def __repr__(self) -> str:
        return f"GymnaxEnv({self.name})"
