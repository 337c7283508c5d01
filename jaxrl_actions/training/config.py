"""The loop settings agent configs inherit: `OnPolicyConfig` and `OffPolicyConfig`.

These are plain config records with host-side checks; they import nothing of the loops or
of `agents/`, so an agent module can subclass them without importing a training loop
(`agents/` sits below `training/` in the import layers; this module sits with the core).
"""
from __future__ import annotations

import math

from flax import struct


@struct.dataclass
class OnPolicyConfig:
    """Loop settings every on-policy agent config inherits (all structural)."""

    total_steps: int = struct.field(pytree_node=False, default=500_000)  # env steps over all envs
    num_envs: int = struct.field(pytree_node=False, default=8)
    rollout_len: int = struct.field(pytree_node=False, default=128)

    @property
    def steps_per_update(self) -> int:
        return self.num_envs * self.rollout_len

    @property
    def num_updates(self) -> int:
        return max(1, self.total_steps // self.steps_per_update)


def check_on_policy_config(config: OnPolicyConfig) -> None:
    if not isinstance(config, OnPolicyConfig):
        raise TypeError(f"the on-policy loop needs a config subclassing OnPolicyConfig, got {type(config).__name__}")
    for name in ("total_steps", "num_envs", "rollout_len"):
        if int(getattr(config, name)) < 1:
            raise ValueError(f"{type(config).__name__}.{name}={getattr(config, name)!r} must be >= 1")


REPLAYS = ("uniform", "prioritised")


@struct.dataclass
class OffPolicyConfig:
    """Loop settings every off-policy agent config inherits (all structural)."""

    total_steps: int = struct.field(pytree_node=False, default=1_000_000)  # env steps over all envs
    num_envs: int = struct.field(pytree_node=False, default=1)
    batch_size: int = struct.field(pytree_node=False, default=256)
    buffer_size: int = struct.field(pytree_node=False, default=1_000_000)
    warmup_steps: int = struct.field(pytree_node=False, default=10_000)  # random-action env steps before learning
    # Gradient steps per iteration (one step of every env): the update-to-data ratio when num_envs == 1.
    utd: int = struct.field(pytree_node=False, default=1)
    n_step: int = struct.field(pytree_node=False, default=1)  # env steps summed into one stored transition
    # One learning phase (of `utd` gradient steps) every `update_every` iterations once learning
    # has started: 1 learns every iteration; DecQN's acme agent learns once per 8 env steps.
    update_every: int = struct.field(pytree_node=False, default=1)
    # Warm-up steps act uniformly at random (True) or with the agent's own policy (False: the
    # policy acts from the first step and warm-up only delays learning, as in acme agents).
    random_warmup: bool = struct.field(pytree_node=False, default=True)
    # Replay: "uniform", or "prioritised" (Schaul et al. 2016; flashbax's sum tree): items are
    # sampled with probability p^priority_exponent / sum, the loss is weighted by
    # (1/P)^importance_exponent normalised by the batch max, and the agent's update returns the
    # new priorities (`Agent.extras["prioritised_update"]`).
    replay: str = struct.field(pytree_node=False, default="uniform")
    # alpha = 0.6 and beta_0 = 0.4 of Schaul et al. 2016 (proportional variant); beta is constant here.
    priority_exponent: float = struct.field(pytree_node=False, default=0.6)
    importance_exponent: float = struct.field(pytree_node=False, default=0.4)


def check_off_policy_config(config: OffPolicyConfig) -> None:
    """Host-side checks of the loop settings, naming the bad field and value."""
    if not isinstance(config, OffPolicyConfig):
        raise TypeError(f"the off-policy loop needs a config subclassing OffPolicyConfig, got {type(config).__name__}")
    positive = ("total_steps", "num_envs", "batch_size", "buffer_size", "n_step")
    for name in positive:
        if int(getattr(config, name)) < 1:
            raise ValueError(f"{type(config).__name__}.{name}={getattr(config, name)!r} must be >= 1")
    for name in ("warmup_steps", "utd"):
        if int(getattr(config, name)) < 0:
            raise ValueError(f"{type(config).__name__}.{name}={getattr(config, name)!r} must be >= 0")
    if int(config.update_every) < 1:
        raise ValueError(f"{type(config).__name__}.update_every={config.update_every!r} must be >= 1")
    if config.replay not in REPLAYS:
        raise ValueError(f"{type(config).__name__}.replay={config.replay!r}; choose one of {REPLAYS}")
    for name in ("priority_exponent", "importance_exponent"):
        if not 0.0 <= float(getattr(config, name)) <= 1.0:
            raise ValueError(f"{type(config).__name__}.{name}={getattr(config, name)!r} must lie in [0, 1]")
    if config.total_steps < config.num_envs:
        raise ValueError(f"total_steps={config.total_steps} is less than one step of num_envs={config.num_envs} envs")
    if config.n_step > 1 and not hasattr(config, "gamma"):
        raise ValueError(f"{type(config).__name__}.n_step={config.n_step} needs a gamma field to discount with")
    if config.buffer_size < max(config.batch_size, config.num_envs):
        raise ValueError(
            f"buffer_size={config.buffer_size} must hold a batch (batch_size={config.batch_size}) "
            f"and one step of all envs (num_envs={config.num_envs})"
        )


def learning_starts(config: OffPolicyConfig) -> int:
    """First iteration that learns: after warm-up and once the buffer holds a batch (the
    first n-step transition is stored after n_step iterations)."""
    steps = max(config.warmup_steps, config.batch_size + (config.n_step - 1) * config.num_envs)
    return math.ceil(steps / config.num_envs)
