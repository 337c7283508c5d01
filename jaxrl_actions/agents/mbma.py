"""Model-based many-actions policy gradient (MBMA; Nauman & Cygan, "On Many-Actions Policy
Gradient", ICML 2023) for Box actions, following the authors' code (naumix/CHANGES_ICML2023,
`mbma/mbma.py`, `args.py`, `ppo_utils.py`) and the paper's hyper-parameter table (App. C.5)
where the two differ (each default says which).

MBMA is PPO whose policy gradient at every real state averages the real action with N extra
actions sampled from the policy there, each scored by a learned model:

    a^n ~ pi(.|s_t), n = 1..N; roll the model H steps with the policy: s_1 = f(s_t, a^n),
    r_k = g(s_k, a_k); A(s_t, a^n) = sum_{k<H} (gamma lambda)^k delta_k,
    delta_k = r_k + gamma V(s_{k+1}) - V(s_k)                    (GAE's index-0 advantage)
    policy loss = mean over states of the mean over the 1 + N actions of PPO's clipped loss
    value loss  = PPO's, on real states and their GAE returns only

The model is two MLPs on (obs, action in [-1, 1]): f predicts the next observation, g the
reward, each trained by MSE with its own Adam for `model_steps` steps of `model_batch` per
update on a FIFO buffer of the last `model_buffer` real transitions. Imagined actions start
after `model_warmup_steps` env steps; from then on N and H ramp up over `ramp_fraction` of the
remaining updates (N_k = min(N, 1 + k N / R), H_k = min(H, 2 + k H / R), k updates since the
start, R = ramp_fraction x updates: mbma.py's anneal).

Baselines as configurations: `action_samples=0` is single-action PPO (SPG) with the same
settings. N actions from the environment (rewinding it to s_t) needs env state access inside
the update, which the pure on-policy loop does not give agents: not provided.

Logged per update besides PPO's metrics: `pg_variance_single` and `pg_variance_many`, the
relative variance sum_p Var_m(g_p) / sum_p mean_m(g_p)^2 of the actor's policy-gradient over
`variance_minibatches` minibatches of this update's data, for the real actions alone and for
the many-actions estimator (equal at N_k = 0), so the variance reduction is measured on the
same data at the same env steps (the paper measures it offline, App. C.4).

Remaining differences from the authors' code: the policy is PPO's tanh-squashed Gaussian (theirs
a Gaussian with a tanh mean, clipped); the model's next-observation loss uses pairs inside one
rollout (the last step of a rollout and steps that end an episode have no stored next
observation; their rewards still train the reward net).
"""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl_actions import running_stats
from jaxrl_actions.agents import ppo
from jaxrl_actions.agents.base import Agent, register, validate_config
from jaxrl_actions.agents.continuous import critic_action
from jaxrl_actions.buffers.rollout import Rollout, flatten_time_env, minibatch_epochs
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.losses import ppo_policy_loss
from jaxrl_actions.networks.mlp import MLP
from jaxrl_actions.spaces import Box


@struct.dataclass
class MBMAConfig(ppo.PPOConfig):
    # PPO (paper App. C.5 / args.py): T = 2048 from one env, minibatches of 64, 10 epochs
    num_envs: int = struct.field(pytree_node=False, default=1)
    rollout_len: int = struct.field(pytree_node=False, default=2048)
    update_epochs: int = struct.field(pytree_node=False, default=10)
    num_minibatches: int = struct.field(pytree_node=False, default=32)  # 2048 / 64
    hidden_sizes: tuple = struct.field(pytree_node=False, default=(512, 512))  # actor hidden 512
    critic_hidden_sizes: tuple = struct.field(pytree_node=False, default=(1024, 1024))  # paper 1024 (code 512)
    activation: str = struct.field(pytree_node=False, default="leaky_relu")  # nn.LeakyReLU
    normalize_advantages: bool = struct.field(pytree_node=False, default=False)  # paper 5.1; norm_adv False
    # many actions and the model
    action_samples: int = struct.field(pytree_node=False, default=8)  # N (paper and --action_samples)
    horizon: int = struct.field(pytree_node=False, default=10)  # H: paper 10 (code --horizon 8)
    model_hidden: tuple = struct.field(pytree_node=False, default=(1024, 1024))  # dynamics hidden 1024
    model_buffer: int = struct.field(pytree_node=False, default=25_000)  # paper 25k (code 200k)
    model_batch: int = struct.field(pytree_node=False, default=128)
    model_steps: int = struct.field(pytree_node=False, default=640)  # update_epochs x minibatch_size
    model_warmup_steps: int = struct.field(pytree_node=False, default=40_000)  # wm_init_steps
    variance_minibatches: int = struct.field(pytree_node=False, default=8)  # ours: the logged variance
    # hyper-parameters (pytree leaves)
    lr: float = 3e-4
    ent_coef: float = 0.0  # args.py ent_coef 0.0
    model_lr: float = 3e-4
    ramp_fraction: float = 0.15  # anneal_limit


