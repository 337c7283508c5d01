"""Brax / MuJoCo-MJX physics envs behind our Environment API.

    env = BraxEnv.from_name("hopper", backend="mjx", max_steps=1000, **brax_kwargs)
    env = BraxEnv(my_brax_env, max_steps=1000)      # any `brax.envs.Env` instance

The adapter is thin: `reset`/`step` call the unwrapped brax env and translate its `State`
into a `TimeStep`. Brax's own training wrappers (episode counter, auto-reset, vmap) are not
used; the episode clock lives here and auto-reset/batching come from our wrappers.

    observation: float32[obs_size], Box(-inf, inf)
    action:      float32[action_size], Box(-1, 1) (brax rescales to actuator ranges)
    reward:      brax's reward for the step
    terminated:  brax's `done` (a fall / unhealthy state): no bootstrapping
    truncated:   `max_steps` steps taken without terminating: bootstrap from the last obs
    action_mask: None (physics envs have no state-dependent action bounds)
    info:        {} (brax's metrics are not forwarded; EpisodeStats adds returns)

Brax is imported lazily (`quiet_brax_import`) and its import-time chatter (missing optional
GPU kernels, the "not actively maintained" notice) is filtered out; other output passes.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import sys
import warnings
from typing import Any, Iterator

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_actions.environment import EnvParams, EnvSpec, Environment
from jaxrl_actions.spaces import Box
from jaxrl_actions.types import PRNGKey, TimeStep

DEFAULT_MAX_STEPS = 1000
DEFAULT_BACKEND = "mjx"

# Lines brax / mujoco print or warn on import and env construction that say nothing
# actionable to a user of this adapter.
_NOISY_PRINTS = re.compile(r"^Failed to import (warp|mujoco_warp)\b")
# MuJoCo's model compiler writes this from C straight to file descriptor 2.
_NOISY_C_STDERR = re.compile(r"^WARNING: compiler attribute 'settotalmass' is deprecated")
_NOISY_WARNINGS = (
    r"Brax System, piplines and environments are not actively being maintained",
    r"JAXopt is no longer maintained",
)
# Brax's MJX pipeline reads fields MJX has deprecated; these warn while tracing.
_TRACE_WARNINGS = r"Accessing `\w+` directly from `Data` is deprecated"


@contextlib.contextmanager
def _quiet_trace() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_TRACE_WARNINGS)
        yield


def _drop_lines(text: str, pattern: re.Pattern) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if not pattern.match(line))


@contextlib.contextmanager
def _filtered_c_stderr(pattern: re.Pattern) -> Iterator[None]:
    """Captures file descriptor 2 (where C libraries write) and replays it without the
    lines matching `pattern`."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            kept = _drop_lines(sink.read().decode(errors="replace"), pattern)
            if kept:
                sys.stderr.write(kept)


@contextlib.contextmanager
def quiet_brax_import() -> Iterator[None]:
    """Runs the body with brax's known import/construction noise filtered: the known
    printed lines are dropped (other output is replayed), the known warnings ignored."""
    captured = io.StringIO()
    with warnings.catch_warnings():
        for message in _NOISY_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        try:
            with _filtered_c_stderr(_NOISY_C_STDERR), contextlib.redirect_stdout(captured):
                yield
        finally:
            kept = _drop_lines(captured.getvalue(), _NOISY_PRINTS)
            if kept:
                sys.stdout.write(kept)


def strong_types(tree: Any) -> Any:
    """Python scalars and weakly typed leaves become strongly typed arrays of their dtype, so
    a state returned by `reset` keeps its types through jitted steps and scan carries."""
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.asarray(x).dtype), tree)


def like_types(new: Any, old: Any) -> Any:
    """`new` cast leaf by leaf to the dtypes of `old` (a step must not change a state's types)."""
    return jax.tree.map(lambda n, o: jnp.asarray(n, jnp.asarray(o).dtype), new, old)


def brax_env_names() -> list[str]:
    with quiet_brax_import():
        import brax.envs

    return sorted(brax.envs._envs)  # brax keeps its registry in this module-level dict


