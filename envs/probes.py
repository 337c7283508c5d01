"""Probe environments: tiny envs that each check one learning fact, plus a fast env for
end-to-end runner tests. Each exposes `optimal_return` (the expected undiscounted return of
the best policy) so learning tests can compare against it.

    probe_bandit         one step; reward depends on the action (Discrete)
    probe_masked_bandit  one step; the mask always forbids the best action, plus one random
                         other; a masked learner must pick the best *valid* action
    probe_two_step       a delayed reward: credit assignment across steps, and discounting
    probe_continuous     one step; reward -(a - target)^2 for a target shown in the obs (Box)
    probe_fast           cheap fixed-length episodes; reward for copying a random bit
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

import envs
from envs import time_limit_flags
from jaxrl_actions.environment import EnvSpec, Environment, scalar_timestep
from jaxrl_actions.spaces import Box, Discrete
from jaxrl_actions.types import INVALID_ACTION, Array


@struct.dataclass
class ProbeState:
    obs: Array  # the current observation
    time: Array  # int32[]


def _timestep(state: ProbeState, reward, terminated, truncated=False, action_mask=None, info=None):
    return scalar_timestep(state.obs, reward, terminated, truncated, action_mask, info)


class BanditProbe(Environment):
    """One-step bandit: the reward depends only on the action.

    Observation: float32[1], always 1. Action: Discrete(len(rewards)).
    Reward: rewards[action] (default (0.1, 0.4, 1.0, 0.7): action 2 is best).
    Termination: after the single step.
    """

    def __init__(self, rewards: tuple = (0.1, 0.4, 1.0, 0.7)):
        self.rewards = tuple(float(r) for r in rewards)
        self.optimal_return = max(self.rewards)
        self.best_action = self.rewards.index(self.optimal_return)

    @property
    def spec(self):
        return EnvSpec(Box(0.0, 1.0, (1,)), Discrete(len(self.rewards)), 1)

    def reset_env(self, key, params):
        state = ProbeState(jnp.ones(1, jnp.float32), jnp.int32(0))
        return state, _timestep(state, 0.0, False)

    def step_env(self, key, state, action, params):
        reward = jnp.asarray(self.rewards, jnp.float32)[action]
        return state.replace(time=state.time + 1), _timestep(state, reward, True)


class MaskedBanditProbe(Environment):
    """One-step bandit whose mask forbids the best action and one random other.

    Observation: float32[n], the action mask as 0/1 (so the best valid action is
        observable). Action: Discrete(n), mask bool[n].
    Reward: rewards[action] for a valid action (default (0.1, 0.4, 1.0, 0.7)); an invalid
        action does nothing, earns 0 and sets `info[INVALID_ACTION]`. The best valid action
        is 3 unless 3 is masked, then 1.
    Termination: after the single step.
    """

    def __init__(self, rewards: tuple = (0.1, 0.4, 1.0, 0.7)):
        self.rewards = tuple(float(r) for r in rewards)
        if len(self.rewards) < 3:
            raise ValueError(f"MaskedBanditProbe needs at least 3 actions, got rewards={self.rewards}")
        order = sorted(range(len(self.rewards)), key=self.rewards.__getitem__, reverse=True)
        self.forbidden_best = order[0]
        others = [a for a in range(len(self.rewards)) if a != self.forbidden_best]
        # The other forbidden action is uniform over `others`; the best remaining action earns.
        self.optimal_return = sum(
            max(self.rewards[a] for a in others if a != masked) for masked in others
        ) / len(others)

    @property
    def spec(self):
        n = len(self.rewards)
        return EnvSpec(Box(0.0, 1.0, (n,)), Discrete(n), 1)

    def reset_env(self, key, params):
        n = len(self.rewards)
        others = jnp.asarray([a for a in range(n) if a != self.forbidden_best], jnp.int32)
        also_forbidden = jax.random.choice(key, others)
        mask = (jnp.arange(n) != self.forbidden_best) & (jnp.arange(n) != also_forbidden)
        state = ProbeState(mask.astype(jnp.float32), jnp.int32(0))
        return state, _timestep(state, 0.0, False, action_mask=mask, info={INVALID_ACTION: jnp.bool_(False)})

    def step_env(self, key, state, action, params):
        mask = state.obs > 0.5
        valid = mask[action]
        reward = jnp.where(valid, jnp.asarray(self.rewards, jnp.float32)[action], 0.0)
        return state.replace(time=state.time + 1), _timestep(
            state, reward, True, action_mask=mask, info={INVALID_ACTION: ~valid}
        )


class TwoStepProbe(Environment):
    """Two steps; the first action decides a reward that arrives only at the second.

    Observation: float32[3], one-hot of (start, took-the-small-reward, waits-for-the-big-one).
    Action: Discrete(2). At the start, action 0 pays `small` (0.5) now; action 1 pays 0 now
        and 1 at the next step, whatever is done then. So action 1 is best when
        gamma > small (and undiscounted, optimal return 1); a learner that cannot carry
        credit back one step, or discounts by gamma < small, prefers action 0.
    Termination: after the second step.
    """

    def __init__(self, small: float = 0.5):
        self.small = float(small)
        self.optimal_return = max(1.0, self.small)

    @property
    def spec(self):
        return EnvSpec(Box(0.0, 1.0, (3,)), Discrete(2), 2)

    def reset_env(self, key, params):
        state = ProbeState(jnp.array([1.0, 0.0, 0.0], jnp.float32), jnp.int32(0))
        return state, _timestep(state, 0.0, False)

    def step_env(self, key, state, action, params):
        at_start = state.time == 0
        waiting = state.obs[2] > 0.5
        reward = jnp.where(at_start, jnp.where(action == 0, self.small, 0.0), jnp.where(waiting, 1.0, 0.0))
        next_obs = jax.nn.one_hot(jnp.where(at_start, 1 + action, 0), 3, dtype=jnp.float32)
        state = ProbeState(jnp.where(at_start, next_obs, state.obs), state.time + 1)
        return state, _timestep(state, reward, ~at_start)


class ContinuousProbe(Environment):
    """One step with a continuous action aimed at a target shown in the observation.

    Observation: float32[dim], the target, drawn U(-0.5, 0.5) per episode.
    Action: Box(-1, 1, (dim,)). Reward: -sum((action - target)^2) (optimal 0).
    Termination: after the single step.
    """

    def __init__(self, dim: int = 1):
        self.dim = int(dim)
        if self.dim < 1:
            raise ValueError(f"ContinuousProbe needs dim >= 1, got dim={dim}")
        self.optimal_return = 0.0

    @property
    def spec(self):
        return EnvSpec(Box(-0.5, 0.5, (self.dim,)), Box(-1.0, 1.0, (self.dim,)), 1)

    def reset_env(self, key, params):
        state = ProbeState(jax.random.uniform(key, (self.dim,), jnp.float32, -0.5, 0.5), jnp.int32(0))
        return state, _timestep(state, 0.0, False)

    def step_env(self, key, state, action, params):
        reward = -jnp.sum((action - state.obs) ** 2)
        return state.replace(time=state.time + 1), _timestep(state, reward, True)


class FastProbe(Environment):
    """A cheap env for end-to-end tests: copy a random bit, fixed-length episodes.

    Observation: float32[2], one-hot of a bit drawn afresh every step.
    Action: Discrete(2). Reward: 1 when the action equals the observed bit, else 0
        (uniform random policy: episode_length / 2; optimal: episode_length).
    Termination: never. Truncation: after `episode_length` (default 32) steps.
    """

    def __init__(self, episode_length: int = 32):
        self.episode_length = int(episode_length)
        if self.episode_length < 1:
            raise ValueError(f"FastProbe needs episode_length >= 1, got episode_length={episode_length}")
        self.optimal_return = float(self.episode_length)

    @property
    def spec(self):
        return EnvSpec(Box(0.0, 1.0, (2,)), Discrete(2), self.episode_length)

    def _draw(self, key):
        return jax.nn.one_hot(jax.random.bernoulli(key).astype(jnp.int32), 2, dtype=jnp.float32)

    def reset_env(self, key, params):
        state = ProbeState(self._draw(key), jnp.int32(0))
        return state, _timestep(state, 0.0, False)

    def step_env(self, key, state, action, params):
        reward = state.obs[action]
        state = ProbeState(self._draw(key), state.time + 1)
        terminated, truncated = time_limit_flags(state.time, False, self.episode_length)
        return state, _timestep(state, reward, terminated, truncated)


for _name, _factory, _description in (
    ("probe_bandit", BanditProbe, "Probe: one-step bandit, reward depends on the action (Discrete)"),
    ("probe_masked_bandit", MaskedBanditProbe, "Probe: one-step bandit whose mask forbids the best action"),
    ("probe_two_step", TwoStepProbe, "Probe: delayed reward, credit assignment and discounting"),
    ("probe_continuous", ContinuousProbe, "Probe: one step, reward -(a - target)^2 (Box)"),
    ("probe_fast", FastProbe, "Probe: cheap fixed-length episodes for end-to-end runner tests"),
):
    envs.register(_name, _factory, _description)