class ModelBuffer(NamedTuple):
    obs: jax.Array  # [K, F]
    action: jax.Array  # [K, A] in [-1, 1]
    reward: jax.Array  # [K]
    next_obs: jax.Array  # [K, F]
    valid: jax.Array  # [K] bool: a stored (obs, action, reward)
    has_next: jax.Array  # [K] bool: ... whose next observation is stored too
    position: jax.Array  # int32[]: the next slot to write


@struct.dataclass
class MBMAState:
    policy: ppo.PPOState
    model_params: Any  # {"next": ..., "reward": ...}
    model_opt_state: Any
    buffer: ModelBuffer
    env_steps: jax.Array  # int32[]
    config: MBMAConfig


def check(config: MBMAConfig) -> None:
    ppo.check_config(config)
    validate_config(config, {"model_lr": lambda v: v > 0, "ramp_fraction": lambda v: (v > 0) & (v <= 1)})
    for name, least in (("action_samples", 0), ("horizon", 1), ("model_buffer", 1), ("model_batch", 1),
                        ("model_steps", 0), ("variance_minibatches", 2)):
        if getattr(config, name) < least:
            raise ValueError(f"MBMAConfig.{name}={getattr(config, name)!r} must be >= {least}")
    if config.variance_minibatches > config.num_minibatches:
        raise ValueError(f"MBMAConfig.variance_minibatches={config.variance_minibatches} must be <= "
                         f"num_minibatches={config.num_minibatches}")


def _model(config: MBMAConfig, size: int) -> MLP:
    return MLP(tuple(config.model_hidden), config.activation, output_size=size)


def _model_optimizer(config: MBMAConfig) -> optax.GradientTransformation:
    return optax.adam(config.model_lr, eps=1e-5)  # paper: Adam eps 1e-5 (code 1e-8)


def init(key: jax.Array, spec: EnvSpec, config: MBMAConfig) -> MBMAState:
    check(config)
    if not isinstance(spec.action_space, Box) or len(spec.obs_space.shape) != 1:
        raise ValueError(f"MBMA needs flat observations and a Box action space, got {spec.obs_space} and "
                         f"{spec.action_space}")
    k_policy, k_next, k_reward = jax.random.split(key, 3)
    obs_dim, act_dim = spec.obs_space.shape[0], int(spec.action_space.shape[0])
    inputs = jnp.zeros((obs_dim + act_dim,))
    model_params = {"next": _model(config, obs_dim).init(k_next, inputs),
                    "reward": _model(config, 1).init(k_reward, inputs)}
    k = config.model_buffer
    buffer = ModelBuffer(jnp.zeros((k, obs_dim)), jnp.zeros((k, act_dim)), jnp.zeros((k,)), jnp.zeros((k, obs_dim)),
                         jnp.zeros((k,), bool), jnp.zeros((k,), bool), jnp.int32(0))
    return MBMAState(ppo.init(k_policy, spec, config), model_params, _model_optimizer(config).init(model_params),
                     buffer, jnp.int32(0), config)


def predict(config: MBMAConfig, model_params, obs, unit_action) -> tuple[jax.Array, jax.Array]:
    """(next observation, reward) the model predicts for (obs [..., F], action [..., A])."""
    inputs = jnp.concatenate([obs, jnp.clip(unit_action, -1.0, 1.0)], axis=-1)
    next_obs = _model(config, obs.shape[-1]).apply(model_params["next"], inputs)
    return next_obs, _model(config, 1).apply(model_params["reward"], inputs)[..., 0]


