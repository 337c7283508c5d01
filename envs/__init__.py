"""Concrete environments, looked up by name.

    import envs
    env = envs.make("cartpole")              # env.name == "cartpole"
    envs.names()                             # sorted registered names
    envs.describe()                          # [(name, description), ...]
    envs.register("my_env", MyEnv, "what it is", heavy=False)

Each env module registers its own envs when imported; the modules are listed once in
`ENV_MODULES`. A listed module that does not exist (yet) is skipped; any other import error
propagates. Factories run only in `make`, so a module may import expensive libraries (brax,
mujoco) lazily inside its factories and `import envs` stays cheap.

`HEAVY` names the envs that are expensive to compile or step on CPU (physics); the
conformance test runs fewer steps on them.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

import jax.numpy as jnp

from jaxrl_actions.registry import Registry

ENVS = Registry("env")
HEAVY: set[str] = set()  # registered names that opt into the reduced conformance check

# The one place that lists the env modules; each registers its envs on import.
ENV_MODULES = ("classic", "mining", "microrts", "probes", "physics", "dmc", "bandits", "combinatorial", "restless", "cormab",
               "jumanji_envs", "gymnax_envs")


def register(name: str, factory: Callable[..., Any], description: str = "", heavy: bool = False) -> None:
    """Registers `factory(**kwargs) -> Environment` under `name` (called only by `make`)."""
    ENVS.register(name, factory, description)
    if heavy:
        HEAVY.add(name)


def make(name: str, **kwargs: Any):
    """Builds the env registered as `name`; unknown names raise a KeyError with close matches."""
    env = ENVS.make(name, **kwargs)
    env.name = name
    return env


def names() -> list[str]:
    return ENVS.names()


def describe() -> list[tuple[str, str]]:
    return [(entry.name, entry.description) for entry in ENVS.entries()]


def time_limit_flags(time, terminated, max_steps: int):
    """(terminated, truncated) as bool[]: the env's own time limit, shared by the env modules.
    Truncation is reaching `max_steps` steps without also terminating."""
    terminated = jnp.asarray(terminated, bool)
    return terminated, (time >= max_steps) & ~terminated


def _import_env_modules() -> None:
    for module in ENV_MODULES:
        qualified = f"{__name__}.{module}"
        try:
            importlib.import_module(qualified)
        except ModuleNotFoundError as err:
            if err.name != qualified:  # the module exists but something it imports is missing
                raise


_import_env_modules()
