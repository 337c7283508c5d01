"""Bang-bang Soft Actor-Critic: SAC whose policy is a product of independent per-dimension
categoricals, Bernoulli over the two extremes {low, high} of each Box dimension (Seyde et
al., NeurIPS 2021, "Is Bang-Bang Control All You Need? Solving Continuous Control with
Bernoulli Policies", arXiv 2111.02552), and, the same code, over the choices of each
dimension of a factorised discrete space.

    config = SACBernoulliConfig()
    state = init(key, spec, config)       # spec.action_space: bounded Box (bang-bang directly),
                                          # MultiBinary (e.g. `bang_bang()`), or MultiDiscrete
    action = act(state, obs, mask, key)   # Box: float32[shape] at the bounds; else int32[D]
    state, metrics = update(state, batch, key)

What rests on the paper (abstract and introduction, read via arXiv 2111.02552v1): the
Gaussian policy head is replaced by "a Bernoulli distribution that solely considers the
extremes along each action dimension", a "slight modification" of each base algorithm, so
everything else is Gaussian SAC's (`agents/sac.py`): twin critics Q(s, a) on the env action
(here +-1 per Box dimension, the unit-scaled extremes), clipped double-Q soft targets, Adam
3e-4, tau 0.005, batch 256, automatic temperature. The paper's SAC details (its gradient
estimator and target entropy) could not be read here (no public code; the paper text was
not retrievable beyond its opening), so these two choices are ours, each stated:

- policy pi(a|s) = prod_d pi_d(a_d|s), pi_d = softmax of K logits (K = 2 for Bernoulli;
  masked choices get probability 0): log pi(a|s) = sum_d log pi_d(a_d|s) and the entropy
  H = sum_d H(pi_d), both exact (Bernoulli: H <= D ln 2).
- actor loss (`actor_gradient="expectation"`, default): per state, with a ~ pi sampled,
      L = sum_d sum_k pi_d(k|s) (alpha log pi_d(k|s) - Q(s, a with a_d := k))
  i.e. the exact expectation over each dimension's K choices with the other dimensions at
  their sampled values (Q = min of the twin critics). Its gradient is an unbiased estimate
  of the gradient of E_pi[alpha log pi - Q] (a "local expectation gradient", Titsias &
  Lazaro-Gredilla 2015), exact for D = 1 (then it is discrete SAC's actor loss), at D * K
  critic evaluations per state. `actor_gradient="straight_through"` (option) instead
  differentiates Q at a straight-through one-hot sample (a + p - stop_gradient(p), as
  DreamerV2 does for discrete actions), plus the exact entropy term.
- critic target: y = r + gamma (1 - terminated) (min_i Q'_i(s', a') - alpha log pi(a'|s')),
  a' ~ pi(s'), exactly as Gaussian SAC.
- temperature: loss log_alpha * (H(pi(s)) - target entropy) with the exact entropy; the
  target entropy defaults to SAC's -|A| (`target_entropy_per_dim = -1`), the literal
  "minimal change". Since a Bernoulli entropy is >= 0 > -|A|, alpha then decays towards 0
  and the policy's own sampling is the exploration; a positive target (a fraction of
  D ln 2, e.g. `target_entropy_per_dim=0.3 * ln 2`) keeps alpha tuned instead.

Critic inputs per space: Box -> the env action rescaled to [-1, 1] (+-1 at the extremes);
MultiBinary -> 2a - 1; MultiDiscrete -> one-hot per dimension (padded to K = max nvec).
Masks: a Box (low, high) mask moves the extremes to the mask's bounds; MultiBinary and
MultiDiscrete masks (bool[D, 2], bool[sum nvec]) give their invalid choices probability 0.
"""
from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions import spaces, td
from jaxrl_actions.agents.base import Agent, register, validate_config
from jaxrl_actions.agents.continuous import (
    SOFT_ACTOR_CRITIC_CHECKS,
    SoftActorCriticConfig,
    action_bounds,
    agent_obs,
    apply_gradients,
    check_network_init,
    critic_action,
    critic_network,
    ensemble_target,
    init_actor_critic,
    init_obs_stats,
    make_learner,
    observe_batch,
)
from jaxrl_actions.agents.sac import SACState
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.networks import q_heads
from jaxrl_actions.networks.mlp import MLP
from jaxrl_actions.types import Transition

ACTOR_GRADIENTS = ("expectation", "straight_through")


@struct.dataclass
class SACBernoulliConfig(SoftActorCriticConfig):
    # structure (static); the rest are Gaussian SAC's defaults (SoftActorCriticConfig)
    num_critics: int = struct.field(pytree_node=False, default=2)  # SAC's twin critics
    actor_gradient: str = struct.field(pytree_node=False, default="expectation")  # or "straight_through"
    normalize_obs: bool = struct.field(pytree_node=False, default=False)  # running moments of replayed obs
    # hyper-parameters (pytree leaves)
    target_entropy_per_dim: float = -1.0  # SAC's -|A| (see the module docstring)
    target_entropy: Optional[float] = None  # absolute target entropy, overriding the per-dim one


