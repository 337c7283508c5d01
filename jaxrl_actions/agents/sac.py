"""Soft Actor-Critic (Haarnoja et al. 2018, with automatic entropy tuning) for Box actions,
written once for an ensemble of critics so REDQ (`agents/redq.py`) is a configuration.

    config = SACConfig(total_steps=1_000_000)
    state = init(key, spec, config)
    action = act(state, obs, mask, key, deterministic=False)   # one observation
    state, metrics = update(state, batch, key)                 # batch: Transition [B]

One `update` is one gradient step:
  critics  every step: y = r + gamma (1 - terminated) (min_{M random of N} Q'(s', a') -
           alpha log pi(a'|s')), a' ~ pi(s') inside the next state's mask; loss = sum over
           critics of the mean squared error to y
  actor    every `policy_delay` steps: mean(alpha log pi(a|s) - Q_agg(s, a)) with a ~ pi(s)
           reparameterised; Q_agg = min over critics (SAC) or mean (REDQ)
  alpha    with the actor: -log_alpha * (log pi + target_entropy) (if `autotune_alpha`)
  targets  Polyak averaging with rate tau every step

Masks: actions are squashed into the (low, high) mask of their state (see
`agents/continuous.py`), in `act` and in both bootstrap and actor losses.
`normalize_obs`: the networks see observations standardised by running moments of the
replayed batches (kept in the state, updated by `update`).
"""
from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions import td
from jaxrl_actions.agents.base import register
from jaxrl_actions.agents.base import Agent, validate_config
from jaxrl_actions.agents.continuous import (
    LOG_STD_BOUNDS,
    SOFT_ACTOR_CRITIC_CHECKS,
    GaussianActor,
    Learner,
    SoftActorCriticConfig,
    action_bounds,
    agent_obs,
    apply_gradients,
    check_box_spec,
    check_network_init,
    ensemble_target,
    init_actor_critic,
    init_obs_stats,
    make_learner,
    observe_batch,
    q_values,
    sample_unit_action,
    squash_to_bounds,
)
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.types import Transition

ACTOR_Q_REDUCTIONS = ("min", "mean")


@struct.dataclass
class SACConfig(SoftActorCriticConfig):
    # structure (static)
    num_critics: int = struct.field(pytree_node=False, default=2)  # N
    target_subset: int = struct.field(pytree_node=False, default=2)  # M critics minimised in the target
    actor_q: str = struct.field(pytree_node=False, default="min")  # "min" (SAC) | "mean" (REDQ)
    policy_delay: int = struct.field(pytree_node=False, default=1)  # critic steps per actor step
    normalize_obs: bool = struct.field(pytree_node=False, default=False)  # running moments of replayed obs
    log_std_min: float = struct.field(pytree_node=False, default=-5.0)
    log_std_max: float = struct.field(pytree_node=False, default=2.0)
    log_std_bound: str = struct.field(pytree_node=False, default="tanh")  # "tanh" (smooth) | "clip" (REDQ)
    # hyper-parameters (pytree leaves: vmap sweeps them)
    # Target entropy -|A| (Haarnoja et al. 2018b, "Soft Actor-Critic Algorithms and
    # Applications", Sec. 5): target_entropy_per_dim * action_dim, unless `target_entropy`
    # gives it absolutely (e.g. the MBPO per-env table REDQ uses, agents/redq.py).
    target_entropy_per_dim: float = -1.0
    target_entropy: Optional[float] = None


@struct.dataclass
class SACState:
    actor: Learner
    critic: Learner
    target_critic_params: Any
    log_alpha: Learner  # params: float32[]
    obs_stats: Any  # running_stats.RunningStats of replayed observations (used if normalize_obs)
    updates: jax.Array  # int32[] gradient steps taken
    config: SACConfig
    spec: EnvSpec = struct.field(pytree_node=False)


def check(config: SACConfig) -> None:
    validate_config(config, {
        **SOFT_ACTOR_CRITIC_CHECKS,
        "num_critics": lambda v: v >= 1, "target_subset": lambda v: v >= 1, "policy_delay": lambda v: v >= 1,
    })
    if config.target_subset > config.num_critics:
        raise ValueError(f"{type(config).__name__}.target_subset={config.target_subset} exceeds num_critics={config.num_critics}")
    if config.actor_q not in ACTOR_Q_REDUCTIONS:
        raise ValueError(f"{type(config).__name__}.actor_q={config.actor_q!r}; choose one of {ACTOR_Q_REDUCTIONS}")
    if config.log_std_bound not in LOG_STD_BOUNDS:
        raise ValueError(f"{type(config).__name__}.log_std_bound={config.log_std_bound!r}; choose one of {LOG_STD_BOUNDS}")
    check_network_init(config)


def target_entropy(config: SACConfig, action_dim: int) -> jax.Array:
    """The entropy the temperature tunes towards: `target_entropy` when set, else
    target_entropy_per_dim * action_dim."""
    if config.target_entropy is None:
        return config.target_entropy_per_dim * action_dim
    return jnp.asarray(config.target_entropy, jnp.float32)


def _actor(config: SACConfig, action_dim: int) -> GaussianActor:
    return GaussianActor(action_dim, tuple(config.actor_hidden), config.activation, config.log_std_min,
                         config.log_std_max, config.log_std_bound, config.weight_init)


def _action_dim(spec: EnvSpec) -> int:
    return check_box_spec(spec, "SAC")


