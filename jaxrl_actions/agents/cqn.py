"""Coarse-to-fine Q-network (CQN, Seo, Uruç & James, CoRL 2024) for Box actions, following
the authors' state-based DeepMind Control version (younggyoseo/CQN-AS @ 8cf806e,
`dmc_src/cqn_state.py`, `cqn_utils.py`, `cfgs/config_cqn_dmc_state.yaml`,
`train_cqn_dmc_state.py`).

Each action dimension's unit interval [-1, 1] is split into `bins` parts, the chosen part is
split again, for `levels` levels; the action is the centre of the last interval (mapped
affinely onto the space bounds), so `levels` x `bins` Q-values per dimension reach a
resolution of 2 / bins^levels.

    config = CQNConfig()                            # 3 levels x 5 bins, the authors' DMC settings
    state = init(key, spec, config)                 # spec.action_space: bounded Box
    action = act(state, obs, mask, key)             # float32[d], the env action
    state, metrics = update(state, batch, key)      # batch: Transition [B]

Network (C2FCriticNetwork): ONE MLP shared by the levels, fed the observation, the centre
of the current interval in every dimension (the previous levels' choices; level 0: all 0)
and a one-hot of the level; Dense -> LayerNorm -> SiLU twice (512 units), orthogonal
kernels (gain 1), a zero-initialised head (so every Q is 0 at the start):

    Q(obs, centre_l, onehot(l)) -> float32[D, bins]         Q_{l,d}(s, a) = Q[d, k_{l,d}(a)]

Each (level, dimension) entry is its own Q estimate, with its own target (no sum or mean
over dimensions or levels):

    k*      = greedy coarse-to-fine choices of the ONLINE net at s'     [L, D]
    y_{l,d} = r^(n) + gamma^n (1 - terminated) Q'_{l,d}(s', k*)        target net, its own (l, d)
    loss    = mean over B, L, D of (Q_{l,d}(s, a) - y_{l,d})^2          (torch F.mse_loss: no 1/2)
    target  <- online every `target_period` = 100 gradient steps (tau = 1: a hard copy)

Acting: greedy coarse to fine with the online net (first index on ties, as torch's max);
exploring adds N(0, 0.1^2) per dimension to the greedy centre, clips to
[-1 + 1e-6, 1 - 1e-6] and snaps the result to the centre of its finest interval
(utils.TruncatedNormal.sample(clip=None) then C2FCritic.encode_decode_action). Learning
recovers each stored action's level choices from its value (`action_to_levels`: exact for
the centres `act` returns, the containing finest interval otherwise).

Schedule (train_cqn_dmc_state.py): uniform random actions for the first `warmup_steps`
= 2000 env steps (num_expl_steps); no gradient step before `learning_starts` = 8000 env steps
(num_seed_frames, action repeat 1), then one per env step. Between the two the agent acts
with its untrained, all-zero Q-net, i.e. bin 0 at every level (about -0.99 + noise), as the
authors' code does. The loop calls `update` from the end of the warm-up on; `update` is a
no-op until `learning_starts` env steps (it counts its calls, `calls`).

Defaults carry their sources. Options, off by default: Polyak targets (`tau` < 1 with
`target_period` = 1); gradient clipping (`max_grad_norm` > 0).

Remaining differences from the authors' code:
- warm-up actions are uniform on the space but not snapped to interval centres (the
  off-policy loop samples them; the stored action maps to the same level choices, so only
  the env sees actions up to half a finest interval, 0.008, apart);
- n-step transitions near an episode end are cut at the end (the authors sample only
  windows fully inside an episode); DMC episodes end by time limit only, and both
  bootstrap through it;
- a 1M-transition replay buffer by default (theirs 10M: everything).

Masks: a (low, high) Box mask clips the action into the interval (the level choices are
not masked).
"""
from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions import td
from jaxrl_actions.agents.base import Agent, register, validate_config
from jaxrl_actions.agents.coarse_to_fine import action_to_levels, level_centres, levels_to_action, refine, snap
from jaxrl_actions.agents.continuous import (
    Learner,
    action_bounds,
    apply_gradients,
    check_box_spec,
    check_network_init,
    critic_action,
    flatten_obs,
    make_learner,
    squash_to_bounds,
)
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.networks import q_heads
from jaxrl_actions.networks.mlp import MLP
from jaxrl_actions.training.config import OffPolicyConfig, learning_starts as loop_learning_starts
from jaxrl_actions.types import Transition

CLIP_EPS = 1e-6  # utils.TruncatedNormal(eps=1e-6): noisy actions stay inside (-1, 1)