def check(config: SACBernoulliConfig) -> None:
    validate_config(config, {**SOFT_ACTOR_CRITIC_CHECKS, "num_critics": lambda v: v >= 1})
    if config.actor_gradient not in ACTOR_GRADIENTS:
        raise ValueError(f"{type(config).__name__}.actor_gradient={config.actor_gradient!r}; "
                         f"choose one of {ACTOR_GRADIENTS}")
    check_network_init(config)


# ---------------------------------------------------------------------------------------
# Action layout: D dimensions of K choices


def factor_shape(space: spaces.Space) -> tuple[int, int]:
    """(D, K) of a bounded Box (K = 2: its bounds), MultiBinary or MultiDiscrete space."""
    if isinstance(space, spaces.Box):
        if not space.bounded:
            raise ValueError(f"bang-bang SAC needs a bounded Box action space, got {space!r}")
        return (int(jnp.size(jnp.zeros(space.shape))) if space.shape else 1), 2
    if isinstance(space, spaces.MultiBinary):
        return space.n, 2
    if isinstance(space, spaces.MultiDiscrete):
        return q_heads.factor_shape(space)
    raise ValueError(f"bang-bang SAC needs a Box, MultiBinary or MultiDiscrete action space, got {space!r}")


def encoding_size(space: spaces.Space) -> int:
    """Width of the critic's action input."""
    dim, bins = factor_shape(space)
    return dim * bins if isinstance(space, spaces.MultiDiscrete) else dim


def choice_mask(space: spaces.Space, mask) -> Optional[jax.Array]:
    """bool[D, K] of the allowed choices, or None (all allowed)."""
    if isinstance(space, spaces.MultiDiscrete):
        return q_heads.factor_mask(space, mask)
    if isinstance(space, spaces.MultiBinary):
        return mask
    return None  # a Box mask moves the extremes instead


def unit_extremes(space: spaces.Space, mask) -> Optional[tuple[jax.Array, jax.Array]]:
    """For a Box with a (low, high) mask [..., *shape]: the mask's bounds as the critic sees
    them (rescaled by the space bounds), float32[..., D] each; None otherwise (+-1)."""
    if not isinstance(space, spaces.Box) or mask is None:
        return None
    low, high = (jnp.asarray(m, jnp.float32) for m in mask)
    lead = low.shape[: low.ndim - len(space.shape)]
    return critic_action(space, low).reshape(lead + (-1,)), critic_action(space, high).reshape(lead + (-1,))


def encode_choices(space: spaces.Space, onehot: jax.Array, extremes=None) -> jax.Array:
    """float32[..., D, K] one-hot choices (possibly straight-through) -> the critic input,
    linear in `onehot`. Box/MultiBinary: the unit-scaled extreme, +-1 (a Box mask's bounds
    when `extremes` = unit_extremes(...), broadcast against onehot[..., 0])."""
    if isinstance(space, spaces.MultiDiscrete):
        return onehot.reshape(onehot.shape[:-2] + (-1,))
    if extremes is None:
        return onehot[..., 1] - onehot[..., 0]
    low, high = extremes
    return onehot[..., 0] * low + onehot[..., 1] * high


def encode_action(space: spaces.Space, action: jax.Array) -> jax.Array:
    """Stored env actions [..., *action_shape] -> the critic input float32[..., C]."""
    if isinstance(space, spaces.Box):
        lead = action.shape[: action.ndim - len(space.shape)]
        return critic_action(space, action).reshape(lead + (-1,))
    dim, bins = factor_shape(space)
    return encode_choices(space, jax.nn.one_hot(action, bins))


def to_env_action(space: spaces.Space, choices: jax.Array, mask) -> jax.Array:
    """int32[D] choices -> the env action: a Box's low (0) or high (1) bound per dimension
    (the mask's bounds when given), else the choices themselves."""
    if not isinstance(space, spaces.Box):
        return choices.astype(jnp.int32)
    low, high = action_bounds(space, mask)
    low, high = jnp.broadcast_to(low, space.shape).reshape(-1), jnp.broadcast_to(high, space.shape).reshape(-1)
    return jnp.where(choices == 1, high, low).reshape(space.shape)


# ---------------------------------------------------------------------------------------
# Policy: per-dimension categoricals (Bernoulli for K = 2)


def _actor(config: SACBernoulliConfig, dim: int, bins: int) -> MLP:
    return MLP(tuple(config.actor_hidden), config.activation, output_size=dim * bins, output_scale=0.01,
               weight_init=config.weight_init)


