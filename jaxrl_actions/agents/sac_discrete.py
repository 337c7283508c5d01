"""Soft Actor-Critic for Discrete actions (Christodoulou 2019) with the fixes of
"Revisiting Discrete Soft Actor-Critic" (Zhou et al. 2022) as options, and action masks.

    config = SACDiscreteConfig(total_steps=500_000)
    state = init(key, spec, config)
    action = act(state, obs, mask, key, deterministic=False)   # int32[]
    state, metrics = update(state, batch, key)                 # batch: Transition [B]

With the categorical policy pi(.|s) over the valid actions (masked logits: an invalid
action has probability exactly 0) and twin soft Q-networks Q_1, Q_2 (`q_heads.FactorisedQ`
with one dimension), one `update` is one gradient step of each part:

  critics  V(s') = sum_a pi(a|s') (Q'_agg(s', a) - alpha log pi(a|s')), expectations taken
           exactly over the next state's valid actions; Q'_agg = min over the two target
           critics, or their mean (`target_q="mean"`: the double-average Q of Zhou et al.);
           y = r + gamma (1 - terminated) V(s'); loss = sum_i mean (Q_i(s, a) - y)^2, or with
           `q_clip` > 0 the clipped form max((Q - y)^2, (Q' + clip(Q - Q', -c, c) - y)^2)
           (Q' the target critic at (s, a)), which keeps Q near its target network
  actor    sum_a pi(a|s) (alpha log pi(a|s) - Q_agg(s, a)), Q_agg the min (or with
           `target_q="mean"` the mean) of the two online critics
           + entropy_penalty * (H_old(s) - H[pi(s)])^2, the entropy penalty of Zhou et al.:
           H_old is the entropy of the policy that acted in s, recorded when it acted
           (`behaviour`, stored by the off-policy loop; log(valid actions) for uniform
           warm-up actions). A batch without records gets no penalty.
  alpha    log_alpha * (H[pi(s)] - target entropy), target entropy = target_entropy_ratio *
           log(number of valid actions in s)  (if `autotune_alpha`)
  targets  Polyak averaging of the critics with rate tau
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions import td
from jaxrl_actions.agents.base import register
from jaxrl_actions.agents.base import Agent, validate_config
from jaxrl_actions.agents.continuous import (
    SOFT_ACTOR_CRITIC_CHECKS,
    Learner,
    SoftActorCriticConfig,
    apply_gradients,
    flatten_obs,
    make_learner,
)
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.networks import q_heads
from jaxrl_actions.networks.mlp import MLP
from jaxrl_actions.spaces import Discrete
from jaxrl_actions.types import Transition

TARGET_Q = ("min", "mean")


@struct.dataclass
class SACDiscreteConfig(SoftActorCriticConfig):
    # structure (static)
    target_q: str = struct.field(pytree_node=False, default="min")  # "mean": double-average Q
    # hyper-parameters (pytree leaves)
    target_entropy_ratio: float = 0.98  # of log(valid actions); Zhou et al. suggest lower values
    entropy_penalty: float = 0.0  # beta of the entropy-change penalty (0: off)
    q_clip: float = 0.0  # c of the clipped critic loss (0: off)


@struct.dataclass
class SACDiscreteState:
    actor: Learner
    critic: Learner
    target_critic_params: Any
    log_alpha: Learner
    config: SACDiscreteConfig
    spec: EnvSpec = struct.field(pytree_node=False)


def check(config: SACDiscreteConfig, spec: EnvSpec) -> None:
    validate_config(config, {
        **SOFT_ACTOR_CRITIC_CHECKS,
        "target_entropy_ratio": lambda v: (v >= 0) & (v <= 1),
        "entropy_penalty": lambda v: v >= 0, "q_clip": lambda v: v >= 0,
    })
    if config.target_q not in TARGET_Q:
        raise ValueError(f"{type(config).__name__}.target_q={config.target_q!r}; choose one of {TARGET_Q}")
    if not isinstance(spec.action_space, Discrete):
        raise ValueError(f"discrete SAC needs a Discrete action space, got {spec.action_space!r}")


def _actor(config, n: int) -> MLP:
    return MLP(tuple(config.actor_hidden), config.activation, output_size=n, output_scale=0.01)


def _critic(config, n: int) -> q_heads.FactorisedQ:
    return q_heads.FactorisedQ(1, n, tuple(config.critic_hidden), config.activation, False, 2)


def init(key: jax.Array, spec: EnvSpec, config: SACDiscreteConfig) -> SACDiscreteState:
    check(config, spec)
    n = spec.action_space.n
    k_actor, k_critic = jax.random.split(key)
    obs = flatten_obs(jnp.zeros(spec.obs_space.shape), spec.obs_space)
    actor_params = _actor(config, n).init(k_actor, obs)
    critic_params = _critic(config, n).init(k_critic, obs)
    return SACDiscreteState(
        actor=make_learner(actor_params, config.actor_lr, config.max_grad_norm),
        critic=make_learner(critic_params, config.critic_lr, config.max_grad_norm),
        target_critic_params=critic_params,
        log_alpha=make_learner(jnp.log(jnp.asarray(config.init_alpha, jnp.float32)), config.alpha_lr, 0.0),
        config=config, spec=spec,
    )


def policy(state: SACDiscreteState, actor_params, obs, mask) -> tuple[jax.Array, jax.Array]:
    """(probs, log_probs) [..., n] of the masked categorical; invalid entries have
    probability exactly 0 (and a finite log-prob, so p * log p == 0)."""
    logits = _actor(state.config, state.spec.action_space.n).apply(actor_params, flatten_obs(obs, state.spec.obs_space))
    log_probs = jax.nn.log_softmax(q_heads.mask_values(logits, mask), axis=-1)
    return jnp.exp(log_probs), log_probs


def q_values(state: SACDiscreteState, critic_params, obs) -> jax.Array:
    """float32[..., 2, n]: both critics' Q for every action."""
    u = _critic(state.config, state.spec.action_space.n).apply(critic_params, flatten_obs(obs, state.spec.obs_space))
    return u[..., 0, :]


