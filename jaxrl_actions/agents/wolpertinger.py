"""Wolpertinger (Dulac-Arnold et al. 2015, "Deep Reinforcement Learning in Large Discrete
Action Spaces") for huge MultiDiscrete action spaces: DDPG with a k-NN step.

A DDPG-style deterministic actor maps an observation to a unit proto-action u in [-1, 1]^M,
read as a continuous *proxy* in the box [0, nvec - 1] (`neighbourhood.unit_to_proxy`); the k
grid actions nearest it (L2, found exactly without enumerating the grid:
`neighbourhood.k_nearest`) are scored by the critic Q(s, x), which takes actions in the same
unit coordinates (`grid_to_unit`), and the best is taken.

One `update` is one gradient step on a replay batch [B]:
  critic  y = r_scale r + gamma (1 - terminated) Q'(s', a'), with a' this same selection at
          s' run on the target actor and target critic (no noise); the critic learns on the
          executed grid action: loss = mean (Q(s, grid_to_unit(a)) - y)^2
  actor   the DDPG gradient at the proxy: -mean Q(s, mu(s)); then Polyak target updates

Exploration: Gaussian noise (std `exploration_noise`) on u before selection. Action masks
are not supported (a ValueError at trace time names the agent).

The k-NN baseline of DNC's paper (the same step on DNC's online Q actor-critic, no replay
or targets) is `qac_knn` in `qac.py`.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions import neighbourhood as nb
from jaxrl_actions import td
from jaxrl_actions.agents.base import Agent, register, validate_config
from jaxrl_actions.agents.continuous import (
    DeterministicActor,
    Learner,
    apply_gradients,
    critic_network,
    flatten_obs,
    init_actor_critic,
    make_learner,
)
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.spaces import MultiDiscrete
from jaxrl_actions.training.config import OffPolicyConfig
from jaxrl_actions.types import Transition


@struct.dataclass
class ProxyCriticConfig(OffPolicyConfig):
    """The DDPG-style proxy actor-critic's settings."""

    actor_hidden: Sequence[int] = struct.field(pytree_node=False, default=(128, 128))
    critic_hidden: Sequence[int] = struct.field(pytree_node=False, default=(128, 128))
    activation: str = struct.field(pytree_node=False, default="relu")
    twin_critics: bool = struct.field(pytree_node=False, default=False)  # min of two in the target
    actor_lr: float = 3e-4
    critic_lr: float = 1e-3
    gamma: float = 0.99
    tau: float = 0.005
    exploration_noise: float = 0.2  # std on the unit proxy when acting
    reward_scale: float = 1.0
    max_grad_norm: float = 10.0  # <= 0: no clipping

    @property
    def num_critics(self) -> int:
        return 2 if self.twin_critics else 1


@struct.dataclass
class DNCConfig(ProxyCriticConfig):
    search_steps: int = struct.field(pytree_node=False, default=8)  # annealing iterations when acting
    target_search_steps: int = struct.field(pytree_node=False, default=2)  # ... for the critic target
    max_distance: int = struct.field(pytree_node=False, default=1)  # d: moves of +-1..d per dimension
    num_random: int = struct.field(pytree_node=False, default=8)  # multi-dimension moves per iteration
    move_prob: float = struct.field(pytree_node=False, default=0.1)  # each dimension's chance to move in one
    temperature: float = 0.05  # initial annealing temperature, in critic units
    cooling: float = 0.8


@struct.dataclass
class ProxyCriticState:
    actor: Learner
    critic: Learner
    target_actor_params: Any
    target_critic_params: Any
    updates: jax.Array  # int32[]
    config: Any  # the agent's WolpertingerConfig
    spec: EnvSpec = struct.field(pytree_node=False)

    @property
    def nvec(self) -> tuple:
        return self.spec.action_space.nvec


# A selector turns a unit proxy into a grid action with a given critic:
# select(config, nvec, q_fn, unit float32[M], key, deterministic, for_target) -> int32[M]
# where q_fn(int32[N, M]) -> float32[N] is the critic at the current observation.
Selector = Callable[..., jax.Array]


def check_spec(spec: EnvSpec, agent: str) -> tuple:
    space = spec.action_space
    if not isinstance(space, MultiDiscrete):
        raise ValueError(f"{agent} needs a MultiDiscrete action space, got {space!r}")
    return space.nvec


def check_common(config: ProxyCriticConfig) -> None:
    validate_config(config, {
        "actor_lr": lambda v: v > 0, "critic_lr": lambda v: v > 0,
        "gamma": lambda v: (v >= 0) & (v <= 1), "tau": lambda v: (v > 0) & (v <= 1),
        "exploration_noise": lambda v: v >= 0, "reward_scale": lambda v: v > 0,
    })


def _actor(config) -> Callable:
    return lambda action_dim: DeterministicActor(action_dim, tuple(config.actor_hidden), config.activation)