def log_policy(state: SACState, actor_params, obs, mask) -> jax.Array:
    """float32[..., D, K]: log pi_d(k|s), invalid choices at a large negative value (their
    probability is exactly 0). `mask` is the TimeStep's action mask (batched like obs)."""
    space = state.spec.action_space
    spaces.check_mask(space, mask, "bang-bang SAC")
    dim, bins = factor_shape(space)
    logits = _actor(state.config, dim, bins).apply(actor_params, agent_obs(state, obs))
    logits = logits.reshape(logits.shape[:-1] + (dim, bins))
    if isinstance(space, (spaces.MultiBinary, spaces.MultiDiscrete)):
        lead = logits.shape[:-2]
        if mask is None:
            allowed = choice_mask(space, None)
        else:
            flat_mask = jnp.reshape(mask, (-1,) + space.mask_shape)
            allowed = jax.vmap(lambda m: choice_mask(space, m))(flat_mask).reshape(lead + (dim, bins))
        if allowed is not None:
            logits = q_heads.mask_values(logits, allowed)
    return jax.nn.log_softmax(logits, axis=-1)


def entropy(log_probs: jax.Array) -> jax.Array:
    """float32[...]: sum_d H(pi_d) = -sum_d sum_k p log p for log-probs [..., D, K]."""
    return -jnp.sum(jnp.exp(log_probs) * log_probs, axis=(-2, -1))


def log_prob(log_probs: jax.Array, choices: jax.Array) -> jax.Array:
    """float32[...]: log pi(a|s) = sum_d log pi_d(a_d|s), choices int[..., D]."""
    return jnp.sum(q_heads.gather(log_probs, choices), axis=-1)


def sample(log_probs: jax.Array, key: jax.Array) -> jax.Array:
    """int32[..., D]: one choice per dimension."""
    return jax.random.categorical(key, log_probs, axis=-1).astype(jnp.int32)


# ---------------------------------------------------------------------------------------
# Agent


def init(key: jax.Array, spec: EnvSpec, config: SACBernoulliConfig) -> SACState:
    check(config)
    dim, bins = factor_shape(spec.action_space)
    actor = _actor(config, dim, bins)
    actor_params, critic_params = init_actor_critic(key, spec, config, actor, encoding_size(spec.action_space))
    return SACState(
        actor=make_learner(actor_params, config.actor_lr, config.max_grad_norm),
        critic=make_learner(critic_params, config.critic_lr, config.max_grad_norm),
        target_critic_params=critic_params,
        log_alpha=make_learner(jnp.log(jnp.asarray(config.init_alpha, jnp.float32)), config.alpha_lr, 0.0),
        obs_stats=init_obs_stats(spec.obs_space),
        updates=jnp.int32(0),
        config=config,
        spec=spec,
    )


def act(state: SACState, obs, mask, key, deterministic: bool = False) -> jax.Array:
    """A sampled (or per-dimension most probable) action, always inside the mask."""
    log_probs = log_policy(state, state.actor.params, obs, mask)  # [D, K]
    choices = jnp.argmax(log_probs, axis=-1).astype(jnp.int32) if deterministic else sample(log_probs, key)
    return to_env_action(state.spec.action_space, choices, mask)


def q_values(state: SACState, critic_params, obs, encoded: jax.Array) -> jax.Array:
    """float32[..., num_critics]: the critics at (obs, encoded action)."""
    return critic_network(state.config).apply(critic_params, agent_obs(state, obs), encoded)


def target_entropy(config: SACBernoulliConfig, dim: int) -> jax.Array:
    if config.target_entropy is None:
        return config.target_entropy_per_dim * dim
    return jnp.asarray(config.target_entropy, jnp.float32)


def _critic_loss(critic_params, state: SACState, batch: Transition, key):
    config = state.config
    space = state.spec.action_space
    k_next, k_subset = jax.random.split(key)
    alpha = jnp.exp(state.log_alpha.params)
    next_log_probs = log_policy(state, state.actor.params, batch.next_obs, batch.next_action_mask)  # [B, D, K]
    next_choices = sample(next_log_probs, k_next)
    bins = next_log_probs.shape[-1]
    extremes = unit_extremes(space, batch.next_action_mask)
    next_q = q_values(state, state.target_critic_params, batch.next_obs,
                      encode_choices(space, jax.nn.one_hot(next_choices, bins), extremes))
    next_q = ensemble_target(next_q, k_subset, config.num_critics)
    next_v = td.soft_value(next_q, log_prob(next_log_probs, next_choices), alpha)
    target = td.transition_target(batch, next_v, config.gamma, config.reward_scale)
    q = q_values(state, critic_params, batch.obs, encode_action(space, batch.action))  # [B, N]
    loss = jnp.sum(jnp.mean(jnp.square(q - target[:, None]), axis=0))
    return loss, {"critic_loss": loss, "q_mean": jnp.mean(q)}