def entropy(probs: jax.Array, log_probs: jax.Array) -> jax.Array:
    return -jnp.sum(probs * log_probs, axis=-1)


def act(state: SACDiscreteState, obs, mask, key, deterministic: bool = False) -> jax.Array:
    """A sampled (or the most probable) action, always inside the mask."""
    _, log_probs = policy(state, state.actor.params, obs, mask)
    if deterministic:
        return q_heads.masked_argmax(log_probs, mask)
    return jax.random.categorical(key, log_probs).astype(jnp.int32)


def combine_critics(q: jax.Array, kind: str) -> jax.Array:
    """[B, 2, n] -> [B, n]: the min of the twin critics, or their mean ("mean")."""
    return jnp.min(q, axis=1) if kind == "min" else jnp.mean(q, axis=1)


def uniform_entropy(state: SACDiscreteState, mask) -> jax.Array:
    """float32[...]: log(number of valid actions), the entropy of the uniform policy over
    them, for masks [..., n] (a scalar without a mask)."""
    n = state.spec.action_space.n
    valid = jnp.float32(n) if mask is None else jnp.sum(mask, axis=-1).astype(jnp.float32)
    return jnp.log(jnp.maximum(valid, 1.0))


def behaviour(state: SACDiscreteState, obs, mask, uniform) -> jax.Array:
    """float32[]: the entropy of the policy acting in `obs` (uniform over the valid actions
    while `uniform`), which the entropy penalty compares against."""
    probs, log_probs = policy(state, state.actor.params, obs, mask)
    return jnp.where(uniform, uniform_entropy(state, mask), entropy(probs, log_probs))