def init(key: jax.Array, spec: EnvSpec, config: SACConfig) -> SACState:
    check(config)
    action_dim = _action_dim(spec)
    actor_params, critic_params = init_actor_critic(key, spec, config, _actor(config, action_dim), action_dim)
    log_alpha = jnp.log(jnp.asarray(config.init_alpha, jnp.float32))
    return SACState(
        actor=make_learner(actor_params, config.actor_lr, config.max_grad_norm),
        critic=make_learner(critic_params, config.critic_lr, config.max_grad_norm),
        target_critic_params=critic_params,
        log_alpha=make_learner(log_alpha, config.alpha_lr, 0.0),
        obs_stats=init_obs_stats(spec.obs_space),
        updates=jnp.int32(0),
        config=config,
        spec=spec,
    )


def _policy_action(state: SACState, actor_params, obs, mask, key):
    """(env action [..., d], log-prob [...]) sampled inside the mask's bounds."""
    space = state.spec.action_space
    mean, log_std = _actor(state.config, _action_dim(state.spec)).apply(actor_params, agent_obs(state, obs))
    unit, log_prob = sample_unit_action(mean, log_std, key)
    low, high = action_bounds(space, mask)
    return squash_to_bounds(unit, low, high), log_prob


def act(state: SACState, obs, mask, key, deterministic: bool = False) -> jax.Array:
    """One action inside (low, high) of `mask` (the space's bounds when None)."""
    space = state.spec.action_space
    if not deterministic:
        return _policy_action(state, state.actor.params, obs, mask, key)[0]
    mean, _ = _actor(state.config, _action_dim(state.spec)).apply(state.actor.params, agent_obs(state, obs))
    return squash_to_bounds(jnp.tanh(mean), *action_bounds(space, mask))


def _critic_loss(critic_params, state: SACState, batch: Transition, key):
    config = state.config
    k_next, k_subset = jax.random.split(key)
    alpha = jnp.exp(state.log_alpha.params)
    next_action, next_log_prob = _policy_action(state, state.actor.params, batch.next_obs, batch.next_action_mask, k_next)
    next_q = ensemble_target(q_values(state, state.target_critic_params, batch.next_obs, next_action), k_subset,
                             config.target_subset)
    target = td.transition_target(batch, td.soft_value(next_q, next_log_prob, alpha), config.gamma,
                                  config.reward_scale)
    q = q_values(state, critic_params, batch.obs, batch.action)  # [B, N]
    loss = jnp.sum(jnp.mean(jnp.square(q - target[:, None]), axis=0))
    return loss, {"critic_loss": loss, "q_mean": jnp.mean(q)}


def _actor_loss(actor_params, state: SACState, batch: Transition, key):
    alpha = jnp.exp(state.log_alpha.params)
    action, log_prob = _policy_action(state, actor_params, batch.obs, batch.action_mask, key)
    q = q_values(state, state.critic.params, batch.obs, action)
    q = jnp.min(q, axis=-1) if state.config.actor_q == "min" else jnp.mean(q, axis=-1)
    loss = jnp.mean(alpha * log_prob - q)
    return loss, log_prob


def _alpha_loss(log_alpha, log_prob, target_entropy):
    return -jnp.mean(log_alpha * jax.lax.stop_gradient(log_prob + target_entropy))


def _update_actor_and_alpha(state: SACState, batch: Transition, key) -> tuple[SACState, dict]:
    config = state.config
    (actor_loss, log_prob), grads = jax.value_and_grad(_actor_loss, has_aux=True)(state.actor.params, state, batch, key)
    actor = apply_gradients(state.actor, grads)
    log_alpha = state.log_alpha
    if config.autotune_alpha:
        alpha_grads = jax.grad(_alpha_loss)(log_alpha.params, log_prob, target_entropy(config, _action_dim(state.spec)))
        log_alpha = apply_gradients(log_alpha, alpha_grads)
    metrics = {"actor_loss": actor_loss, "entropy": -jnp.mean(log_prob)}
    return state.replace(actor=actor, log_alpha=log_alpha), metrics


def update(state: SACState, batch: Transition, key) -> tuple[SACState, dict]:
    """One gradient step on a batch [B] (see module docstring)."""
    config = state.config
    k_critic, k_actor = jax.random.split(key)
    state = state.replace(obs_stats=observe_batch(state.obs_stats, batch.obs, state.spec.obs_space, config.normalize_obs))
    (_, critic_metrics), grads = jax.value_and_grad(_critic_loss, has_aux=True)(state.critic.params, state, batch, k_critic)
    critic = apply_gradients(state.critic, grads)
    state = state.replace(critic=critic, target_critic_params=td.soft_update(state.target_critic_params, critic.params, config.tau))

    if config.policy_delay == 1:
        state, actor_metrics = _update_actor_and_alpha(state, batch, k_actor)
    else:
        skip_metrics = jax.tree_util.tree_map(
            lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(_update_actor_and_alpha, state, batch, k_actor)[1]
        )
        # REDQ-style: the actor learns on the last critic step of each group of `policy_delay`.
        state, actor_metrics = jax.lax.cond(
            (state.updates + 1) % config.policy_delay == 0,
            lambda: _update_actor_and_alpha(state, batch, k_actor),
            lambda: (state, skip_metrics),
        )
    metrics = {**critic_metrics, **actor_metrics, "alpha": jnp.exp(state.log_alpha.params)}
    return state.replace(updates=state.updates + 1), metrics


AGENT = Agent(
    name="sac",
    family="off_policy",
    config_cls=SACConfig,
    init=init,
    act=act,
    update=update,
    check_config=check,
    description="Soft Actor-Critic: twin Q, tanh-Gaussian policy, automatic entropy tuning (Box actions, masks)",
)
register(AGENT)
