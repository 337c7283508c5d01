"""`transform_actions(env, t)`: an env whose action space is the transform's agent space.

Its spec has the agent space, its TimeSteps carry the mapped mask, its state is
`TransformState(env_state, tstate)`, and its `step` takes the agent's action; only the
inner env sees the transformed one (learners store what the agent sampled).
"""
from __future__ import annotations

from typing import Any

from flax import struct

from jaxrl_actions.actions.transform import ActionTransform, run_reset, run_step
from jaxrl_actions.environment import EnvSpec, Environment, Wrapper


@struct.dataclass
class TransformState:
    env_state: Any
    tstate: Any


class TransformedEnv(Wrapper):
    def __init__(self, env: Environment, transform: ActionTransform):
        if not isinstance(transform, ActionTransform):
            raise TypeError(f"transform_actions needs an ActionTransform, got {type(transform).__name__}")
        if hasattr(env, "num_envs"):
            raise ValueError(f"transform_actions goes on a single env, below VecEnv; got {env!r}")
        super().__init__(env)
        self.transform = transform
        self.inner_space = env.spec.action_space
        self.agent_space = transform.space(self.inner_space)  # raises on a space it cannot take

    @property
    def spec(self) -> EnvSpec:
        return self.env.spec._replace(action_space=self.agent_space)

    def reset_env(self, key, params):
        inner_reset = lambda k: self.env.reset(k, params)
        env_state, ts, tstate = run_reset(self.transform, inner_reset, key, self.inner_space)
        return TransformState(env_state, tstate), ts

    def step_env(self, key, state: TransformState, action, params):
        inner_step = lambda k, s, a: self.env.step(k, s, a, params)
        env_state, ts, tstate = run_step(
            self.transform, inner_step, state.env_state, state.tstate, action, key, self.inner_space
        )
        return TransformState(env_state, tstate), ts

    def __repr__(self) -> str:
        return f"TransformedEnv({self.env!r}, {self.transform.name})"


def transform_actions(env: Environment, transform: ActionTransform) -> TransformedEnv:
    return TransformedEnv(env, transform)
