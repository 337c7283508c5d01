"""Environment wrappers: auto-reset, episode statistics, time limits, batching,
observation normalisation, and the usual training stack."""
from jaxrl_actions.wrappers.autoreset import AutoReset, AutoResetState, KeepOnReset
from jaxrl_actions.wrappers.compose import find_wrapper, training_env, wrap_for_training
from jaxrl_actions.wrappers.episode_stats import EpisodeCounters, EpisodeStats, EpisodeStatsState
from jaxrl_actions.wrappers.observation import NormalizeObs, NormalizeObsState
from jaxrl_actions.wrappers.time_limit import TimeLimit, TimeLimitState
from jaxrl_actions.wrappers.vec import BatchedWrapper, VecEnv

__all__ = [
    "AutoReset",
    "AutoResetState",
    "BatchedWrapper",
    "EpisodeCounters",
    "EpisodeStats",
    "EpisodeStatsState",
    "KeepOnReset",
    "NormalizeObs",
    "NormalizeObsState",
    "TimeLimit",
    "TimeLimitState",
    "VecEnv",
    "training_env",
    "find_wrapper",
    "wrap_for_training",
]
