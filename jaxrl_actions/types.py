"""Shared data types: what an environment returns and what a training loop stores.

Shapes in comments are for a single (unbatched) environment; the training loops add
leading `[T, B]` axes.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

import jax

Array = jax.Array
PRNGKey = jax.Array
PyTree = Any
Metrics = dict  # str -> scalar array, for logging only


def host_value(x: Any) -> Optional[Any]:
    """`x` as a numpy value for host-side checks, or None while it is being traced
    (inside jit/vmap), where such checks must be skipped. Uses the public error type
    rather than `jax.core.Tracer`, whose home moves between JAX releases."""
    import numpy as np

    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None

# Keys an environment may put in `TimeStep.info` for logging. They are read by
# metrics code only; nothing that changes learning depends on `info`.
EPISODE_RETURN = "episode_return"  # float: return of the last finished episode
EPISODE_LENGTH = "episode_length"  # int: its length
EPISODE_DONE = "episode_done"  # bool: an episode finished on this step
INVALID_ACTION = "invalid_action"  # bool: the action taken was invalid in its state


class TimeStep(NamedTuple):
    """What `reset` and `step` return next to the env state.

    obs:          observation, shaped by `spec.obs_space`
    reward:       float32[]
    terminated:   bool[]   the episode ended in a terminal state: do not bootstrap
    truncated:    bool[]   the episode was cut (time limit): bootstrap from `final_obs`
    action_mask:  valid actions in this state, shaped by the action space's
                  `mask_shape` (a (low, high) pair for a state-dependent Box), or None
    info:         dict of env-specific extras for logging (see the keys above)
    final_obs:    the last observation of the episode that just ended. `AutoReset`
                  fills it (equal to `obs` when nothing ended) because after an
                  auto-reset `obs` already belongs to the next episode; bare envs
                  leave it None.
    final_action_mask: the action mask of `final_obs` (what a truncated episode
                  bootstraps over), filled by `AutoReset` like `final_obs`; None
                  without masks or from bare envs.
    """

    obs: PyTree
    reward: Array
    terminated: Array
    truncated: Array
    action_mask: Optional[PyTree]
    info: dict
    final_obs: Optional[PyTree] = None
    final_action_mask: Optional[PyTree] = None

    @property
    def done(self) -> Array:
        return self.terminated | self.truncated


class Transition(NamedTuple):
    """One environment step as a learner stores it (the agent's own action, not the
    transformed one the env received). Leading axes `[T, B]` inside rollouts."""

    obs: PyTree
    action: PyTree
    reward: Array
    terminated: Array
    truncated: Array
    next_obs: PyTree  # observation to bootstrap from (final_obs on episode ends)
    action_mask: Optional[PyTree]
    next_action_mask: Optional[PyTree]
    # The discount on the bootstrap value: gamma^m for a transition spanning m env steps
    # (the off-policy loop's n-step returns); None for one-step transitions (gamma).
    discount: Optional[Array] = None
    # What the acting policy recorded about itself for this step (e.g. its entropy), from the
    # agent's `extras["behaviour"]` hook; None for agents without one.
    behaviour: Optional[PyTree] = None


class BanditObs(NamedTuple):
    """Observation of the stochastic bandits (envs/bandits.py), n arms, k chosen per step.

    context:     float32[n, d]  features of each arm for the coming choice (ones[n, 1] for
                                 bandits without context)
    arm_rewards: float32[k]     semi-bandit feedback: the reward each arm chosen at the
                                 previous step paid, in the action's order (zeros after reset)
    """

    context: Array
    arm_rewards: Array


class BanditFeedback(NamedTuple):
    """What a bandit agent's `update(state, action, feedback)` learns from (the bandit loop
    builds it from the observation the action was chosen in and the one that followed).

    context:     float32[n, d]  the context the action was chosen in
    arm_rewards: float32[k]     the reward each chosen arm paid, in the action's order
    reward:      float32[]      the step's total reward
    """

    context: Array
    arm_rewards: Array
    reward: Array
