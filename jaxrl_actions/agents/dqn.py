"""DQN (Mnih et al. 2015) with double-Q targets (van Hasselt et al. 2016), dueling heads
(Wang et al. 2016), a linear epsilon schedule and action masks; written once for the
factorised Q layout of `networks/q_heads.py`, so DecQN and REValueD
(`agents/factorised.py`) are configurations of the same code.

    config = DQNConfig(total_steps=500_000)
    state = init(key, spec, config)
    action = act(state, obs, mask, key, deterministic=False)   # one observation
    state, metrics = update(state, batch, key)                 # batch: Transition [B]

One `update` is one gradient step on a batch [B] with utilities U [B, E, D, K] (E critics,
D action dimensions of K choices; DQN: E = D = 1):

    Q(s, a)   = mean_d U_d(s, a_d)                      per critic
    a*_d      = argmax_{valid k} mean_E U_d(s', k)      online net (double) or target net
    y         = r + gamma (1 - terminated) mean_d mean_E U'_d(s', a*_d)      target net
    loss      = sum_E mean_B huber(Q - y)   (+ with `regularise_utilities`, reg_weight times
                REValueD's regulariser: mean_d w_d (U_d(s, a_d) - U'_d(s, a_d))^2, which holds
                each chosen utility near its target network's value, more strongly the larger
                its own error: w_d = 1 - exp(-|y - U_d(s, a_d)|), no gradient through w_d)
    targets   every `target_period` updates: target <- (1 - tau) target + tau online

Masks: `act` never picks an invalid action (greedy and random choices are masked per
dimension) and the bootstrap max uses `Transition.next_action_mask`.

Exploration: epsilon decays linearly from `eps_start` to `eps_end` over `eps_decay_steps`
env steps, counted from the gradient steps taken (env steps = learning start + updates *
num_envs / utd), because `act` returns no state.

n-step returns: set `n_step` (an `OffPolicyConfig` field); the loop then stores n-step
transitions and `td.transition_target` bootstraps with their gamma^m.
"""
from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl_actions import td
from jaxrl_actions.agents.base import register
from jaxrl_actions.agents.base import Agent, validate_config
from jaxrl_actions.agents.continuous import Learner, apply_gradients, flatten_obs, make_learner
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.networks import q_heads
from jaxrl_actions.spaces import Discrete
from jaxrl_actions.training.config import OffPolicyConfig, learning_starts
from jaxrl_actions.types import Transition

LOSSES = ("huber", "mse")


@struct.dataclass
class DQNConfig(OffPolicyConfig):
    # structure (static)
    hidden_sizes: Sequence[int] = struct.field(pytree_node=False, default=(256, 256))
    activation: str = struct.field(pytree_node=False, default="relu")
    dueling: bool = struct.field(pytree_node=False, default=False)
    double: bool = struct.field(pytree_node=False, default=True)
    num_critics: int = struct.field(pytree_node=False, default=1)  # E (REValueD's ensemble)
    target_period: int = struct.field(pytree_node=False, default=1)  # updates between target updates
    loss: str = struct.field(pytree_node=False, default="huber")
    regularise_utilities: bool = struct.field(pytree_node=False, default=False)  # REValueD's regulariser
    # hyper-parameters (pytree leaves: vmap sweeps them)
    lr: float = 2.5e-4
    gamma: float = 0.99
    tau: float = 0.005  # 1.0 with target_period > 1: hard target copies
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay_steps: float = 50_000.0  # env steps
    max_grad_norm: float = 10.0  # global-norm clipping; <= 0 turns it off
    reg_weight: float = 0.0  # weight of REValueD's regulariser (with regularise_utilities)
    reward_scale: float = 1.0


@struct.dataclass
class DQNState:
    q: Learner
    target_params: Any
    updates: jax.Array  # int32[] gradient steps taken
    config: DQNConfig
    spec: EnvSpec = struct.field(pytree_node=False)


def check(config: DQNConfig) -> None:
    validate_config(config, {
        "lr": lambda v: v > 0, "gamma": lambda v: (v >= 0) & (v <= 1), "tau": lambda v: (v > 0) & (v <= 1),
        "eps_start": lambda v: (v >= 0) & (v <= 1), "eps_end": lambda v: (v >= 0) & (v <= 1),
        "eps_decay_steps": lambda v: v >= 0, "reg_weight": lambda v: v >= 0, "reward_scale": lambda v: v > 0,
        "num_critics": lambda v: v >= 1, "target_period": lambda v: v >= 1,
    })
    if config.loss not in LOSSES:
        raise ValueError(f"{type(config).__name__}.loss={config.loss!r}; choose one of {LOSSES}")


def network(config: DQNConfig, spec: EnvSpec) -> q_heads.FactorisedQ:
    num_dims, bins = q_heads.factor_shape(spec.action_space)
    return q_heads.FactorisedQ(num_dims, bins, tuple(config.hidden_sizes), config.activation, config.dueling,
                               config.num_critics)


def init(key: jax.Array, spec: EnvSpec, config: DQNConfig) -> DQNState:
    check(config)
    q_heads.factor_shape(spec.action_space)  # raises for unsupported spaces
    params = network(config, spec).init(key, flatten_obs(jnp.zeros(spec.obs_space.shape), spec.obs_space))
    return DQNState(make_learner(params, config.lr, config.max_grad_norm), params, jnp.int32(0), config, spec)


def utilities(state: DQNState, params, obs) -> jax.Array:
    """float32[..., E, D, K] for observations [..., *obs_shape]."""
    return network(state.config, state.spec).apply(params, flatten_obs(obs, state.spec.obs_space))


