"""TD3 (Fujimoto et al. 2018) for Box actions, with DDPG (Lillicrap et al. 2016) as its
special case by flags: one critic instead of twins, no target policy smoothing, no delay.

    config = TD3Config()                 # twin critics, smoothing, policy_delay=2
    config = DDPGConfig()                # twin_critics=False, target_smoothing=False, policy_delay=1

One `update` is one gradient step:
  critics  y = r + gamma (1 - terminated) min_i Q'_i(s', a'), a' = mu'(s') (+ clipped noise
           when smoothing), inside the next state's mask; loss = sum over critics of the MSE
  actor    every `policy_delay` steps: -mean Q_1(s, mu(s)); target networks (actor and
           critics) move by Polyak averaging at the same steps

Noise scales are fractions of the half-width of the allowed interval: exploration and
smoothing noise are added to the unit action u in [-1, 1] before it is squashed into the
state's (low, high) mask, so actions never leave the mask. `normalize_obs` as in SAC.

Defaults: the authors' later repository (sfujim/TD3 HEAD, "Python3 + Hyper-parameters
update", 2019): (256, 256) layers, Adam 3e-4, batch 256, 25k random steps. The paper's
settings (Table 1 / the paper-era code sfujim/TD3 @ bc98e62: (400, 300) layers, Adam 1e-3,
batch 100, PyTorch's default init, 10k random steps on HalfCheetah/Ant and 1k elsewhere)
are `PAPER_2018` (plus the per-env warm-up in `PAPER_2018_START_STEPS`).
"""
from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions import td
from jaxrl_actions.agents.base import register
from jaxrl_actions.agents.base import Agent, validate_config
from jaxrl_actions.agents.continuous import (
    DeterministicActor,
    Learner,
    action_bounds,
    agent_obs,
    apply_gradients,
    check_box_spec,
    check_network_init,
    init_actor_critic,
    init_obs_stats,
    make_learner,
    observe_batch,
    q_values,
    squash_to_bounds,
)
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.training.config import OffPolicyConfig
from jaxrl_actions.types import Transition


@struct.dataclass
class TD3Config(OffPolicyConfig):
    # structure (static)
    actor_hidden: Sequence[int] = struct.field(pytree_node=False, default=(256, 256))
    critic_hidden: Sequence[int] = struct.field(pytree_node=False, default=(256, 256))
    activation: str = struct.field(pytree_node=False, default="relu")
    twin_critics: bool = struct.field(pytree_node=False, default=True)
    target_smoothing: bool = struct.field(pytree_node=False, default=True)
    policy_delay: int = struct.field(pytree_node=False, default=2)
    normalize_obs: bool = struct.field(pytree_node=False, default=False)  # running moments of replayed obs
    weight_init: str = struct.field(pytree_node=False, default="orthogonal")  # networks.mlp.INITS ("torch": the paper's)
    # hyper-parameters (pytree leaves)
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    gamma: float = 0.99
    tau: float = 0.005
    exploration_noise: float = 0.1  # std of Gaussian noise on the unit action when acting
    target_noise: float = 0.2  # std of the target-smoothing noise
    target_noise_clip: float = 0.5
    reward_scale: float = 1.0
    max_grad_norm: float = 0.0  # <= 0: no clipping

    @property
    def num_critics(self) -> int:
        return 2 if self.twin_critics else 1


# The TD3 paper's settings (sfujim/TD3 @ bc98e62, TD3.py and main.py): layer sizes of actor
# and both critics, Adam's default lr 1e-3 (no lr passed), batch 100, torch.nn.Linear init.
PAPER_2018 = dict(actor_hidden=(400, 300), critic_hidden=(400, 300), actor_lr=1e-3, critic_lr=1e-3, batch_size=100,
                  weight_init="torch")
# --start_timesteps per env (run_experiments.sh @ bc98e62).
PAPER_2018_START_STEPS = {"halfcheetah": 10_000, "ant": 10_000, "hopper": 1_000, "walker2d": 1_000,
                          "inverted_pendulum": 1_000, "inverted_double_pendulum": 1_000, "reacher": 1_000}


@struct.dataclass
class DDPGConfig(TD3Config):
    twin_critics: bool = struct.field(pytree_node=False, default=False)
    target_smoothing: bool = struct.field(pytree_node=False, default=False)
    policy_delay: int = struct.field(pytree_node=False, default=1)


@struct.dataclass
class TD3State:
    actor: Learner
    critic: Learner
    target_actor_params: Any
    target_critic_params: Any
    obs_stats: Any  # running_stats.RunningStats of replayed observations (used if normalize_obs)
    updates: jax.Array  # int32[]
    config: TD3Config
    spec: EnvSpec = struct.field(pytree_node=False)


def check(config: TD3Config) -> None:
    validate_config(config, {
        "actor_lr": lambda v: v > 0, "critic_lr": lambda v: v > 0,
        "gamma": lambda v: (v >= 0) & (v <= 1), "tau": lambda v: (v > 0) & (v <= 1),
        "exploration_noise": lambda v: v >= 0, "target_noise": lambda v: v >= 0,
        "target_noise_clip": lambda v: v >= 0, "reward_scale": lambda v: v > 0, "policy_delay": lambda v: v >= 1,
    })
    check_network_init(config)