@struct.dataclass
class BraxEnvState:
    brax_state: Any  # the unwrapped env's brax.envs.State
    time: jax.Array  # int32[] steps taken in this episode


class BraxEnv(Environment):
    """Our Environment over an unwrapped `brax.envs.Env` (see module docstring)."""

    def __init__(self, brax_env: Any, max_steps: int = DEFAULT_MAX_STEPS):
        if int(max_steps) < 1:
            raise ValueError(f"BraxEnv needs max_steps >= 1, got max_steps={max_steps}")
        # brax's `observation_size` runs `reset` eagerly (op by op, slow); its shape is enough.
        with _quiet_trace():
            obs = jax.eval_shape(lambda key: brax_env.reset(key).obs, jax.random.key(0))
        if not isinstance(obs, jax.ShapeDtypeStruct) or len(obs.shape) != 1:
            raise TypeError(f"BraxEnv supports flat observations only, got {obs!r}")
        obs_size = obs.shape[0]
        self.brax_env = brax_env
        self.max_steps = int(max_steps)
        self._spec = EnvSpec(
            obs_space=Box(-np.inf, np.inf, (int(obs_size),)),
            action_space=Box(-1.0, 1.0, (int(brax_env.action_size),)),
            max_episode_steps=self.max_steps,
        )
        self.name = type(brax_env).__name__.lower()

    @classmethod
    def from_name(cls, name: str, backend: str = DEFAULT_BACKEND, max_steps: int = DEFAULT_MAX_STEPS,
                  **brax_kwargs: Any) -> "BraxEnv":
        """Builds brax's env `name` with `backend` (mjx, generalized, positional, spring);
        `brax_kwargs` go to the brax env's constructor unchanged."""
        with quiet_brax_import():
            import brax.envs

            if name not in brax.envs._envs:
                raise KeyError(f"unknown brax env {name!r}; brax has {', '.join(sorted(brax.envs._envs))}")
            brax_env = brax.envs.get_environment(name, backend=backend, **brax_kwargs)
        env = cls(brax_env, max_steps=max_steps)
        env.name = name
        return env

    @property
    def spec(self) -> EnvSpec:
        return self._spec

    @property
    def default_params(self) -> EnvParams:
        return EnvParams()

    def _timestep(self, brax_state: Any, terminated: jax.Array, truncated: jax.Array) -> TimeStep:
        return TimeStep(
            obs=jnp.asarray(brax_state.obs, jnp.float32),
            reward=jnp.asarray(brax_state.reward, jnp.float32),
            terminated=terminated,
            truncated=truncated,
            action_mask=None,
            info={},
        )

    def reset_env(self, key: PRNGKey, params: EnvParams) -> tuple[BraxEnvState, TimeStep]:
        with _quiet_trace():
            brax_state = self.brax_env.reset(key)
        # Python scalars (in some tasks' metrics) become strongly typed arrays, as `step` keeps them.
        brax_state = strong_types(brax_state)
        no = jnp.bool_(False)
        return BraxEnvState(brax_state, jnp.int32(0)), self._timestep(brax_state, no, no)

    def step_env(self, key: PRNGKey, state: BraxEnvState, action: jax.Array, params: EnvParams):
        # Brax physics is deterministic given the state; `key` is unused.
        with _quiet_trace():
            brax_state = self.brax_env.step(state.brax_state, action)
        # Some tasks (e.g. ant) return weakly typed scalars where reset returned strong ones;
        # keep the state's types fixed so jitted steps and scan carries trace once.
        brax_state = like_types(brax_state, state.brax_state)
        time = state.time + 1
        terminated = jnp.asarray(brax_state.done, jnp.float32) > 0.5
        truncated = (time >= self.max_steps) & ~terminated
        return BraxEnvState(brax_state, time), self._timestep(brax_state, terminated, truncated)

    def __repr__(self) -> str:
        return f"BraxEnv({self.name}, backend={self.brax_env.backend}, max_steps={self.max_steps})"