@struct.dataclass
class CQNConfig(OffPolicyConfig):
    # structure (static); config_cqn_dmc_state.yaml unless said otherwise
    levels: int = struct.field(pytree_node=False, default=3)  # levels: 3
    bins: int = struct.field(pytree_node=False, default=5)  # bins: 5
    hidden_sizes: Sequence[int] = struct.field(pytree_node=False, default=(512, 512))  # hidden_dim 512, 2 layers
    activation: str = struct.field(pytree_node=False, default="silu")  # nn.SiLU (cqn_state.py)
    layer_norm: bool = struct.field(pytree_node=False, default=True)  # nn.LayerNorm after each Linear
    weight_init: str = struct.field(pytree_node=False, default="orthogonal_unit")  # utils.weight_init
    target_period: int = struct.field(pytree_node=False, default=100)  # critic_target_interval
    n_step: int = struct.field(pytree_node=False, default=3)  # nstep
    batch_size: int = struct.field(pytree_node=False, default=256)  # batch_size
    warmup_steps: int = struct.field(pytree_node=False, default=2_000)  # agent.num_expl_steps (uniform actions)
    learning_starts: int = struct.field(pytree_node=False, default=8_000)  # num_seed_frames / action_repeat 1
    total_steps: int = struct.field(pytree_node=False, default=1_100_000)  # dmc_task/easy.yaml num_train_frames
    # hyper-parameters (pytree leaves: vmap sweeps them)
    lr: float = 1e-4  # lr
    weight_decay: float = 0.1  # weight_decay (torch.optim.AdamW)
    gamma: float = 0.99  # discount
    tau: float = 1.0  # critic_target_tau: 1.0 = hard copy (Polyak option: tau < 1, target_period 1)
    exploration_std: float = 0.1  # agent.stddev_schedule: 0.1 (constant)
    max_grad_norm: float = 0.0  # no clipping in cqn_state.py; > 0: global-norm clipping (option)
    reward_scale: float = 1.0


@struct.dataclass
class CQNState:
    q: Learner  # AdamW
    target_params: Any
    updates: jax.Array  # int32[] gradient steps taken (target copies count these)
    calls: jax.Array  # int32[] update calls, including those before learning_starts
    config: CQNConfig
    spec: EnvSpec = struct.field(pytree_node=False)


def check(config: CQNConfig) -> None:
    validate_config(config, {
        "lr": lambda v: v > 0, "weight_decay": lambda v: v >= 0, "gamma": lambda v: (v >= 0) & (v <= 1),
        "tau": lambda v: (v > 0) & (v <= 1), "exploration_std": lambda v: v >= 0, "reward_scale": lambda v: v > 0,
    })
    for name, least in (("levels", 1), ("bins", 2), ("target_period", 1), ("learning_starts", 0)):
        if getattr(config, name) < least:
            raise ValueError(f"CQNConfig.{name}={getattr(config, name)!r} must be >= {least}")
    check_network_init(config)


# ---------------------------------------------------------------------------------------
# Network


def network(config: CQNConfig, dim: int) -> MLP:
    """The shared level network: inputs [..., obs + D + L] -> float32[..., D * bins]; the
    head is zero-initialised (orthogonal gain 0: kernel and bias 0, cqn_state.py L40-42)."""
    return MLP(tuple(config.hidden_sizes), config.activation, output_size=dim * config.bins, output_scale=0.0,
               layer_norm=config.layer_norm, weight_init=config.weight_init)


def _action_dim(state: CQNState) -> int:
    return check_box_spec(state.spec, "CQN")


def q_values(state: CQNState, params, obs, centres: jax.Array, level: int | None = None) -> jax.Array:
    """Q-values float32[..., L, D, bins] of every level given the centres it refines
    (centres [..., L, D]); or of one `level` (centres [..., D]) -> [..., D, bins]."""
    config = state.config
    dim = centres.shape[-1]
    flat = flatten_obs(obs, state.spec.obs_space)
    if level is None:
        flat = jnp.broadcast_to(flat[..., None, :], centres.shape[:-1] + flat.shape[-1:])
        onehot = jnp.broadcast_to(jnp.eye(config.levels), centres.shape[:-1] + (config.levels,))
    else:
        onehot = jnp.broadcast_to(jnp.eye(config.levels)[level], centres.shape[:-1] + (config.levels,))
    inputs = jnp.concatenate([flat, centres, onehot], axis=-1)  # their order: obs, prev action, level id
    out = network(config, dim).apply(params, inputs)
    return out.reshape(out.shape[:-1] + (dim, config.bins))


def greedy_levels(state: CQNState, params, obs) -> jax.Array:
    """int32[..., L, D]: the greedy coarse-to-fine choices (C2FCritic.get_action) for
    observations [..., *obs_shape]."""
    config = state.config
    dim = _action_dim(state)
    batch = jnp.shape(obs)[: jnp.ndim(obs) - len(state.spec.obs_space.shape)]
    low, width = jnp.full(batch + (dim,), -1.0), jnp.full(batch + (dim,), 2.0)
    choices = []
    for level in range(config.levels):
        q = q_values(state, params, obs, low + 0.5 * width, level)  # [..., D, bins]
        choice = q_heads.masked_argmax(q, None)  # first index on ties (torch max)
        choices.append(choice)
        low, width = refine(low, width, choice, config.bins)
    return jnp.stack(choices, axis=-2)


def chosen_q(state: CQNState, params, obs, choices: jax.Array) -> jax.Array:
    """float32[..., L, D]: Q_{l,d} of the level choices [..., L, D] (C2FCritic.forward)."""
    q = q_values(state, params, obs, level_centres(choices, state.config.bins))  # [..., L, D, bins]
    return q_heads.gather(q, choices)


