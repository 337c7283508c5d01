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

    Q_e(s, a) = mean_d U_{e,d}(s, a_d)                  per critic e
    a*_d      = argmax_{valid k} mean_E U_d(s', k)      online net (double) or target net
    y         = r + gamma (1 - terminated) mean_d mean_E U'_d(s', a*_d)      target net
                (per_critic_target: critic e picks a*_{e,d} with its own online U_e and gets
                its own y_e, valued by mean_E U' as above: DecQN's two critics)
    loss      = mean_B w_b reduce_E huber(y_e - Q_e)    reduce_E: sum (`ensemble_loss="sum"`)
                or mean; w_b: importance weights (prioritised replay) or 1
                (+ with `regularise_utilities`, reg_weight times REValueD's regulariser:
                mean_{E,d} w_{e,d} (U_{e,d}(s, a_d) - U'_{e,d}(s, a_d))^2, which holds each
                chosen utility near its target network's value, more strongly the larger its
                own error: w_{e,d} = 1 - exp(-|y_e - U_{e,d}(s, a_d)|), no gradient through w)
    priority  mean_E |y_e - Q_e|  per item (prioritised replay: `update_weighted`)
    targets   every `target_period` updates: target <- (1 - tau) target + tau online

Masks: `act` never picks an invalid action (greedy and random choices are masked per
dimension) and the bootstrap max uses `Transition.next_action_mask`.

Acting (`act_critics`): greedy per dimension on the critics' mean utilities ("mean"), their
elementwise max ("max", DecQN), or one critic drawn per step ("random", REValueD; greedy
evaluation then uses the mean). Exploration (`exploration`): "per_dimension" (each dimension
takes a uniform valid choice with probability epsilon), "decqn" (the same with DecQN's
per-dimension probability, `q_heads.decqn_dimension_epsilon`) or "joint" (with probability
epsilon a uniformly random joint action, REValueD).

Epsilon (`epsilon_schedule`): "linear" decays from `eps_start` to `eps_end` over
`eps_decay_steps` env steps, counted from the gradient steps taken (env steps = learning
start + updates * num_envs * update_every / utd) because `act` returns no state;
"per_exploration" multiplies by `eps_decay` after every exploratory action, floored at
`eps_end` (REValueD's code), which needs the loop's `act_batch` hook (`extras`) to count the
exploratory actions in `DQNState.explorations`.

n-step returns: set `n_step` (an `OffPolicyConfig` field); the loop then stores n-step
transitions and `td.transition_target` bootstraps with their gamma^m.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

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
ACT_CRITICS = ("mean", "max", "random")
EXPLORATIONS = ("per_dimension", "decqn", "joint")
EPSILON_SCHEDULES = ("linear", "per_exploration")
ENSEMBLE_LOSSES = ("sum", "mean")


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
    torso: str = struct.field(pytree_node=False, default="mlp")  # q_heads.TORSOS
    per_critic_target: bool = struct.field(pytree_node=False, default=False)  # DecQN's per-critic double Q
    act_critics: str = struct.field(pytree_node=False, default="mean")  # ACT_CRITICS
    exploration: str = struct.field(pytree_node=False, default="per_dimension")  # EXPLORATIONS
    epsilon_schedule: str = struct.field(pytree_node=False, default="linear")  # EPSILON_SCHEDULES
    ensemble_loss: str = struct.field(pytree_node=False, default="sum")  # ENSEMBLE_LOSSES: reduce over critics
    # hyper-parameters (pytree leaves: vmap sweeps them)
    lr: float = 2.5e-4
    gamma: float = 0.99
    tau: float = 0.005  # 1.0 with target_period > 1: hard target copies
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay_steps: float = 50_000.0  # env steps ("linear")
    eps_decay: float = 0.999  # factor per exploratory action ("per_exploration")
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
    explorations: Any = None  # int32[] exploratory actions taken (counted by `act_batch`)


def check(config: DQNConfig) -> None:
    validate_config(config, {
        "lr": lambda v: v > 0, "gamma": lambda v: (v >= 0) & (v <= 1), "tau": lambda v: (v > 0) & (v <= 1),
        "eps_start": lambda v: (v >= 0) & (v <= 1), "eps_end": lambda v: (v >= 0) & (v <= 1),
        "eps_decay_steps": lambda v: v >= 0, "reg_weight": lambda v: v >= 0, "reward_scale": lambda v: v > 0,
        "num_critics": lambda v: v >= 1, "target_period": lambda v: v >= 1, "eps_decay": lambda v: (v > 0) & (v <= 1),
    })
    name = type(config).__name__
    for field, choices in (("loss", LOSSES), ("torso", q_heads.TORSOS), ("act_critics", ACT_CRITICS),
                           ("exploration", EXPLORATIONS), ("epsilon_schedule", EPSILON_SCHEDULES),
                           ("ensemble_loss", ENSEMBLE_LOSSES)):
        if getattr(config, field) not in choices:
            raise ValueError(f"{name}.{field}={getattr(config, field)!r}; choose one of {choices}")
    if config.torso != "mlp" and len(config.hidden_sizes) != 1:
        raise ValueError(f"{name}.torso={config.torso!r} is one residual block of width hidden_sizes[0]; give one "
                         f"width, e.g. hidden_sizes=(512,), got hidden_sizes={tuple(config.hidden_sizes)!r}")
    if config.per_critic_target and not config.double:
        raise ValueError(f"{name}.per_critic_target=True selects with each critic's online net: it needs double=True")
    if config.epsilon_schedule == "per_exploration" and config.exploration != "joint":
        raise ValueError(f"{name}.epsilon_schedule='per_exploration' counts joint exploratory actions: it needs "
                         f"exploration='joint', got exploration={config.exploration!r}")


def network(config: DQNConfig, spec: EnvSpec) -> q_heads.FactorisedQ:
    num_dims, bins = q_heads.factor_shape(spec.action_space)
    return q_heads.FactorisedQ(num_dims, bins, tuple(config.hidden_sizes), config.activation, config.dueling,
                               config.num_critics, config.torso)


def init(key: jax.Array, spec: EnvSpec, config: DQNConfig) -> DQNState:
    check(config)
    q_heads.factor_shape(spec.action_space)  # raises for unsupported spaces
    params = network(config, spec).init(key, flatten_obs(jnp.zeros(spec.obs_space.shape), spec.obs_space))
    return DQNState(make_learner(params, config.lr, config.max_grad_norm), params, jnp.int32(0), config, spec,
                    jnp.int32(0))


def utilities(state: DQNState, params, obs) -> jax.Array:
    """float32[..., E, D, K] for observations [..., *obs_shape]."""
    return network(state.config, state.spec).apply(params, flatten_obs(obs, state.spec.obs_space))


def epsilon(state: DQNState) -> jax.Array:
    config = state.config
    if config.epsilon_schedule == "per_exploration":
        decayed = config.eps_start * jnp.power(config.eps_decay, state.explorations.astype(jnp.float32))
        return jnp.maximum(decayed, config.eps_end)
    env_steps = (learning_starts(config) * config.num_envs
                 + state.updates * config.num_envs * config.update_every / max(config.utd, 1))
    return q_heads.linear_schedule(config.eps_start, config.eps_end, config.eps_decay_steps, env_steps)


def acting_utilities(u: jax.Array, how: str, key: Optional[jax.Array] = None) -> jax.Array:
    """[E, D, K] -> [D, K]: the utilities a greedy choice reads (`act_critics`): the mean over
    critics, their elementwise max, or one critic drawn uniformly with `key` (None: the mean)."""
    if how == "max":
        return jnp.max(u, axis=0)
    if how == "random" and key is not None:
        return u[jax.random.randint(key, (), 0, u.shape[0])]
    return jnp.mean(u, axis=0)


def greedy_factors(state: DQNState, obs, mask, key: Optional[jax.Array] = None) -> jax.Array:
    """int32[D]: per-dimension argmax among valid choices of the acting utilities (a random
    critic's with `act_critics="random"` and a key, else the mean or max over critics)."""
    u = acting_utilities(utilities(state, state.q.params, obs), state.config.act_critics, key)  # [D, K]
    return q_heads.masked_argmax(u, q_heads.factor_mask(state.spec.action_space, mask))


def explore(state: DQNState, obs, mask, key) -> tuple[jax.Array, jax.Array]:
    """(the space's action, explored bool[]): an epsilon-greedy action inside the mask and
    whether it was a random joint action (`exploration="joint"`; False otherwise)."""
    config, space = state.config, state.spec.action_space
    k_member, k_explore = jax.random.split(key) if config.act_critics == "random" else (None, key)
    greedy = greedy_factors(state, obs, mask, k_member)
    factor_mask = q_heads.factor_mask(space, mask)
    eps = epsilon(state)
    if config.exploration == "joint":
        factors, explored = q_heads.joint_epsilon_greedy(k_explore, greedy, factor_mask, eps)
        return q_heads.to_space_action(space, factors), explored
    if config.exploration == "decqn":
        eps = q_heads.decqn_dimension_epsilon(eps, greedy.shape[0])
    factors = q_heads.epsilon_greedy(k_explore, greedy, factor_mask, eps)
    return q_heads.to_space_action(space, factors), jnp.bool_(False)


def act(state: DQNState, obs, mask, key, deterministic: bool = False):
    """Greedy (deterministic) or epsilon-greedy action, always inside the mask."""
    if deterministic:
        return q_heads.to_space_action(state.spec.action_space, greedy_factors(state, obs, mask))
    return explore(state, obs, mask, key)[0]


def act_batch(state: DQNState, obs, mask, key) -> tuple[jax.Array, DQNState]:
    """The loop's `act_batch` hook: exploring actions for N envs ([N, ...] inputs) and the
    state with its count of exploratory actions advanced (REValueD's epsilon decay)."""
    keys = jax.random.split(key, jax.tree_util.tree_leaves(obs)[0].shape[0])
    actions, explored = jax.vmap(explore, in_axes=(None, 0, 0, 0))(state, obs, mask, keys)
    return actions, state.replace(explorations=state.explorations + jnp.sum(explored, dtype=jnp.int32))


def bootstrap_value(state: DQNState, batch: Transition) -> jax.Array:
    """float32[B] (or [B, E] with `per_critic_target`): mean_d of the target utilities at the
    (double-)greedy valid next action."""
    space = state.spec.action_space
    if batch.next_action_mask is None:
        next_mask = q_heads.factor_mask(space, None)  # [D, K], broadcast over the batch
    else:
        next_mask = jax.vmap(lambda m: q_heads.factor_mask(space, m))(batch.next_action_mask)  # [B, D, K]
    target_all = utilities(state, state.target_params, batch.next_obs)  # [B, E, D, K]
    if state.config.per_critic_target:
        return q_heads.per_critic_double_q(utilities(state, state.q.params, batch.next_obs), target_all, next_mask)
    target_u = jnp.mean(target_all, axis=1)  # [B, D, K]
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
    """float32[B]: REValueD's regulariser per item, for chosen utilities U [B, E, D], their
    target-network values U' (`anchor` [B, E, D]) and TD targets y ([B] shared or [B, E]):
    mean_{E, D} w (U - U')^2 with w = 1 - exp(-|y - U|), no gradient through w or U' (a
    dimension whose utility is far from the target is likely moved by the other dimensions'
    exploratory choices, so it is held near its old value)."""
    target = target.reshape(target.shape[:1] + (-1,))[..., None]  # [B, 1 or E, 1]
    weight = jax.lax.stop_gradient(1.0 - jnp.exp(-jnp.abs(target - chosen)))
    return jnp.mean(weight * jnp.square(chosen - jax.lax.stop_gradient(anchor)), axis=(1, 2))


def _loss(params, state: DQNState, batch: Transition, target: jax.Array, weights: jax.Array):
    config = state.config
    chosen = chosen_utilities(state, params, batch)  # [B, E, D]
    q = jnp.mean(chosen, axis=-1)  # [B, E]
    td_error = jnp.broadcast_to(target.reshape(target.shape[:1] + (-1,)), q.shape) - q  # [B, E]
    per_critic = _pointwise_loss(config.loss, td_error)
    per_item = jnp.sum(per_critic, axis=1) if config.ensemble_loss == "sum" else jnp.mean(per_critic, axis=1)
    td_loss = jnp.mean(weights * per_item)
    metrics = {"q_loss": td_loss, "q_mean": jnp.mean(q)}
    aux = (metrics, td_error)
    if not config.regularise_utilities:
        return td_loss, aux
    reg = jnp.mean(weights * utility_regulariser(chosen, chosen_utilities(state, state.target_params, batch), target))
    return td_loss + config.reg_weight * reg, ({**metrics, "reg_loss": reg}, td_error)


def td_priorities(td_error: jax.Array) -> jax.Array:
    """float32[B]: the new replay priority of each item, the mean over critics of |y_e - Q_e|
    (DecQN: 0.5 (|td_1| + |td_2|) with td the dimension-mean TD error and no epsilon added;
    tseyde/decqn decqn/agents/dqn/learning.py:215-223)."""
    return jnp.mean(jnp.abs(td_error), axis=1)


def update_weighted(state: DQNState, batch: Transition, weights: jax.Array, key) -> tuple[DQNState, dict, jax.Array]:
    """One gradient step on a batch [B] whose items' losses are weighted by `weights` [B]
    (importance weights of prioritised replay); returns the items' new priorities [B]."""
    del key
    config = state.config
    target = td.transition_target(batch, bootstrap_value(state, batch), config.gamma, config.reward_scale)
    (_, (metrics, td_error)), grads = jax.value_and_grad(_loss, has_aux=True)(
        state.q.params, state, batch, target, weights)
    state, metrics = apply_step(state, grads, metrics)
    return state, metrics, jax.lax.stop_gradient(td_priorities(td_error))


def update(state: DQNState, batch: Transition, key) -> tuple[DQNState, dict]:
    """One gradient step on a batch [B] (see module docstring)."""
    state, metrics, _ = update_weighted(state, batch, jnp.ones_like(batch.reward), key)
    return state, metrics


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
    extras={"prioritised_update": update_weighted},
)
register(AGENT)