def epsilon(state: DQNState) -> jax.Array:
    config = state.config
    env_steps = learning_starts(config) * config.num_envs + state.updates * config.num_envs / max(config.utd, 1)
    return q_heads.linear_schedule(config.eps_start, config.eps_end, config.eps_decay_steps, env_steps)


def greedy_factors(state: DQNState, obs, mask) -> jax.Array:
    """int32[D]: per-dimension argmax of the ensemble-mean utilities among valid choices."""
    u = jnp.mean(utilities(state, state.q.params, obs), axis=0)  # [D, K]
    return q_heads.masked_argmax(u, q_heads.factor_mask(state.spec.action_space, mask))


def act(state: DQNState, obs, mask, key, deterministic: bool = False):
    """Greedy (deterministic) or epsilon-greedy action, always inside the mask."""
    space = state.spec.action_space
    greedy = greedy_factors(state, obs, mask)
    if deterministic:
        return q_heads.to_space_action(space, greedy)
    factors = q_heads.epsilon_greedy(key, greedy, q_heads.factor_mask(space, mask), epsilon(state))
    return q_heads.to_space_action(space, factors)


def bootstrap_value(state: DQNState, batch: Transition) -> jax.Array:
    """float32[B]: mean_d of the target utilities at the (double-)greedy valid next action."""
    space = state.spec.action_space
    if batch.next_action_mask is None:
        next_mask = q_heads.factor_mask(space, None)  # [D, K], broadcast over the batch
    else:
        next_mask = jax.vmap(lambda m: q_heads.factor_mask(space, m))(batch.next_action_mask)  # [B, D, K]
    target_u = jnp.mean(utilities(state, state.target_params, batch.next_obs), axis=1)  # [B, D, K]
    select_u = jnp.mean(utilities(state, state.q.params, batch.next_obs), axis=1) if state.config.double else target_u
    best = q_heads.masked_argmax(select_u, next_mask)  # [B, D]
    return q_heads.decoupled_q(target_u, best)


def _pointwise_loss(kind: str, error: jax.Array) -> jax.Array:
    return optax.huber_loss(error) if kind == "huber" else 0.5 * jnp.square(error)


def chosen_utilities(state: DQNState, params, batch: Transition) -> jax.Array:
    """float32[B, E, D]: every critic's utility of the batch's action in each dimension."""
    u = utilities(state, params, batch.obs)  # [B, E, D, K]
    factors = q_heads.from_space_action(state.spec.action_space, batch.action)[:, None, :]  # [B, 1, D]
    return q_heads.gather(u, jnp.broadcast_to(factors, u.shape[:-1]))


def utility_regulariser(chosen: jax.Array, anchor: jax.Array, target: jax.Array) -> jax.Array:
    """REValueD's regulariser for chosen utilities [B, E, D], their target-network values
    `anchor` [B, E, D] and TD targets [B]: sum_E mean_{B, D} w (U - U')^2 with
    w = 1 - exp(-|y - U|) (a dimension whose utility is far from the target is likely moved
    by the other dimensions' exploratory choices, so it is held near its old value)."""
    weight = jax.lax.stop_gradient(1.0 - jnp.exp(-jnp.abs(target[:, None, None] - chosen)))
    return jnp.sum(jnp.mean(weight * jnp.square(chosen - jax.lax.stop_gradient(anchor)), axis=(0, 2)))


def _loss(params, state: DQNState, batch: Transition, target: jax.Array):
    config = state.config
    chosen = chosen_utilities(state, params, batch)  # [B, E, D]
    q = jnp.mean(chosen, axis=-1)  # [B, E]
    td_error = target[:, None] - q
    td_loss = jnp.sum(jnp.mean(_pointwise_loss(config.loss, td_error), axis=0))
    metrics = {"q_loss": td_loss, "q_mean": jnp.mean(q)}
    if not config.regularise_utilities:
        return td_loss, metrics
    reg = utility_regulariser(chosen, chosen_utilities(state, state.target_params, batch), target)
    return td_loss + config.reg_weight * reg, {**metrics, "reg_loss": reg}


def update(state: DQNState, batch: Transition, key) -> tuple[DQNState, dict]:
    """One gradient step on a batch [B] (see module docstring)."""
    del key
    config = state.config
    target = td.transition_target(batch, bootstrap_value(state, batch), config.gamma, config.reward_scale)
    (_, metrics), grads = jax.value_and_grad(_loss, has_aux=True)(state.q.params, state, batch, target)
    return apply_step(state, grads, metrics)


def apply_step(state: DQNState, grads, metrics: dict) -> tuple[DQNState, dict]:
    """Adam step, then every `target_period` updates a Polyak step of the target network."""
    config = state.config
    q = apply_gradients(state.q, grads)
    updates = state.updates + 1
    refresh = updates % config.target_period == 0
    moved = td.soft_update(state.target_params, q.params, config.tau)
    target_params = jax.tree_util.tree_map(lambda new, old: jnp.where(refresh, new, old), moved, state.target_params)
    metrics = {**metrics, "epsilon": epsilon(state)}
    return state.replace(q=q, target_params=target_params, updates=updates), metrics


def check_discrete_spec(spec: EnvSpec) -> None:
    if not isinstance(spec.action_space, Discrete):
        raise ValueError(f"DQN needs a Discrete action space, got {spec.action_space!r}; use "
                         "actions.flatten() or the factorised agents (decqn, revalued) for MultiDiscrete")


def init_dqn(key: jax.Array, spec: EnvSpec, config: DQNConfig) -> DQNState:
    check_discrete_spec(spec)
    return init(key, spec, config)


AGENT = Agent(
    name="dqn",
    family="off_policy",
    config_cls=DQNConfig,
    init=init_dqn,
    act=act,
    update=update,
    check_config=check,
    description="DQN: double-Q targets, optional dueling head, linear epsilon, masks (Discrete actions)",
)
register(AGENT)
