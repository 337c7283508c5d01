"""Proximal Policy Optimisation for every action space, with action masks.

Clipped surrogate objective, GAE with truncation bootstrapping, entropy bonus, clipped
value loss, linear learning-rate annealing, gradient clipping by global norm, optional
observation normalisation (running statistics kept in the agent state, so `act` applies
them wherever the agent is used) and reward scaling. Separate actor and critic MLPs; the
policy head is the mask-aware distribution of `networks.heads` for the action space
(categorical, factorised, Bernoulli pairs, Plackett-Luce subsets, tanh-Gaussian, tuples).

    config = PPOConfig(total_steps=500_000, num_envs=8, lr=2.5e-4)
    state = init(key, env.spec, config)
    action = act(state, obs, mask, key, deterministic=False)
    state, metrics = update(state, rollout, key)        # one PPO iteration on a Rollout
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl_actions import running_stats
from jaxrl_actions.agents.base import register
from jaxrl_actions.agents.base import Agent, PolicyOutput, validate_config
from jaxrl_actions.buffers.rollout import Rollout, flatten_time_env, minibatch_epochs
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.losses import clipped_value_loss, gae_advantages, normalize, ppo_policy_loss
from jaxrl_actions.networks.attention import PointerActor, SetCritic
from jaxrl_actions.networks.heads import BOX_DISTRIBUTIONS, PolicyHead, distribution
from jaxrl_actions.networks.mlp import MLP
from jaxrl_actions.spaces import Discrete, MultiDiscrete, Space
from jaxrl_actions.training.config import OnPolicyConfig


@struct.dataclass
class PPOConfig(OnPolicyConfig):
    # structure (static): a change needs its own compile
    update_epochs: int = struct.field(pytree_node=False, default=4)
    num_minibatches: int = struct.field(pytree_node=False, default=4)
    hidden_sizes: tuple = struct.field(pytree_node=False, default=(64, 64))
    critic_hidden_sizes: Optional[tuple] = struct.field(pytree_node=False, default=None)  # None: hidden_sizes
    # Image observations: convolutions before both MLPs, each (features, kernel, pool) (networks.mlp.MLP).
    conv_layers: tuple = struct.field(pytree_node=False, default=())
    # "mlp", or "set" for item-set observations [N, F] with a Discrete(N) action (pick an item):
    # an attention encoder of width hidden_sizes[0] and `attention_layers` blocks of
    # `attention_heads` heads (0 blocks: each item embedded on its own, DeepSets-style), one
    # logit per item, the value from the pooled items (networks.attention); the critic's MLP
    # after pooling is critic_hidden_sizes.
    torso: str = struct.field(pytree_node=False, default="mlp")
    attention_layers: int = struct.field(pytree_node=False, default=2)
    attention_heads: int = struct.field(pytree_node=False, default=4)
    # GAE bootstraps from the value every `unroll_len` steps of the rollout, as if it were
    # rollout_len / unroll_len separate unrolls (Brax's unroll_length); 0: the whole rollout.
    unroll_len: int = struct.field(pytree_node=False, default=0)
    activation: str = struct.field(pytree_node=False, default="tanh")
    anneal_lr: bool = struct.field(pytree_node=False, default=True)
    normalize_obs: bool = struct.field(pytree_node=False, default=False)
    normalize_advantages: bool = struct.field(pytree_node=False, default=True)
    clip_value: bool = struct.field(pytree_node=False, default=True)
    mask_in_gradient: bool = struct.field(pytree_node=False, default=True)  # False: mask only when sampling
    # Box actions: "tanh_gaussian" squashes into the (low, high) mask; "truncated_normal" is
    # the distributional mask of Stolz et al. 2024 (networks.heads.TruncatedNormal).
    box_distribution: str = struct.field(pytree_node=False, default="tanh_gaussian")
    # MultiDiscrete only: one clipped ratio per action component and the surrogate averaged
    # over components (vwxyzjn/invalid-action-masking, ppo_*.py), instead of one ratio of the
    # joint action; the rollout then keeps a log-probability per component.
    ratio_per_component: bool = struct.field(pytree_node=False, default=False)
    # The loss's entropy term. "exact": minus ent_coef x the policy's entropy (a bonus that
    # spreads the policy). "sampled_penalty": plus ent_coef x mean(-p(a) log p(a)) over the
    # minibatch's actions (per component under ratio_per_component), the term coded in
    # vwxyzjn/invalid-action-masking ppo_*.py; it sharpens the policy instead.
    entropy_term: str = struct.field(pytree_node=False, default="exact")
    # One Adam and one gradient-norm clip per network (actor, critic), as scripts with a
    # policy and a value optimizer (vwxyzjn/invalid-action-masking ppo_*.py); default: one
    # Adam and one clip over both, so large value gradients shrink the policy step.
    separate_optimizers: bool = struct.field(pytree_node=False, default=False)
    # hyper-parameters (pytree leaves): vmap sweeps them
    lr: float = 2.5e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    reward_scale: float = 1.0
    init_log_std: float = 0.0

    @property
    def minibatch_size(self) -> int:
        return self.steps_per_update // self.num_minibatches

    @property
    def total_gradient_steps(self) -> int:
        return self.num_updates * self.update_epochs * self.num_minibatches


HPARAM_CHECKS = {
    "lr": lambda v: v > 0,
    "gamma": lambda v: (v >= 0) & (v <= 1),
    "gae_lambda": lambda v: (v >= 0) & (v <= 1),
    "clip_eps": lambda v: v > 0,
    "ent_coef": lambda v: v >= 0,
    "vf_coef": lambda v: v >= 0,
    "max_grad_norm": lambda v: v > 0,
    "reward_scale": lambda v: v > 0,
}


def check_config(config: PPOConfig) -> None:
    validate_config(config, HPARAM_CHECKS)
    if config.steps_per_update % config.num_minibatches:
        raise ValueError(
            f"PPOConfig.num_minibatches={config.num_minibatches} must divide num_envs * rollout_len = "
            f"{config.steps_per_update}")
    if config.unroll_len < 0 or (config.unroll_len and config.rollout_len % config.unroll_len):
        raise ValueError(
            f"PPOConfig.unroll_len={config.unroll_len} must be 0 or divide rollout_len={config.rollout_len}")
    if config.update_epochs < 1:
        raise ValueError(f"PPOConfig.update_epochs={config.update_epochs} must be >= 1")
    if config.entropy_term not in ENTROPY_TERMS:
        raise ValueError(f"PPOConfig.entropy_term={config.entropy_term!r}; expected one of {ENTROPY_TERMS}")
    if config.box_distribution not in BOX_DISTRIBUTIONS:
        raise ValueError(f"PPOConfig.box_distribution={config.box_distribution!r}; expected one of {BOX_DISTRIBUTIONS}")
    if config.torso not in TORSOS:
        raise ValueError(f"PPOConfig.torso={config.torso!r}; expected one of {TORSOS}")
    if config.torso == "set" and (config.attention_layers < 0 or config.attention_heads < 1
                                  or config.hidden_sizes[0] % config.attention_heads):
        raise ValueError(f"PPOConfig torso='set' needs attention_layers >= 0 and attention_heads >= 1 dividing "
                         f"hidden_sizes[0]; got {config.attention_layers}, {config.attention_heads}, "
                         f"{config.hidden_sizes}")


TORSOS = ("mlp", "set")
ENTROPY_TERMS = ("exact", "sampled_penalty")


def check_set_spec(spec: EnvSpec) -> None:
    """torso='set' reads observations [N, F] and picks one of the N items (Discrete(N))."""
    shape, space = spec.obs_space.shape, spec.action_space
    if len(shape) != 2 or not isinstance(space, Discrete) or space.n != shape[0]:
        raise ValueError(f"PPOConfig.torso='set' needs item observations [N, F] and a Discrete(N) action; got "
                         f"observations {shape} and {space} (Jumanji's Knapsack and TSP: observation='items')")


class Networks(struct.PyTreeNode):
    """The static part of the agent: modules and the action space (hashable)."""

    actor: nn.Module = struct.field(pytree_node=False)
    critic: nn.Module = struct.field(pytree_node=False)
    space: Space = struct.field(pytree_node=False)


@struct.dataclass
class PPOParams:
    actor: Any  # flax variables of the Actor
    critic: Any  # flax variables of the critic MLP


class PPOBatch(NamedTuple):
    """A flat minibatch [N] for the PPO loss."""

    obs: Any  # observations, already normalised when normalize_obs
    raw_action: Any  # what the policy sampled (pre-squash for Box)
    action_mask: Any
    old_log_prob: jax.Array
    old_value: jax.Array
    advantages: jax.Array
    targets: jax.Array


@struct.dataclass
class PPOState:
    params: PPOParams
    opt_state: Any
    obs_stats: running_stats.RunningStats
    config: PPOConfig
    nets: Networks = struct.field(pytree_node=False)


class Actor(nn.Module):
    space: Space
    hidden_sizes: tuple
    activation: str
    obs_ndim: int
    conv_layers: tuple = ()

    @nn.compact
    def __call__(self, obs):
        features = MLP(self.hidden_sizes, self.activation, obs_ndim=self.obs_ndim, conv_layers=self.conv_layers)(obs)
        return PolicyHead(self.space)(features)


def make_optimizer(config: PPOConfig) -> optax.GradientTransformation:
    """Adam with global-norm clipping, over both networks or one per network
    (separate_optimizers); the (possibly traced) lr anneals linearly to 0."""
    if config.anneal_lr:
        lr = lambda count: config.lr * (1.0 - count / config.total_gradient_steps)
    else:
        lr = config.lr
    clipped_adam = lambda: optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(lr, eps=1e-5))
    if not config.separate_optimizers:
        return clipped_adam()
    return optax.multi_transform({"actor": clipped_adam(), "critic": clipped_adam()},
                                 PPOParams(actor="actor", critic="critic"))


def init(key: jax.Array, spec: EnvSpec, config: PPOConfig) -> PPOState:
    check_config(config)
    if config.ratio_per_component and not isinstance(spec.action_space, MultiDiscrete):
        raise ValueError(f"PPOConfig.ratio_per_component=True needs a MultiDiscrete action space; "
                         f"got {spec.action_space!r}")
    obs_shape = spec.obs_space.shape
    obs_ndim = max(1, len(obs_shape))
    conv = tuple(tuple(layer) for layer in config.conv_layers)
    critic_sizes = config.hidden_sizes if config.critic_hidden_sizes is None else config.critic_hidden_sizes
    if config.torso == "set":
        check_set_spec(spec)
        width, layers, heads = config.hidden_sizes[0], config.attention_layers, config.attention_heads
        actor = PointerActor(width, layers, heads)
        critic = SetCritic(width, layers, heads, tuple(critic_sizes), config.activation)
    else:
        actor = Actor(spec.action_space, tuple(config.hidden_sizes), config.activation, obs_ndim, conv)
        critic = MLP(tuple(critic_sizes), config.activation, output_size=1, obs_ndim=obs_ndim, conv_layers=conv)
    dummy = jnp.zeros(obs_shape if obs_shape else (1,), jnp.float32)
    actor_key, critic_key = jax.random.split(key)
    params = PPOParams(actor=actor.init(actor_key, dummy), critic=critic.init(critic_key, dummy))
    return PPOState(
        params=params,
        opt_state=make_optimizer(config).init(params),
        obs_stats=running_stats.init(dummy.shape),
        config=config,
        nets=Networks(actor, critic, spec.action_space),
    )


def _obs(state: PPOState, obs):
    if not state.config.normalize_obs:
        return obs
    return running_stats.normalize(state.obs_stats, obs)


def _dist(state: PPOState, params: PPOParams, obs, mask):
    """The policy at (already normalised) `obs`; the learned log-std starts at 0 and is
    offset by config.init_log_std here, so init_log_std stays a sweepable leaf."""
    outputs, log_std = state.nets.actor.apply(params.actor, obs)
    return distribution(state.nets.space, outputs, log_std + state.config.init_log_std, mask,
                        state.config.mask_in_gradient, state.config.box_distribution)


def _value(state: PPOState, params: PPOParams, obs):
    return state.nets.critic.apply(params.critic, obs)[..., 0]


def act(state: PPOState, obs, mask, key, deterministic=False):
    """The action for one observation (sampled, or the distribution's mode)."""
    dist = _dist(state, state.params, _obs(state, obs), mask)
    raw = jax.tree.map(lambda m, s: jnp.where(deterministic, m, s), dist.mode(), dist.sample(key))
    return dist.to_action(raw)


def policy_step(state: PPOState, obs, mask, key) -> PolicyOutput:
    obs = _obs(state, obs)
    dist = _dist(state, state.params, obs, mask)
    raw = dist.sample(key)
    return PolicyOutput(dist.to_action(raw), raw, _log_prob(state.config, dist, raw), _value(state, state.params, obs))


def _log_prob(config: PPOConfig, dist, raw):
    """The log-probability the ratio uses: of the joint action, or float32[C] per component."""
    return dist.component_log_probs(raw) if config.ratio_per_component else dist.log_prob(raw)


def value(state: PPOState, obs):
    return _value(state, state.params, _obs(state, obs))


def loss(params: PPOParams, state: PPOState, batch: PPOBatch):
    """PPO loss on a flat minibatch [N]; returns (loss, metrics)."""
    config = state.config

    def per_sample(o, r, m):
        dist = _dist(state, params, o, m)
        return _log_prob(config, dist, r), dist.entropy(), _value(state, params, o)

    log_prob, entropy, values = jax.vmap(per_sample)(batch.obs, batch.raw_action, batch.action_mask)
    advantages = normalize(batch.advantages) if config.normalize_advantages else batch.advantages
    if config.ratio_per_component:  # [N, C]: each component its own clipped term, all averaged
        advantages = jnp.broadcast_to(advantages[:, None], log_prob.shape).reshape(-1)
    policy_loss = ppo_policy_loss(log_prob.reshape(-1), batch.old_log_prob.reshape(-1), advantages, config.clip_eps)
    if config.clip_value:
        value_loss = clipped_value_loss(values, batch.old_value, batch.targets, config.clip_eps)
    else:
        value_loss = 0.5 * jnp.mean(jnp.square(values - batch.targets))
    entropy = entropy.mean()
    if config.entropy_term == "sampled_penalty":
        entropy_loss = config.ent_coef * jnp.mean(-jnp.exp(log_prob) * log_prob)
    else:
        entropy_loss = -config.ent_coef * entropy
    total = policy_loss + config.vf_coef * value_loss + entropy_loss
    log_ratio = log_prob - batch.old_log_prob
    metrics = {
        "policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy,
        # Two estimators of KL(old || new) from the sampled actions (Schulman's k3 and k1; CleanRL
        # logs both): k3 is never negative but explodes where new >> old; k1 is unbiased, noisier.
        "approx_kl": jnp.mean(jnp.exp(log_ratio) - 1.0 - log_ratio),
        "approx_kl_k1": jnp.mean(-log_ratio),
        "clip_fraction": jnp.mean(jnp.abs(jnp.exp(log_ratio) - 1.0) > config.clip_eps),
    }
    return total, metrics


def advantage_targets(rollout: Rollout, config: PPOConfig) -> tuple[jax.Array, jax.Array]:
    """GAE advantages and value targets [T, B]; with `unroll_len` U < T the rollout is cut
    into T / U unrolls, each bootstrapped from the value of the observation after it."""
    T, B = rollout.reward.shape
    U = config.unroll_len or T
    # [T, B] -> [U, (T / U) * B]: unroll k of env b becomes column k * B + b.
    to_unrolls = lambda x: x.reshape(T // U, U, B).swapaxes(0, 1).reshape(U, (T // U) * B)
    from_unrolls = lambda x: x.reshape(U, T // U, B).swapaxes(0, 1).reshape(T, B)
    after_unroll = jnp.concatenate([rollout.value[U::U], rollout.last_value[None]]).reshape(-1)
    advantages, targets = gae_advantages(
        to_unrolls(rollout.reward * config.reward_scale), to_unrolls(rollout.value), to_unrolls(rollout.terminated),
        to_unrolls(rollout.truncated), to_unrolls(rollout.final_value), after_unroll, config.gamma,
        config.gae_lambda)
    return from_unrolls(advantages), from_unrolls(targets)


def update(state: PPOState, rollout: Rollout, key) -> tuple[PPOState, dict]:
    """One PPO iteration: targets, then `update_epochs` x `num_minibatches` Adam steps,
    then the observation statistics absorb the rollout's observations."""
    config = state.config
    # The rollout's log-probs and values were computed with the current statistics; the
    # loss must see the same normalised observations, so statistics update last.
    advantages, targets = advantage_targets(rollout, config)
    data = flatten_time_env(PPOBatch(
        _obs(state, rollout.obs), rollout.raw_action, rollout.action_mask, rollout.log_prob, rollout.value,
        advantages, targets))
    optimizer = make_optimizer(config)

    def minibatch_step(carry, batch: PPOBatch):
        params, opt_state = carry
        grads, metrics = jax.grad(loss, has_aux=True)(params, state, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), metrics

    (params, opt_state), metrics = minibatch_epochs(
        key, (state.params, state.opt_state), data, config.update_epochs, config.num_minibatches, minibatch_step)
    obs_stats = state.obs_stats
    if config.normalize_obs:
        obs_stats = running_stats.update(obs_stats, flatten_time_env(rollout.obs))
    return state.replace(params=params, opt_state=opt_state, obs_stats=obs_stats), metrics


AGENT = Agent(
    name="ppo",
    family="on_policy",
    config_cls=PPOConfig,
    init=init,
    act=act,
    update=update,
    policy_step=policy_step,
    value=value,
    check_config=check_config,
    description="PPO for any action space with masks (clip, GAE, entropy, lr annealing, obs norm)",
)
register(AGENT)
