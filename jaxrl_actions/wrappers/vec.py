"""VecEnv: `num_envs` copies of an env batched with `vmap`.

    reset(key, params=None)               -> state[B], TimeStep[B]
    step(key, state[B], action[B], params=None) -> state[B], TimeStep[B]

Keys are split per env; params are shared by all copies (None -> the env's defaults).
`spec` stays the single env's spec; `num_envs` gives B. Per-env action checks run in the
inner env's `step` under vmap. Wrappers that sit on top of a batched env subclass
`BatchedWrapper`.
"""
from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jaxrl_actions.environment import Environment, Wrapper
from jaxrl_actions.types import PRNGKey, TimeStep


class BatchedWrapper(Wrapper):
    """Base for wrappers over a batched env: `step` takes actions with a leading [B] axis
    (checked by the VecEnv inside), `num_envs` is forwarded."""

    @property
    def num_envs(self) -> int:
        return self.env.num_envs

    def step(self, key: PRNGKey, state: Any, action: Any, params: Any = None) -> tuple[Any, TimeStep]:
        return self.step_env(key, state, action, self.default_params if params is None else params)


class VecEnv(BatchedWrapper):
    def __init__(self, env: Environment, num_envs: int):
        if int(num_envs) < 1:
            raise ValueError(f"VecEnv needs num_envs >= 1, got num_envs={num_envs}")
        super().__init__(env)
        self._num_envs = int(num_envs)

    @property
    def num_envs(self) -> int:
        return self._num_envs

    def _check_batch(self, action: Any) -> None:
        for leaf in jax.tree_util.tree_leaves(action):
            shape = np.shape(leaf)
            if not shape or shape[0] != self._num_envs:
                raise ValueError(
                    f"VecEnv({self.name}).step: actions need a leading axis of num_envs={self._num_envs}, "
                    f"got shape {shape}"
                )

    def reset_env(self, key, params):
        keys = jax.random.split(key, self._num_envs)
        return jax.vmap(self.env.reset, in_axes=(0, None))(keys, params)

    def step_env(self, key, state, action, params):
        self._check_batch(action)
        keys = jax.random.split(key, self._num_envs)
        step_batch = getattr(self.env, "step_batch", None)  # AutoReset: resets only when needed
        if step_batch is not None:
            return step_batch(keys, state, action, params)
        return jax.vmap(self.env.step, in_axes=(0, 0, 0, None))(keys, state, action, params)
