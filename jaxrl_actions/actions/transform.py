"""Action transforms: optax-style records of pure functions that change the action space
an agent sees, and how masks map with it.

A transform `t` sits between the agent and an inner env whose action space is
`inner_space` (a static Space, passed to every function):

    t.space(inner_space) -> agent_space           raises ValueError on a space it cannot take
    t.init(key, inner_space) -> tstate            at every reset
    t.apply(tstate, agent_action, key, inner_space) -> (inner_action, tstate)
    t.map_mask(inner_mask, inner_space, tstate) -> agent_mask
    t.observe(tstate, inner_ts, inner_space) -> (tstate, inner_ts)
        sees every new inner TimeStep (after reset and after each step) before its mask is
        mapped: records what later calls need (the mask, an interval from the observation)
        and may edit reward / info (never the mask). Default: nothing.
    t.step(inner_step, inner_state, tstate, agent_action, key, inner_space)
        -> (inner_state, agent_ts, tstate)
        optional driver for transforms that step the inner env several times (repeat);
        `inner_step(key, inner_state, inner_action) -> (inner_state, inner_ts)`. The
        returned TimeStep is fully processed (observed, mask in the agent space; use
        `process`). None: apply once, step once, process.
    t.reset(inner_reset, key, inner_space) -> (inner_state, agent_ts, tstate)
        optional driver; `inner_reset(key) -> (inner_state, inner_ts)`. None: reset, init,
        process.

`chain(a, b)` composes like `optax.chain`: the first transform is closest to the env.
The agent speaks b's space, b maps into a's space, a maps into the env's. Its drivers
nest exactly as `transform_actions(transform_actions(env, a), b)` would, same keys
included. `actions.wrapper.transform_actions(env, t)` puts a transform on an env.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Optional

import jax

from jaxrl_actions.spaces import Space
from jaxrl_actions.types import PRNGKey, TimeStep

InnerStep = Callable[[PRNGKey, Any, Any], tuple[Any, TimeStep]]
InnerReset = Callable[[PRNGKey], tuple[Any, TimeStep]]


def observe_nothing(tstate: Any, ts: TimeStep, inner_space: Space) -> tuple[Any, TimeStep]:
    return tstate, ts


def no_state(key: PRNGKey, inner_space: Space) -> Any:
    return ()


def same_space(inner_space: Space) -> Space:
    return inner_space


def identity_apply(tstate: Any, action: Any, key: PRNGKey, inner_space: Space) -> tuple[Any, Any]:
    return action, tstate


def same_mask(inner_mask: Any, inner_space: Space, tstate: Any) -> Any:
    return inner_mask


class ActionTransform(NamedTuple):
    space: Callable[[Space], Space] = same_space
    init: Callable[[PRNGKey, Space], Any] = no_state
    apply: Callable[[Any, Any, PRNGKey, Space], tuple[Any, Any]] = identity_apply
    map_mask: Callable[[Any, Space, Any], Any] = same_mask
    observe: Callable[[Any, TimeStep, Space], tuple[Any, TimeStep]] = observe_nothing
    step: Optional[Callable[..., tuple[Any, TimeStep, Any]]] = None
    reset: Optional[Callable[..., tuple[Any, TimeStep, Any]]] = None
    name: str = "transform"


def process(t: ActionTransform, tstate: Any, inner_ts: TimeStep, inner_space: Space) -> tuple[Any, TimeStep]:
    """Observe a new inner TimeStep, then map its mask into the agent's space."""
    tstate, ts = t.observe(tstate, inner_ts, inner_space)
    return tstate, ts._replace(action_mask=t.map_mask(ts.action_mask, inner_space, tstate))


def run_reset(t: ActionTransform, inner_reset: InnerReset, key: PRNGKey, inner_space: Space):
    """-> (inner_state, agent_ts, tstate)."""
    if t.reset is not None:
        return t.reset(inner_reset, key, inner_space)
    k_inner, k_init = jax.random.split(key)
    inner_state, ts = inner_reset(k_inner)
    tstate, ts = process(t, t.init(k_init, inner_space), ts, inner_space)
    return inner_state, ts, tstate


def run_step(t: ActionTransform, inner_step: InnerStep, inner_state: Any, tstate: Any, action: Any,
             key: PRNGKey, inner_space: Space):
    """-> (inner_state, agent_ts, tstate): the agent's `action` through `t` into the inner env."""
    if t.step is not None:
        return t.step(inner_step, inner_state, tstate, action, key, inner_space)
    k_apply, k_inner = jax.random.split(key)
    inner_action, tstate = t.apply(tstate, action, k_apply, inner_space)
    inner_state, ts = inner_step(k_inner, inner_state, inner_action)
    tstate, ts = process(t, tstate, ts, inner_space)
    return inner_state, ts, tstate


def _chain2(a: ActionTransform, b: ActionTransform) -> ActionTransform:
    """b after a: the agent speaks b's space; tstate is (a's, b's)."""

    def space(s0):
        return b.space(a.space(s0))

    def init(key, s0):
        ka, kb = jax.random.split(key)
        return (a.init(ka, s0), b.init(kb, a.space(s0)))

    def apply(tstate, action, key, s0):
        ta, tb = tstate
        ka, kb = jax.random.split(key)
        mid, tb = b.apply(tb, action, kb, a.space(s0))
        out, ta = a.apply(ta, mid, ka, s0)
        return out, (ta, tb)

    def map_mask(mask, s0, tstate):
        ta, tb = tstate
        return b.map_mask(a.map_mask(mask, s0, ta), a.space(s0), tb)

    def observe(tstate, ts, s0):
        ta, tb = tstate
        ta, ts_a = a.observe(ta, ts, s0)
        mid_ts = ts_a._replace(action_mask=a.map_mask(ts_a.action_mask, s0, ta))
        tb, ts_b = b.observe(tb, mid_ts, a.space(s0))
        return (ta, tb), ts_b._replace(action_mask=ts.action_mask)  # mask stays in s0's space

    def reset(inner_reset, key, s0):
        def reset_a(k):
            env_state, ts, ta = run_reset(a, inner_reset, k, s0)
            return (env_state, ta), ts

        (env_state, ta), ts, tb = run_reset(b, reset_a, key, a.space(s0))
        return env_state, ts, (ta, tb)

    def step(inner_step, env_state, tstate, action, key, s0):
        ta, tb = tstate

        def step_a(k, state_a, mid_action):
            env_state, ta = state_a
            env_state, ts, ta = run_step(a, inner_step, env_state, ta, mid_action, k, s0)
            return (env_state, ta), ts

        (env_state, ta), ts, tb = run_step(b, step_a, (env_state, ta), tb, action, key, a.space(s0))
        return env_state, ts, (ta, tb)

    return ActionTransform(space, init, apply, map_mask, observe, step, reset, name=f"{a.name}>{b.name}")


def chain(*transforms: ActionTransform) -> ActionTransform:
    """chain(t1, t2, ..., tn): t1 is closest to the env, the agent speaks tn's space.
    The transform state nests pairwise: chain(a, b, c) has ((ta, tb), tc)."""
    if not transforms:
        return ActionTransform(name="identity")
    for t in transforms:
        if not isinstance(t, ActionTransform):
            raise TypeError(f"chain takes ActionTransforms, got {type(t).__name__}: {t!r}")
    return functools.reduce(_chain2, transforms)