# ---------------------------------------------------------------------------------------
# The model: buffer and training


FIELDS = ("obs", "action", "reward", "next_obs", "valid", "has_next")


def add_rollout(buffer: ModelBuffer, rollout: Rollout, space: Box) -> ModelBuffer:
    """Appends the rollout's steps (obs_t, a_t, r_t, obs_t+1), FIFO. The next observation is
    known (`has_next`) where step t neither ended an episode nor is the rollout's last; the
    reward is known everywhere."""
    T, B = rollout.reward.shape
    has_next = ~(rollout.terminated | rollout.truncated)
    has_next = has_next.at[-1].set(False)
    next_obs = jnp.concatenate([rollout.obs[1:], rollout.obs[-1:]], axis=0)
    rows = flatten_time_env(ModelBuffer(rollout.obs, critic_action(space, rollout.action), rollout.reward, next_obs,
                                        jnp.ones((T, B), bool), has_next, jnp.zeros((T, B))))
    slots = (buffer.position + jnp.arange(T * B)) % buffer.valid.shape[0]
    written = {f: getattr(buffer, f).at[slots].set(getattr(rows, f)) for f in FIELDS}
    return ModelBuffer(**written, position=(buffer.position + T * B) % buffer.valid.shape[0])


def model_loss(model_params, config: MBMAConfig, batch: ModelBuffer):
    """MSE of the next observation (where stored) plus MSE of the reward."""
    next_obs, reward = predict(config, model_params, batch.obs, batch.action)
    has_next = batch.has_next.astype(jnp.float32)
    next_loss = jnp.sum(has_next * jnp.mean(jnp.square(next_obs - batch.next_obs), axis=-1)) / jnp.maximum(
        jnp.sum(has_next), 1.0)
    return next_loss + jnp.mean(jnp.square(reward - batch.reward))


