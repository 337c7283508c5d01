"""Wolpertinger (Dulac-Arnold et al. 2015) for huge MultiDiscrete action spaces: a
deterministic actor proposes a continuous proto-action, the k grid actions nearest it (L2,
found exactly without enumerating the grid: `neighbourhood.k_nearest`) are scored by the
critic, and the best is taken. Actor, critic, targets and the update are the proxy
actor-critic shared with DNC (`dnc.py`, whose docstring gives the update); the critic
target's next action is this same selection on the target networks.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions import neighbourhood as nb
from jaxrl_actions.agents.base import register
from jaxrl_actions.agents.base import Agent
from jaxrl_actions.agents.dnc import ProxyCriticConfig, ProxyCriticState, check_common, init_proxy_critic, make_act, make_update
from jaxrl_actions.environment import EnvSpec


@struct.dataclass
class WolpertingerConfig(ProxyCriticConfig):
    k: int = struct.field(pytree_node=False, default=16)  # nearest grid actions re-ranked by the critic


def candidates(unit: jax.Array, nvec: tuple, k: int) -> tuple[jax.Array, jax.Array]:
    """(int32[k, M] the k grid actions nearest the proto-action, bool[k] real)."""
    return nb.k_nearest(nb.unit_to_proxy(unit, nvec), nvec, k)


def wolpertinger_select(config: WolpertingerConfig, nvec: tuple, q_fn, unit, key, deterministic: bool,
                        for_target: bool) -> jax.Array:
    """The critic's favourite among the k nearest grid actions."""
    cands, real = candidates(unit, nvec, config.k)
    scores = jnp.where(real, q_fn(cands), -jnp.inf)
    return cands[jnp.argmax(scores)]


def init(key: jax.Array, spec: EnvSpec, config: WolpertingerConfig) -> ProxyCriticState:
    check_common(config)
    if int(config.k) < 1:
        raise ValueError(f"WolpertingerConfig.k={config.k!r} must be >= 1")
    return init_proxy_critic(key, spec, config, "Wolpertinger")


act = make_act(wolpertinger_select, "Wolpertinger")
update = make_update(wolpertinger_select)

AGENT = Agent(
    name="wolpertinger",
    family="off_policy",
    config_cls=WolpertingerConfig,
    init=init,
    act=act,
    update=update,
    description="Wolpertinger: proto-action + k nearest grid actions re-ranked by the critic (MultiDiscrete)",
)
register(AGENT)