def init_proxy_critic(key: jax.Array, spec: EnvSpec, config, agent: str) -> ProxyCriticState:
    nvec = check_spec(spec, agent)
    actor_params, critic_params = init_actor_critic(key, spec, config, _actor(config)(len(nvec)), len(nvec))
    return ProxyCriticState(
        actor=make_learner(actor_params, config.actor_lr, config.max_grad_norm),
        critic=make_learner(critic_params, config.critic_lr, config.max_grad_norm),
        target_actor_params=actor_params,
        target_critic_params=critic_params,
        updates=jnp.int32(0),
        config=config,
        spec=spec,
    )


def unit_action(state: ProxyCriticState, actor_params, obs) -> jax.Array:
    """The actor's unit proxy u in [-1, 1]^M for obs [..., *obs_shape]."""
    flat = flatten_obs(obs, state.spec.obs_space)
    return _actor(state.config)(len(state.nvec)).apply(actor_params, flat)


def q_values(state: ProxyCriticState, critic_params, obs, unit) -> jax.Array:
    """Q(s, x) [..., num_critics] for unit-coordinate actions x [..., M]."""
    flat = flatten_obs(obs, state.spec.obs_space)
    return critic_network(state.config).apply(critic_params, flat, unit)


def grid_scorer(state: ProxyCriticState, critic_params, obs) -> Callable[[jax.Array], jax.Array]:
    """q_fn(int32[N, M]) -> float32[N]: the (first) critic at one observation."""
    flat = flatten_obs(obs, state.spec.obs_space)

    def q_fn(actions):
        units = nb.grid_to_unit(actions, state.nvec)
        obs_b = jnp.broadcast_to(flat, (actions.shape[0],) + flat.shape)
        return critic_network(state.config).apply(critic_params, obs_b, units)[..., 0]

    return q_fn


def make_act(select: Selector, agent: str):
    def act(state: ProxyCriticState, obs, mask, key, deterministic: bool = False) -> jax.Array:
        """One observation -> int32[M] grid action."""
        if mask is not None:
            raise ValueError(f"{agent} does not support action masks; the env returned a mask")
        k_noise, k_select = jax.random.split(key)
        unit = unit_action(state, state.actor.params, obs)
        if not deterministic:
            unit = jnp.clip(unit + state.config.exploration_noise * jax.random.normal(k_noise, unit.shape), -1.0, 1.0)
        q_fn = grid_scorer(state, state.critic.params, obs)
        return select(state.config, state.nvec, q_fn, unit, k_select, deterministic, False)

    return act


def make_update(select: Selector):
    def critic_loss(critic_params, state: ProxyCriticState, batch: Transition, key):
        config = state.config
        next_unit = unit_action(state, state.target_actor_params, batch.next_obs)  # [B, M]

        def next_action(obs, unit, k):
            q_fn = grid_scorer(state, state.target_critic_params, obs)
            return select(config, state.nvec, q_fn, unit, k, True, True)

        keys = jax.random.split(key, next_unit.shape[0])
        next_grid = jax.vmap(next_action)(batch.next_obs, next_unit, keys)  # [B, M]
        next_q = jnp.min(q_values(state, state.target_critic_params, batch.next_obs,
                                  nb.grid_to_unit(next_grid, state.nvec)), axis=-1)
        target = td.transition_target(batch, next_q, config.gamma, config.reward_scale)
        q = q_values(state, critic_params, batch.obs, nb.grid_to_unit(batch.action, state.nvec))  # [B, C]
        loss = jnp.sum(jnp.mean(jnp.square(q - target[:, None]), axis=0))
        return loss, {"critic_loss": loss, "q_mean": jnp.mean(q)}

    def actor_loss(actor_params, state: ProxyCriticState, batch: Transition):
        unit = unit_action(state, actor_params, batch.obs)
        return -jnp.mean(q_values(state, state.critic.params, batch.obs, unit)[..., 0])

    def update(state: ProxyCriticState, batch: Transition, key) -> tuple[ProxyCriticState, dict]:
        """One gradient step of critic and actor, then Polyak target updates."""
        (_, metrics), grads = jax.value_and_grad(critic_loss, has_aux=True)(state.critic.params, state, batch, key)
        state = state.replace(critic=apply_gradients(state.critic, grads))
        a_loss, a_grads = jax.value_and_grad(actor_loss)(state.actor.params, state, batch)
        actor = apply_gradients(state.actor, a_grads)
        tau = state.config.tau
        state = state.replace(
            actor=actor,
            target_actor_params=td.soft_update(state.target_actor_params, actor.params, tau),
            target_critic_params=td.soft_update(state.target_critic_params, state.critic.params, tau),
            updates=state.updates + 1,
        )
        return state, {**metrics, "actor_loss": a_loss}

    return update


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
    description="Wolpertinger: DDPG proto-action + k nearest grid actions re-ranked by the critic (MultiDiscrete)",
)
register(AGENT)