def _critic_loss(critic_params, state: SACDiscreteState, batch: Transition):
    config = state.config
    alpha = jnp.exp(state.log_alpha.params)
    next_probs, next_log_probs = policy(state, state.actor.params, batch.next_obs, batch.next_action_mask)
    next_q = q_values(state, state.target_critic_params, batch.next_obs)  # [B, 2, n]
    next_q = combine_critics(next_q, config.target_q)
    next_v = jnp.sum(next_probs * (next_q - alpha * next_log_probs), axis=-1)
    target = td.transition_target(batch, next_v, config.gamma, config.reward_scale)
    action = batch.action.astype(jnp.int32)
    q = q_heads.gather(q_values(state, critic_params, batch.obs), action[:, None])  # [B, 2]
    error = jnp.square(q - target[:, None])
    q_old = jax.lax.stop_gradient(q_heads.gather(q_values(state, state.target_critic_params, batch.obs), action[:, None]))
    clipped = jnp.square(q_old + jnp.clip(q - q_old, -config.q_clip, config.q_clip) - target[:, None])
    error = jnp.where(config.q_clip > 0, jnp.maximum(error, clipped), error)
    loss = jnp.sum(jnp.mean(error, axis=0))
    return loss, {"critic_loss": loss, "q_mean": jnp.mean(q)}


def _actor_loss(actor_params, state: SACDiscreteState, batch: Transition):
    config = state.config
    alpha = jnp.exp(state.log_alpha.params)
    probs, log_probs = policy(state, actor_params, batch.obs, batch.action_mask)
    q = combine_critics(q_values(state, state.critic.params, batch.obs), config.target_q)  # [B, n]
    q = jnp.where(probs > 0, q, 0.0)  # invalid actions carry no weight (and no NaN risk)
    h = entropy(probs, log_probs)
    old_h = jax.lax.stop_gradient(h if batch.behaviour is None else batch.behaviour)
    loss = jnp.mean(jnp.sum(probs * (alpha * log_probs - q), axis=-1) + config.entropy_penalty * jnp.square(old_h - h))
    return loss, h


def _target_entropy(state: SACDiscreteState, mask, batch_size: int) -> jax.Array:
    return state.config.target_entropy_ratio * jnp.broadcast_to(uniform_entropy(state, mask), (batch_size,))


def update(state: SACDiscreteState, batch: Transition, key) -> tuple[SACDiscreteState, dict]:
    """One gradient step of critics, actor and temperature (see module docstring)."""
    del key
    config = state.config
    (_, critic_metrics), grads = jax.value_and_grad(_critic_loss, has_aux=True)(state.critic.params, state, batch)
    critic = apply_gradients(state.critic, grads)
    (actor_loss, h), grads = jax.value_and_grad(_actor_loss, has_aux=True)(state.actor.params, state, batch)
    actor = apply_gradients(state.actor, grads)
    log_alpha = state.log_alpha
    if config.autotune_alpha:
        gap = jax.lax.stop_gradient(h - _target_entropy(state, batch.action_mask, h.shape[0]))
        log_alpha = apply_gradients(log_alpha, jax.grad(lambda la: jnp.mean(la * gap))(log_alpha.params))
    state = state.replace(
        critic=critic, actor=actor, log_alpha=log_alpha,
        target_critic_params=td.soft_update(state.target_critic_params, critic.params, config.tau),
    )
    metrics = {**critic_metrics, "actor_loss": actor_loss, "entropy": jnp.mean(h), "alpha": jnp.exp(log_alpha.params)}
    return state, metrics


AGENT = Agent(
    name="sac_discrete",
    family="off_policy",
    config_cls=SACDiscreteConfig,
    init=init,
    act=act,
    update=update,
    extras={"behaviour": behaviour},
    description="Discrete SAC: twin soft Q, categorical policy, auto temperature, Zhou et al. options, masks",
)
register(AGENT)
