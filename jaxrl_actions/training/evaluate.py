"""Evaluation: run a trained policy for whole episodes and report their returns.

    evaluate(env, agent, agent_state, key, episodes, deterministic) -> float32[episodes]

Episodes run in parallel (`vmap`); each is a `lax.scan` of the env's
`max_episode_steps` steps that stops counting reward at the first `done`. `env` is an
unbatched env without AutoReset (an experiment's `make_env(**env_kwargs)`, action
transforms included), so returns are the env's own.

Evaluating a run directory's checkpoints is host-side work: `run/evaluate_run.py`.
"""
from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp

_COMPILED: dict = {}  # (id(env), id(agent), episodes, deterministic, steps) -> (env, agent, fn)


def _episode_return(env, agent, agent_state, key, deterministic: bool, steps: int) -> jax.Array:
    reset_key, key = jax.random.split(key)
    env_state, ts = env.reset(reset_key)

    def step(carry, _):
        env_state, ts, key, ret, done = carry
        key, act_key, step_key = jax.random.split(key, 3)
        action = agent.act(agent_state, ts.obs, ts.action_mask, act_key, deterministic)
        env_state, ts = env.step(step_key, env_state, action)
        ret = ret + jnp.where(done, 0.0, ts.reward)  # nothing counts after the first done
        return (env_state, ts, key, ret, done | ts.done), None

    init = (env_state, ts, key, jnp.float32(0.0), jnp.bool_(False))
    (_, _, _, ret, _), _ = jax.lax.scan(step, init, None, length=steps)
    return ret


def evaluation_fn(env, agent, episodes: int, deterministic: bool = False, max_steps: Optional[int] = None):
    """jit(fn(agent_state, key) -> float32[episodes]), cached per (env, agent, settings)."""
    steps = max_steps if max_steps is not None else env.spec.max_episode_steps
    if steps is None or int(steps) < 1:
        raise ValueError(f"{env!r} has no max_episode_steps; pass max_steps to evaluate")
    if int(episodes) < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    cache_key = (id(env), id(agent), int(episodes), bool(deterministic), int(steps))
    if cache_key not in _COMPILED:

        def run(agent_state, key):
            keys = jax.random.split(key, int(episodes))
            return jax.vmap(lambda k: _episode_return(env, agent, agent_state, k, bool(deterministic), int(steps)))(keys)

        _COMPILED[cache_key] = (env, agent, jax.jit(run))  # env/agent kept alive so ids stay unique
    return _COMPILED[cache_key][2]


def evaluate(env, agent, agent_state, key, episodes: int, deterministic: bool = False, max_steps: Optional[int] = None) -> jax.Array:
    """float32[episodes]: the undiscounted return of each episode."""
    return evaluation_fn(env, agent, episodes, deterministic, max_steps)(agent_state, key)


def agent_state_of(carry: Any) -> Any:
    """The agent state inside a training carry (its `agent_state` field)."""
    for name in ("agent_state", "agent"):
        if hasattr(carry, name):
            return getattr(carry, name)
    raise AttributeError(f"{type(carry).__name__} has no agent_state field; cannot evaluate its policy")
