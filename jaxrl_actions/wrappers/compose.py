"""The usual training stack in one call, and a helper to find a wrapper in a stack.

    wrap_for_training(env, num_envs) == NormalizeObs?(VecEnv(AutoReset(EpisodeStats?(env)), num_envs))
    training_env(env, num_envs)       what the loops call: wrap_for_training unless already wrapped
"""
from __future__ import annotations

from typing import Optional, TypeVar

from jaxrl_actions.environment import Environment
from jaxrl_actions.wrappers.autoreset import AutoReset
from jaxrl_actions.wrappers.episode_stats import EpisodeStats
from jaxrl_actions.wrappers.observation import NormalizeObs
from jaxrl_actions.wrappers.vec import VecEnv

W = TypeVar("W")


def find_wrapper(env: Environment, cls: type[W]) -> Optional[W]:
    """The outermost wrapper of type `cls` in the stack (walking `.env`), or None."""
    while env is not None:
        if isinstance(env, cls):
            return env
        env = getattr(env, "env", None)
    return None


def wrap_for_training(
    env: Environment,
    num_envs: int,
    normalize_obs: bool = False,
    episode_stats: bool = True,
    reuse_initial_state: bool = False,
) -> Environment:
    """Batched, auto-resetting env for a training loop. EpisodeStats is added only when the
    stack has none yet, so an experiment may place it lower (e.g. under an action
    transform, to log the env's own return rather than a penalised one)."""
    if find_wrapper(env, (AutoReset, VecEnv)) is not None:
        raise ValueError(f"wrap_for_training expects an unbatched env without AutoReset, got {env!r}")
    if episode_stats and find_wrapper(env, EpisodeStats) is None:
        env = EpisodeStats(env)
    env = VecEnv(AutoReset(env, reuse_initial_state=reuse_initial_state), num_envs)
    if normalize_obs:
        env = NormalizeObs(env)
    return env


def training_env(env: Environment, num_envs: int) -> Environment:
    """`env` batched and auto-resetting with episode statistics, for a training loop; an env
    that already is (a VecEnv over AutoReset, e.g. with `reuse_initial_state`) is used as given."""
    if find_wrapper(env, VecEnv) is None:
        return wrap_for_training(env, num_envs)
    if find_wrapper(env, AutoReset) is None:
        raise ValueError(f"a training loop needs auto-resetting envs; {env!r} has a VecEnv but no AutoReset")
    if env.num_envs != num_envs:
        raise ValueError(f"{env!r} runs {env.num_envs} envs but the config asks for num_envs={num_envs}")
    return env