def dimension_swaps(choices: jax.Array, bins: int) -> jax.Array:
    """float32[B, D, K, D, K]: for each dimension d and choice k, the one-hot joint action
    that is `choices` [B, D] with dimension d set to k."""
    dim = choices.shape[-1]
    base = jax.nn.one_hot(choices, bins)[:, None, None]  # [B, 1, 1, D, K]
    own = jnp.eye(dim, dtype=bool)[:, None, :, None]  # [D, 1, D, 1]: the swapped dimension
    swapped = jnp.broadcast_to(jnp.eye(bins)[None, :, None, :], (dim, bins, dim, bins))  # [D, K, D, K]
    return jnp.where(own, swapped, base)


def actor_loss_terms(log_probs: jax.Array, q_swaps: jax.Array, alpha) -> jax.Array:
    """float32[B]: sum_d sum_k p_d(k) (alpha log p_d(k) - Q(s, a with a_d := k)) for
    log-probs [B, D, K] and the critic at each swap, q_swaps [B, D, K] (no gradient)."""
    probs = jnp.exp(log_probs)
    q_swaps = jnp.where(probs > 0, jax.lax.stop_gradient(q_swaps), 0.0)  # invalid choices carry no weight
    return jnp.sum(probs * (alpha * log_probs - q_swaps), axis=(-2, -1))


def _actor_loss(actor_params, state: SACState, batch: Transition, key):
    config = state.config
    space = state.spec.action_space
    alpha = jnp.exp(state.log_alpha.params)
    log_probs = log_policy(state, actor_params, batch.obs, batch.action_mask)  # [B, D, K]
    choices = sample(jax.lax.stop_gradient(log_probs), key)  # [B, D]
    bins = log_probs.shape[-1]

    extremes = unit_extremes(space, batch.action_mask)  # [B, D] each, or None

    def critic_min(encoded, obs):
        return jnp.min(q_values(state, state.critic.params, obs, encoded), axis=-1)

    if config.actor_gradient == "expectation":
        dim = choices.shape[-1]
        wide = None if extremes is None else tuple(e[:, None, None, :] for e in extremes)
        swaps = encode_choices(space, dimension_swaps(choices, bins), wide)  # [B, D, K, C]
        obs = jnp.broadcast_to(batch.obs[:, None, None], (batch.obs.shape[0], dim, bins) + batch.obs.shape[1:])
        per_state = actor_loss_terms(log_probs, critic_min(swaps, obs), alpha)  # critic at [B, D, K]
    else:  # straight-through: the one-hot sample's value, the probabilities' gradient
        probs = jnp.exp(log_probs)
        straight = jax.nn.one_hot(choices, bins) + probs - jax.lax.stop_gradient(probs)
        per_state = (jnp.sum(probs * alpha * log_probs, axis=(-2, -1))
                     - critic_min(encode_choices(space, straight, extremes), batch.obs))
    return jnp.mean(per_state), entropy(log_probs)


def update(state: SACState, batch: Transition, key) -> tuple[SACState, dict]:
    """One gradient step of critics, actor and temperature (see the module docstring)."""
    config = state.config
    k_critic, k_actor = jax.random.split(key)
    state = state.replace(obs_stats=observe_batch(state.obs_stats, batch.obs, state.spec.obs_space, config.normalize_obs))
    (_, critic_metrics), grads = jax.value_and_grad(_critic_loss, has_aux=True)(state.critic.params, state, batch, k_critic)
    critic = apply_gradients(state.critic, grads)
    state = state.replace(critic=critic, target_critic_params=td.soft_update(state.target_critic_params, critic.params,
                                                                              config.tau))
    (actor_loss, h), grads = jax.value_and_grad(_actor_loss, has_aux=True)(state.actor.params, state, batch, k_actor)
    actor = apply_gradients(state.actor, grads)
    log_alpha = state.log_alpha
    if config.autotune_alpha:
        dim, _ = factor_shape(state.spec.action_space)
        gap = jax.lax.stop_gradient(h - target_entropy(config, dim))
        log_alpha = apply_gradients(log_alpha, jax.grad(lambda la: jnp.mean(la * gap))(log_alpha.params))
    state = state.replace(actor=actor, log_alpha=log_alpha, updates=state.updates + 1)
    metrics = {**critic_metrics, "actor_loss": actor_loss, "entropy": jnp.mean(h), "alpha": jnp.exp(log_alpha.params)}
    return state, metrics


AGENT = Agent(
    name="sac_bernoulli",
    family="off_policy",
    config_cls=SACBernoulliConfig,
    init=init,
    act=act,
    update=update,
    check_config=check,
    description="Bang-bang SAC: per-dimension Bernoulli (categorical) policy over each dimension's extremes/choices",
)
register(AGENT)