def train_model(state: MBMAState, buffer: ModelBuffer, key) -> tuple[Any, Any, jax.Array]:
    """`model_steps` Adam steps on minibatches drawn uniformly from the stored steps."""
    config = state.config
    optimizer = _model_optimizer(config)
    p = buffer.valid.astype(jnp.float32)
    p = p / jnp.maximum(jnp.sum(p), 1.0)

    def step(carry, k):
        params, opt_state = carry
        index = jax.random.choice(k, p.shape[0], (config.model_batch,), p=p)
        batch = jax.tree.map(lambda x: x[index], buffer._replace(position=jnp.zeros_like(buffer.valid)))
        loss, grads = jax.value_and_grad(model_loss)(params, config, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    (params, opt_state), losses = jax.lax.scan(step, (state.model_params, state.model_opt_state),
                                               jax.random.split(key, config.model_steps))
    return params, opt_state, jnp.mean(losses) if config.model_steps else jnp.float32(0.0)


# ---------------------------------------------------------------------------------------
# Imagined actions


def ramp(config: MBMAConfig, env_steps: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(N_k, H_k) at this update: 0 imagined actions before the model's warm-up, then the
    authors' linear ramp."""
    per_update = config.num_envs * config.rollout_len
    started = env_steps >= config.model_warmup_steps
    k = jnp.maximum(env_steps - config.model_warmup_steps, 0) // per_update
    ramp_updates = jnp.maximum(config.ramp_fraction * config.num_updates, 1.0)
    n = jnp.minimum(config.action_samples, jnp.floor(k * config.action_samples / ramp_updates) + 1)
    h = jnp.minimum(config.horizon, jnp.floor(k * config.horizon / ramp_updates) + 2)
    return jnp.where(started, n, 0).astype(jnp.int32), h.astype(jnp.int32)


class Imagined(NamedTuple):
    raw_action: jax.Array  # [N_states, S, A]
    log_prob: jax.Array  # [N_states, S]
    advantage: jax.Array  # [N_states, S]


def imagine(state: MBMAState, model_params, obs: jax.Array, horizon, key) -> Imagined:
    """For each real observation [N, F]: `action_samples` actions from the policy, each scored
    by an H-step model rollout bootstrapped with the critic (only the first `horizon`
    steps count)."""
    config, policy = state.config, state.policy
    space = policy.nets.space
    discounts = (config.gamma * config.gae_lambda) ** jnp.arange(config.horizon)
    counted = jnp.arange(config.horizon) < horizon

    def policy_sample(o, k):
        dist = ppo._dist(policy, policy.params, ppo._obs(policy, o), None)
        raw = dist.sample(k)
        return raw, dist.log_prob(raw), critic_action(space, dist.to_action(raw))

    def one_action(o, k):
        k_first, k_rest = jax.random.split(k)
        raw, log_prob, unit = policy_sample(o, k_first)
        first, first_reward = predict(config, model_params, o, unit)

        def step(s, kk):  # s_1 .. s_{H-1}: the policy acts, the model predicts
            _, _, u = policy_sample(s, kk)
            s_next, reward = predict(config, model_params, s, u)
            return s_next, (reward, ppo.value(policy, s))

        # H-1 further steps, so no action is drawn at s_H (only its value is needed)
        last, (rewards, values) = jax.lax.scan(step, first, jax.random.split(k_rest, config.horizon)[:-1])
        rewards = jnp.concatenate([first_reward[None], rewards]) * config.reward_scale
        values = jnp.concatenate([ppo.value(policy, o)[None], values, ppo.value(policy, last)[None]])  # V(s_0)..V(s_H)
        deltas = rewards + config.gamma * values[1:] - values[:-1]
        return raw, log_prob, jnp.sum(jnp.where(counted, discounts * deltas, 0.0))

    def one_state(o, k):
        return jax.vmap(one_action, in_axes=(None, 0))(o, jax.random.split(k, config.action_samples))

    raw, log_prob, advantage = jax.vmap(one_state)(obs, jax.random.split(key, obs.shape[0]))
    return Imagined(raw, log_prob, advantage)


# ---------------------------------------------------------------------------------------
# The update


class MBMABatch(NamedTuple):
    real: ppo.PPOBatch  # [N]
    imagined: Imagined  # [N, S]
    weight: jax.Array  # [S] 1.0 for the N_k imagined actions that count


def _imagined_policy_loss(params, policy: ppo.PPOState, batch: MBMABatch) -> jax.Array:
    """sum_n w_n x PPO's clipped loss of imagined action n (mean over states)."""

    def log_probs(o, raws):
        dist = ppo._dist(policy, params, o, None)
        return jax.vmap(dist.log_prob)(raws)

    new = jax.vmap(log_probs)(batch.real.obs, batch.imagined.raw_action)  # [N, S]
    per_sample = jax.vmap(ppo_policy_loss, in_axes=(1, 1, 1, None))(
        new, batch.imagined.log_prob, batch.imagined.advantage, policy.config.clip_eps)  # [S]
    return jnp.sum(batch.weight * per_sample)


def _many_actions_policy_loss(real_policy_loss, params, policy: ppo.PPOState, batch: MBMABatch) -> jax.Array:
    """The mean of PPO's clipped loss over the real and the counted imagined actions."""
    return (real_policy_loss + _imagined_policy_loss(params, policy, batch)) / (1.0 + jnp.sum(batch.weight))


def loss(params, policy: ppo.PPOState, batch: MBMABatch):
    """PPO's loss with its policy term replaced by the mean over the real and imagined actions."""
    total, metrics = ppo.loss(params, policy, batch.real)
    many = _many_actions_policy_loss(metrics["policy_loss"], params, policy, batch)
    return total - metrics["policy_loss"] + many, {**metrics, "many_actions_policy_loss": many}


def _policy_objectives(params, policy, batch: MBMABatch):
    real = ppo.loss(params, policy, batch.real)[1]["policy_loss"]
    return real, _many_actions_policy_loss(real, params, policy, batch)


def relative_variance(grads: Any) -> jax.Array:
    """sum_p Var_m(g_p) / sum_p mean_m(g_p)^2 over a leading minibatch axis m."""
    leaves = [g.reshape(g.shape[0], -1) for g in jax.tree.leaves(grads)]
    flat = jnp.concatenate(leaves, axis=1)
    return jnp.sum(jnp.var(flat, axis=0)) / jnp.maximum(jnp.sum(jnp.square(jnp.mean(flat, axis=0))), 1e-30)


def gradient_variances(policy: ppo.PPOState, data: MBMABatch, key) -> dict:
    """The actor's policy-gradient relative variance over `variance_minibatches` disjoint
    minibatches, for the real actions alone and for the many-actions estimator."""
    config = policy.config
    n = data.real.advantages.shape[0]
    size = n // config.num_minibatches
    order = jax.random.permutation(key, n)[: config.variance_minibatches * size]
    rows = jax.tree.map(lambda x: x[order].reshape((config.variance_minibatches, size) + x.shape[1:]),
                        (data.real, data.imagined))

    def grads(real, imagined):
        batch = MBMABatch(real, imagined, data.weight)
        actor_only = lambda a, which: _policy_objectives(policy.params.replace(actor=a), policy, batch)[which]
        return jax.grad(actor_only)(policy.params.actor, 0), jax.grad(actor_only)(policy.params.actor, 1)

    single, many = jax.vmap(grads)(*rows)
    return {"pg_variance_single": relative_variance(single), "pg_variance_many": relative_variance(many)}


def update(state: MBMAState, rollout: Rollout, key) -> tuple[MBMAState, dict]:
    """Model training on the buffer, imagined actions at the rollout's states, PPO epochs."""
    config, policy = state.config, state.policy
    k_model, k_imagine, k_variance, k_epochs = jax.random.split(key, 4)
    buffer = add_rollout(state.buffer, rollout, policy.nets.space)
    model_params, model_opt_state, model_loss_value = train_model(state, buffer, k_model)
    env_steps = state.env_steps + config.num_envs * config.rollout_len
    n_active, h_active = ramp(config, state.env_steps)

    advantages, targets = ppo.advantage_targets(rollout, config)
    real = flatten_time_env(ppo.PPOBatch(ppo._obs(policy, rollout.obs), rollout.raw_action, rollout.action_mask,
                                         rollout.log_prob, rollout.value, advantages, targets))
    raw_obs = flatten_time_env(rollout.obs)
    imagined = imagine(state, model_params, raw_obs, h_active, k_imagine)
    weight = (jnp.arange(config.action_samples) < n_active).astype(jnp.float32)
    data = MBMABatch(real, imagined, weight)
    variances = gradient_variances(policy, data, k_variance)

    optimizer = ppo.make_optimizer(config)

    def minibatch_step(carry, rows):  # rows: (real, imagined) of one minibatch
        params, opt_state = carry
        grads, metrics = jax.grad(loss, has_aux=True)(params, policy, MBMABatch(*rows, weight))
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), metrics

    (params, opt_state), metrics = minibatch_epochs(
        k_epochs, (policy.params, policy.opt_state), (real, imagined), config.update_epochs, config.num_minibatches,
        minibatch_step)
    obs_stats = policy.obs_stats
    if config.normalize_obs:
        obs_stats = running_stats.update(obs_stats, raw_obs)
    policy = policy.replace(params=params, opt_state=opt_state, obs_stats=obs_stats)
    metrics = {**metrics, **variances, "model_loss": model_loss_value, "imagined_actions": n_active.astype(jnp.float32),
               "imagined_horizon": h_active.astype(jnp.float32),
               "imagined_advantage": jnp.sum(weight * jnp.mean(imagined.advantage, axis=0)) / jnp.maximum(n_active, 1)}
    return state.replace(policy=policy, model_params=model_params, model_opt_state=model_opt_state, buffer=buffer,
                         env_steps=env_steps), metrics


def act(state: MBMAState, obs, mask, key, deterministic=False):
    return ppo.act(state.policy, obs, mask, key, deterministic)


def policy_step(state: MBMAState, obs, mask, key):
    return ppo.policy_step(state.policy, obs, mask, key)


def value(state: MBMAState, obs):
    return ppo.value(state.policy, obs)


AGENT = Agent(
    name="mbma",
    family="on_policy",
    config_cls=MBMAConfig,
    init=init,
    act=act,
    update=update,
    policy_step=policy_step,
    value=value,
    check_config=check,
    description="Model-based many-actions PPO: extra policy actions per state scored by a learned model (Box)",
)
register(AGENT)