# ---------------------------------------------------------------------------------------
# Agent


def init(key: jax.Array, spec: EnvSpec, config: CQNConfig) -> CQNState:
    check(config)
    dim = check_box_spec(spec, "CQN")
    obs_dim = flatten_obs(jnp.zeros(spec.obs_space.shape), spec.obs_space).shape[-1]
    params = network(config, dim).init(key, jnp.zeros((obs_dim + dim + config.levels,)))
    q = make_learner(params, config.lr, config.max_grad_norm, weight_decay=config.weight_decay)
    return CQNState(q, params, jnp.int32(0), jnp.int32(0), config, spec)


def explore(unit: jax.Array, key: jax.Array, std, levels: int, bins: int) -> jax.Array:
    """Greedy unit action [D] + N(0, std^2), clipped into (-1, 1), snapped to its interval
    centre (CQNAgent.act)."""
    noisy = jnp.clip(unit + std * jax.random.normal(key, unit.shape), -1.0 + CLIP_EPS, 1.0 - CLIP_EPS)
    return snap(noisy, levels, bins)


def act(state: CQNState, obs, mask, key, deterministic: bool = False) -> jax.Array:
    """float32[d]: the greedy finest-interval centre (plus snapped Gaussian noise when
    exploring) on the space, clipped into a (low, high) mask when given."""
    config = state.config
    unit = levels_to_action(greedy_levels(state, state.q.params, obs), config.bins)
    if not deterministic:
        unit = explore(unit, key, config.exploration_std, config.levels, config.bins)
    space = state.spec.action_space
    action = squash_to_bounds(unit.reshape(space.shape), jnp.asarray(space.low), jnp.asarray(space.high))
    return jnp.clip(action, *action_bounds(space, mask))


def level_targets(state: CQNState, batch: Transition) -> jax.Array:
    """float32[B, L, D]: y_{l,d} = r + gamma^n (1 - terminated) Q'_{l,d}(s', k*), k* the
    online net's greedy choices at s' (cqn_state.py update_critic)."""
    config = state.config
    next_choices = greedy_levels(state, state.q.params, batch.next_obs)  # [B, L, D]
    next_q = chosen_q(state, state.target_params, batch.next_obs, next_choices)  # [B, L, D]
    return td.transition_target(batch, next_q, config.gamma, config.reward_scale)


def stored_levels(state: CQNState, action: jax.Array) -> jax.Array:
    """int32[B, L, D]: the level choices of stored env actions [B, *action_shape]."""
    unit = critic_action(state.spec.action_space, action).reshape(action.shape[0], -1)
    return action_to_levels(unit, state.config.levels, state.config.bins)


def _loss(params, state: CQNState, batch: Transition, targets: jax.Array):
    q = chosen_q(state, params, batch.obs, stored_levels(state, batch.action))  # [B, L, D]
    loss = jnp.mean(jnp.square(q - targets))  # F.mse_loss
    return loss, {"q_loss": loss, "q_mean": jnp.mean(q)}


def env_steps_at_call(config: CQNConfig, calls: jax.Array) -> jax.Array:
    """Env steps taken when the loop makes update call number `calls` (0-based): the loop
    calls `update` `utd` times after each step of all envs from its learning start on
    (one learning phase every `update_every` iterations)."""
    iteration = loop_learning_starts(config) + (calls // max(config.utd, 1)) * config.update_every
    return (iteration + 1) * config.num_envs


def learn(state: CQNState, batch: Transition) -> tuple[CQNState, dict]:
    """One AdamW step on all levels and dimensions, then every `target_period` steps the
    target moves to the online net (tau = 1: a copy)."""
    config = state.config
    targets = level_targets(state, batch)
    (_, metrics), grads = jax.value_and_grad(_loss, has_aux=True)(state.q.params, state, batch, targets)
    q = apply_gradients(state.q, grads)
    updates = state.updates + 1
    moved = td.soft_update(state.target_params, q.params, config.tau)
    refresh = updates % config.target_period == 0
    target_params = jax.tree_util.tree_map(lambda new, old: jnp.where(refresh, new, old), moved, state.target_params)
    return state.replace(q=q, target_params=target_params, updates=updates), metrics


def update(state: CQNState, batch: Transition, key) -> tuple[CQNState, dict]:
    """One gradient step once `learning_starts` env steps are taken, else nothing (see the
    module docstring)."""
    del key
    active = env_steps_at_call(state.config, state.calls) >= state.config.learning_starts
    skipped = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(learn, state, batch)[1])
    state, metrics = jax.lax.cond(active, lambda: learn(state, batch), lambda: (state, skipped))
    metrics = {**metrics, "active": active.astype(jnp.float32)}
    return state.replace(calls=state.calls + 1), metrics


AGENT = Agent(
    name="cqn",
    family="off_policy",
    config_cls=CQNConfig,
    init=init,
    act=act,
    update=update,
    check_config=check,
    description="Coarse-to-fine Q-network: per-dimension intervals refined over levels (Box actions)",
)
register(AGENT)
