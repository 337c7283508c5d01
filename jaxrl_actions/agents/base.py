"""What an agent module exports: one `Agent` record of pure functions, registered by name.

Every agent file defines a frozen `XConfig` (flax struct dataclass: structural fields
`struct.field(pytree_node=False)`, numeric hyper-parameters as pytree leaves so `vmap`
sweeps them), an `XState` (flax struct dataclass), and pure functions

    init(key, spec, config) -> XState
    act(state, obs, mask, key, deterministic=False) -> action      (one observation;
        vmap for batches; `mask` is the TimeStep's action_mask or None)

plus what its loop family needs:

    on_policy:  policy_step(state, obs, mask, key) -> PolicyOutput(action, raw_action, log_prob, value)
                value(state, obs) -> float32[]
                update(state, rollout, key) -> (state, metrics)   (rollout: buffers.rollout.Rollout)
    off_policy: update(state, batch, key) -> (state, metrics)     (batch: types.Transition [B])
                optional `extras` hooks: behaviour, act_batch, prioritised_update
                (described in training/off_policy.py)
    bandit:     update(state, action, feedback) -> state
    online:     policy_step(state, obs, mask, key) -> PolicyOutput (raw_action: what the
                policy sampled before mapping it to the action; stored in
                Transition.behaviour), update(state, transition, key) -> (state, metrics)
                with transition: types.Transition [num_envs] of one env step

The loop families live in `jaxrl_actions.training`; `make_train(env, agent, config)` picks
one by `agent.family`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple, Optional

import jax

from jaxrl_actions.registry import Registry
from jaxrl_actions.types import host_value


class PolicyOutput(NamedTuple):
    action: Any  # what the env receives (in the agent's action space)
    raw_action: Any  # what the policy distribution sampled and scores (pre-squash for Box)
    log_prob: jax.Array  # of the joint action; float32[C] per component under PPO's ratio_per_component
    value: jax.Array


@dataclasses.dataclass(frozen=True)
class Agent:
    name: str
    family: str  # "on_policy" | "off_policy" | "bandit" | "online" | "restless"
    config_cls: type
    init: Callable
    act: Callable
    update: Callable
    policy_step: Optional[Callable] = None
    value: Optional[Callable] = None
    description: str = ""
    # Host-side check of a config (names the bad field and value); the loops call it in
    # make_trainer, before anything is traced. None: init checks.
    check_config: Optional[Callable] = None
    extras: dict = dataclasses.field(default_factory=dict)  # family-specific functions


def validate_config(config: Any, checks: dict[str, Callable[[Any], bool]]) -> None:
    """Host-side hyper-parameter checks before anything compiles: `checks` maps a field
    name to a predicate; a failing field raises ValueError naming it and its value.
    Traced values (inside a vmap sweep) are skipped here; the runner checks each grid
    point's concrete values before stacking them."""
    import numpy as np

    for name, ok in checks.items():
        value = getattr(config, name)
        concrete = host_value(value)
        if concrete is None:
            continue
        try:
            good = bool(np.all(ok(concrete)))
        except TypeError:
            good = bool(ok(value))
        if not good:
            raise ValueError(f"{type(config).__name__}.{name}={value!r} is invalid")


AGENTS = Registry("agent")  # name -> Agent record; every agent module registers itself


def register(agent: Agent) -> None:
    AGENTS.register(agent.name, lambda: agent, agent.description)