def _actor(config: TD3Config, action_dim: int) -> DeterministicActor:
    return DeterministicActor(action_dim, tuple(config.actor_hidden), config.activation, config.weight_init)


def _action_dim(spec: EnvSpec) -> int:
    return check_box_spec(spec, "TD3")


def init(key: jax.Array, spec: EnvSpec, config: TD3Config) -> TD3State:
    check(config)
    action_dim = _action_dim(spec)
    actor_params, critic_params = init_actor_critic(key, spec, config, _actor(config, action_dim), action_dim)
    return TD3State(
        actor=make_learner(actor_params, config.actor_lr, config.max_grad_norm),
        critic=make_learner(critic_params, config.critic_lr, config.max_grad_norm),
        target_actor_params=actor_params,
        target_critic_params=critic_params,
        obs_stats=init_obs_stats(spec.obs_space),
        updates=jnp.int32(0),
        config=config,
        spec=spec,
    )


def _unit_action(state: TD3State, actor_params, obs) -> jax.Array:
    return _actor(state.config, _action_dim(state.spec)).apply(actor_params, agent_obs(state, obs))


def act(state: TD3State, obs, mask, key, deterministic: bool = False) -> jax.Array:
    """mu(obs) (+ exploration noise) squashed into (low, high) of `mask`."""
    unit = _unit_action(state, state.actor.params, obs)
    if not deterministic:
        noise = state.config.exploration_noise * jax.random.normal(key, unit.shape)
        unit = jnp.clip(unit + noise, -1.0, 1.0)
    return squash_to_bounds(unit, *action_bounds(state.spec.action_space, mask))


def _critic_loss(critic_params, state: TD3State, batch: Transition, key):
    config = state.config
    next_unit = _unit_action(state, state.target_actor_params, batch.next_obs)
    if config.target_smoothing:
        noise = jnp.clip(config.target_noise * jax.random.normal(key, next_unit.shape),
                         -config.target_noise_clip, config.target_noise_clip)
        next_unit = jnp.clip(next_unit + noise, -1.0, 1.0)
    next_action = squash_to_bounds(next_unit, *action_bounds(state.spec.action_space, batch.next_action_mask))
    next_q = jnp.min(q_values(state, state.target_critic_params, batch.next_obs, next_action), axis=-1)
    target = td.transition_target(batch, next_q, config.gamma, config.reward_scale)
    q = q_values(state, critic_params, batch.obs, batch.action)  # [B, num_critics]
    loss = jnp.sum(jnp.mean(jnp.square(q - target[:, None]), axis=0))
    return loss, {"critic_loss": loss, "q_mean": jnp.mean(q)}


def _actor_loss(actor_params, state: TD3State, batch: Transition):
    unit = _unit_action(state, actor_params, batch.obs)
    action = squash_to_bounds(unit, *action_bounds(state.spec.action_space, batch.action_mask))
    return -jnp.mean(q_values(state, state.critic.params, batch.obs, action)[..., 0])


def _update_actor_and_targets(state: TD3State, batch: Transition) -> tuple[TD3State, dict]:
    tau = state.config.tau
    actor_loss, grads = jax.value_and_grad(_actor_loss)(state.actor.params, state, batch)
    actor = apply_gradients(state.actor, grads)
    state = state.replace(
        actor=actor,
        target_actor_params=td.soft_update(state.target_actor_params, actor.params, tau),
        target_critic_params=td.soft_update(state.target_critic_params, state.critic.params, tau),
    )
    return state, {"actor_loss": actor_loss}


def update(state: TD3State, batch: Transition, key) -> tuple[TD3State, dict]:
    """One gradient step on a batch [B] (see module docstring)."""
    state = state.replace(
        obs_stats=observe_batch(state.obs_stats, batch.obs, state.spec.obs_space, state.config.normalize_obs)
    )
    (_, critic_metrics), grads = jax.value_and_grad(_critic_loss, has_aux=True)(state.critic.params, state, batch, key)
    state = state.replace(critic=apply_gradients(state.critic, grads))
    if state.config.policy_delay == 1:
        state, actor_metrics = _update_actor_and_targets(state, batch)
    else:
        state, actor_metrics = jax.lax.cond(
            (state.updates + 1) % state.config.policy_delay == 0,
            lambda: _update_actor_and_targets(state, batch),
            lambda: (state, {"actor_loss": jnp.float32(0.0)}),
        )
    return state.replace(updates=state.updates + 1), {**critic_metrics, **actor_metrics}


AGENT = Agent(
    name="td3",
    family="off_policy",
    config_cls=TD3Config,
    init=init,
    act=act,
    update=update,
    check_config=check,
    description="TD3: twin critics, target policy smoothing, delayed actor (Box actions, masks)",
)
DDPG_AGENT = Agent(
    name="ddpg",
    family="off_policy",
    config_cls=DDPGConfig,
    init=init,
    act=act,
    update=update,
    check_config=check,
    description="DDPG: TD3 with one critic, no target smoothing, no policy delay",
)
register(AGENT)
register(DDPG_AGENT)
