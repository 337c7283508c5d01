"""MuJoCo Playground envs (the DeepMind Control Suite ported to MJX) behind our Environment API.

    env = PlaygroundEnv.from_name("CartpoleSwingup")                    # MJX "jax" pipeline
    env = PlaygroundEnv.from_name("cartpole_swingup", action_repeat=4)  # snake_case works too
    env = PlaygroundEnv.from_name("WalkerWalk", impl="warp", episode_length=500)  # config overrides
    env = PlaygroundEnv(my_playground_env)                              # any `mujoco_playground.MjxEnv`

The adapter is thin: `reset`/`step` call the playground env and translate its `State` into a
`TimeStep`. Playground's brax training wrappers (episode counter, action repeat, auto-reset,
vmap) are not used: the episode clock and the action repeat live here, auto-reset and
batching come from our wrappers.

    observation: float32[obs_size], Box(-inf, inf); a dict observation is flattened (leaves
                 raveled and concatenated in sorted key order); the DMC tasks give flat vectors
    action:      float32[action_size] in Box(-1, 1) (playground's convention; every DMC
                 actuator has ctrlrange [-1, 1])
    reward:      the task's reward summed over the `action_repeat` task steps of one env step
                 (a DMC task's reward per task step lies in [0, 1])
    terminated:  never. The DMC tasks have no failure states; playground's `done` only flags
                 a NaN physics state, which is not forwarded (the NaN shows in obs/reward)
    truncated:   the task's `episode_length` (1000 for every DMC task) counted in TASK steps,
                 so an episode is max_episode_steps = ceil(episode_length / action_repeat)
                 env steps (1000 / action_repeat when it divides); the last env step of an
                 episode runs only the task steps left before the limit
    action_mask: None
    info:        {} (playground's reward-term metrics are not forwarded)

`impl` picks MJX's pipeline: "jax" (default; compiles in seconds on CPU) or "warp" (NVIDIA
Warp kernels; playground's own default, built for GPUs: on CPU its kernels take about a
minute to compile). The step's `key` is unused: a playground env keeps its randomness in
its state.

MuJoCo Playground (PyPI package `playground`, module `mujoco_playground`) is imported lazily;
without it, building an env raises an ImportError naming the extra to install. Only the
dm_control_suite tasks are covered: playground's locomotion and manipulation tasks download
robot assets at run time.
"""
from __future__ import annotations

import functools
import math
import re
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_actions.adapters.brax import like_types, quiet_brax_import, strong_types
from jaxrl_actions.environment import EnvParams, EnvSpec, Environment
from jaxrl_actions.spaces import Box
from jaxrl_actions.types import PRNGKey, TimeStep

DEFAULT_IMPL = "jax"
IMPLS = ("jax", "warp")
DEFAULT_EPISODE_LENGTH = 1000  # dm_control's suite limit; used when an env's config has none
INSTALL_HINT = 'pip install -e ".[dmc]" (the `dmc` extra: MuJoCo Playground, PyPI package `playground`)'


def dm_control_suite() -> Any:
    """Playground's `dm_control_suite` module, or an ImportError naming the extra to install."""
    try:
        with quiet_brax_import():  # playground imports brax and MJX, which print the same notices
            from mujoco_playground import dm_control_suite as suite
    except ModuleNotFoundError as err:
        raise ImportError(f"the DMC envs need MuJoCo Playground, which is not installed ({err}); "
                          f"install it with: {INSTALL_HINT}") from err
    return suite


def snake_case(name: str) -> str:
    """Playground's task name in snake_case: "CartpoleSwingup" -> "cartpole_swingup"."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def dmc_task_names() -> list[str]:
    """Playground's DMC task names ("CartpoleSwingup", ...), sorted."""
    return sorted(dm_control_suite().ALL_ENVS)


def _resolve_task(name: str) -> str:
    by_snake = {snake_case(n): n for n in dmc_task_names()}
    if name in by_snake.values():
        return name
    if name in by_snake:
        return by_snake[name]
    raise KeyError(f"unknown MuJoCo Playground DMC task {name!r}; known: {', '.join(sorted(by_snake))}")


def flat_obs(obs: Any) -> jax.Array:
    """float32[n]: every leaf of `obs` raveled and concatenated (dict leaves in sorted key order)."""
    leaves = jax.tree.leaves(obs)
    if len(leaves) == 1:
        return jnp.ravel(jnp.asarray(leaves[0], jnp.float32))
    return jnp.concatenate([jnp.ravel(jnp.asarray(x, jnp.float32)) for x in leaves])


@struct.dataclass
class PlaygroundEnvState:
    pg_state: Any  # the playground env's State(data, obs, reward, done, metrics, info)
    time: jax.Array  # int32[] TASK steps taken in this episode (each env step adds action_repeat)


class PlaygroundEnv(Environment):
    """Our Environment over a MuJoCo Playground env (see module docstring)."""

    def __init__(self, pg_env: Any, action_repeat: int = 1, episode_length: Optional[int] = None):
        if isinstance(action_repeat, bool) or int(action_repeat) != action_repeat or action_repeat < 1:
            raise ValueError(f"PlaygroundEnv needs an integer action_repeat >= 1, got action_repeat={action_repeat!r}")
        if episode_length is None:
            config = getattr(pg_env, "_config", None)  # playground keeps its config here
            episode_length = getattr(config, "episode_length", DEFAULT_EPISODE_LENGTH)
        if int(episode_length) < 1:
            raise ValueError(f"PlaygroundEnv needs episode_length >= 1, got episode_length={episode_length}")
        self.pg_env = pg_env
        self.action_repeat = int(action_repeat)
        self.episode_length = int(episode_length)
        self.impl = getattr(getattr(pg_env, "_config", None), "impl", None)  # MJX pipeline, for repr
        self.name = type(pg_env).__name__

    @classmethod
    def from_name(cls, name: str, impl: str = DEFAULT_IMPL, action_repeat: int = 1,
                  **config_overrides: Any) -> "PlaygroundEnv":
        """Builds playground's DMC task `name` (playground's "CartpoleSwingup" or its snake_case
        "cartpole_swingup") with MJX pipeline `impl`; `config_overrides` (e.g. episode_length,
        ctrl_dt) go to playground's task config unchanged."""
        if impl not in IMPLS:
            raise ValueError(f"unknown MJX impl {impl!r}; choose one of {IMPLS}")
        suite = dm_control_suite()
        task = _resolve_task(name)
        with quiet_brax_import():  # some models print MuJoCo compiler deprecations on load
            pg_env = suite.load(task, config_overrides={**config_overrides, "impl": impl})
        env = cls(pg_env, action_repeat=action_repeat)
        env.name = task
        return env

    @functools.cached_property
    def spec(self) -> EnvSpec:
        # The observation size needs a trace of `reset` (seconds for the larger models on
        # CPU), so it waits until the spec is first asked for.
        obs = jax.eval_shape(lambda key: flat_obs(self.pg_env.reset(key).obs), jax.random.key(0))
        return EnvSpec(
            obs_space=Box(-np.inf, np.inf, obs.shape),
            action_space=Box(-1.0, 1.0, (int(self.pg_env.action_size),)),
            max_episode_steps=math.ceil(self.episode_length / self.action_repeat),
        )

    @property
    def default_params(self) -> EnvParams:
        return EnvParams()

    def reset_env(self, key: PRNGKey, params: EnvParams) -> tuple[PlaygroundEnvState, TimeStep]:
        pg_state = strong_types(self.pg_env.reset(key))
        no = jnp.bool_(False)
        return PlaygroundEnvState(pg_state, jnp.int32(0)), self._timestep(pg_state.obs, pg_state.reward, no)

    def step_env(self, key: PRNGKey, state: PlaygroundEnvState, action: jax.Array, params: EnvParams):
        if self.action_repeat == 1:
            pg_state = self._task_step(state.pg_state, action)
            reward, steps = pg_state.reward, 1
        else:
            pg_state, reward, steps = self._repeat(state, action)
        time = state.time + steps
        truncated = time >= self.episode_length
        return PlaygroundEnvState(pg_state, time), self._timestep(pg_state.obs, reward, truncated)

    def _task_step(self, pg_state: Any, action: jax.Array) -> Any:
        return like_types(self.pg_env.step(pg_state, action), pg_state)

    def _repeat(self, state: PlaygroundEnvState, action: jax.Array) -> tuple[Any, jax.Array, jax.Array]:
        """`action_repeat` task steps (fewer when the episode limit comes first, but at least
        one): (last state, summed reward float32[], task steps taken int32[])."""
        steps = jnp.clip(self.episode_length - state.time, 1, self.action_repeat)

        def body(carry, i):
            pg_state, total = carry
            new = self._task_step(pg_state, action)
            go = i < steps  # steps past the limit are computed and discarded
            pg_state = jax.tree.map(lambda n, o: jnp.where(go, n, o), new, pg_state)
            return (pg_state, total + jnp.where(go, new.reward, 0.0)), None

        init = (state.pg_state, jnp.float32(0.0))
        (pg_state, total), _ = jax.lax.scan(body, init, jnp.arange(self.action_repeat))
        return pg_state, total, steps

    def _timestep(self, obs: Any, reward: jax.Array, truncated: jax.Array) -> TimeStep:
        return TimeStep(
            obs=flat_obs(obs),
            reward=jnp.asarray(reward, jnp.float32),
            terminated=jnp.bool_(False),  # the DMC tasks never terminate (module docstring)
            truncated=jnp.asarray(truncated, bool),
            action_mask=None,
            info={},
        )

    def __repr__(self) -> str:
        return (f"PlaygroundEnv({self.name}, impl={self.impl}, action_repeat={self.action_repeat}, "
                f"episode_length={self.episode_length})")
