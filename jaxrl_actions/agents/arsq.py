"""Auto-regressive soft Q-network (ARSQ; Liu, Gao, Liao, Yu & Wang, "Learning from Suboptimal
Data in Continuous Control via Auto-Regressive Soft Q-Network", ICML 2025) for Box actions,
following the authors' code (CornellRL/ARSQ, read from its verbatim copy in
mihir-chauhan/CQN-AS-Franka @ fe90e72, `ARSQ-main/d4rl/arsq_d4rl/alg/sqar.py` and
`cfgs/sqar.yaml`, `cfgs/env_cfg/*.yaml`), in its fully online form (no demonstrations).

Actions are decided coarse to fine (agents/coarse_to_fine.py: `levels` levels of `bins`
parts per dimension) and dimension by dimension: position p = l * D + d picks level l of
dimension d, given the observation and the centres of every dimension's current interval
(all earlier choices; 0 before any). The soft Q-value is a state value plus one soft
advantage per position:

    Q(s, a) = V(s) + sum_p A_p(s, a_<p, a_p)
    A_p(., k) = u_p(k) - alpha logsumexp_j(u_p(j) / alpha)     so sum_k exp(A_p(k) / alpha) = 1
    pi(a | s) = prod_p softmax(A_p / alpha) = exp((Q - V) / alpha)

Networks (sqar.py): V: MLP(obs) -> 1; A: MLP(obs, centres [D]) -> [L * D, bins], position p
reads its own row. (512, 512, 512) tanh, orthogonal init (gain sqrt 2, head 0.01). Twin
critics, each its own V and A networks, with Polyak targets.

    y    = r + gamma (1 - terminated) min_i V'_i(s')            (V holds the soft max already)
    loss = bellman_coef * sum_i mean_B (Q_i(s, a) - y)^2       one Adam step, then Polyak tau

Acting (sqar.py `infer`): position by position with the online nets, A = min over the twins
of the normalised advantages; sample k ~ softmax(A / alpha), or the argmax when
deterministic; the action is the centre of the finest intervals.

Defaults carry their sources. Ours where the code has no online-only setting: batch 256 (the
RL half of the code's 256 demo + 256 replay batch), 2000 uniform warm-up steps (the code
starts from a dataset), 3 levels x 5 bins (RLBench's `config_rlbench_sqar.yaml`; the D4RL
configs use 1 x 41 for cheetah and walker, 2 x 7 for hopper). The demonstration loss
(BC/CQL margin on demo samples) is not implemented: the online form has no demos.
Masks: a (low, high) Box mask clips the action (the level choices are not masked).
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_actions import td
from jaxrl_actions.agents.base import Agent, register, validate_config
from jaxrl_actions.agents.coarse_to_fine import action_to_levels, level_centres, levels_to_action, refine
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
from jaxrl_actions.networks.mlp import MLP
from jaxrl_actions.training.config import OffPolicyConfig
from jaxrl_actions.types import Transition


@struct.dataclass
class ARSQConfig(OffPolicyConfig):
    # structure (static)
    levels: int = struct.field(pytree_node=False, default=3)  # config_rlbench_sqar.yaml (ours for online DMC)
    bins: int = struct.field(pytree_node=False, default=5)  # config_rlbench_sqar.yaml
    hidden_sizes: Sequence[int] = struct.field(pytree_node=False, default=(512, 512, 512))  # sqar.yaml hidden_dim
    activation: str = struct.field(pytree_node=False, default="tanh")  # sqar.py MLPs: nn.Tanh
    weight_init: str = struct.field(pytree_node=False, default="orthogonal")  # orthogonal, gain sqrt(2)
    batch_size: int = struct.field(pytree_node=False, default=256)  # the RL half of the 512 batch (ours)
    warmup_steps: int = struct.field(pytree_node=False, default=2_000)  # ours (the code starts from data)
    n_step: int = struct.field(pytree_node=False, default=1)  # sqar.yaml nstep 1
    # hyper-parameters (pytree leaves)
    lr: float = 3e-4  # sqar.yaml lr (q and v)
    gamma: float = 0.99  # sqar.yaml discount
    tau: float = 0.005  # sqar.yaml critic_target_tau
    alpha: float = 0.01  # soft_alpha = act_alpha, 0.01 in every D4RL env_cfg
    bellman_coef: float = 1.0  # sqar.yaml
    reward_scale: float = 1.0
    max_grad_norm: float = 0.0  # none in sqar.py


HEAD_SCALE = 0.01  # sqar.py: the output layers' orthogonal gain


class TwinSoftCritic(nn.Module):
    """Two critics, each V: obs -> 1 and A: (obs, centres) -> [L * D * bins]; `values` and
    `advantage_logits` run one kind alone (acting needs no V, the target no A)."""

    config: ARSQConfig
    positions: int

    def setup(self):
        c = self.config

        def mlp(size):
            return MLP(tuple(c.hidden_sizes), c.activation, output_size=size, output_scale=HEAD_SCALE,
                       weight_init=c.weight_init)

        self.v0, self.v1 = mlp(1), mlp(1)
        self.a0, self.a1 = mlp(self.positions * c.bins), mlp(self.positions * c.bins)

    def values(self, obs):
        return jnp.stack([self.v0(obs)[..., 0], self.v1(obs)[..., 0]], axis=-1)  # [..., 2]

    def advantage_logits(self, obs, centres):
        inputs = jnp.concatenate([obs, centres], axis=-1)
        return jnp.stack([self.a0(inputs), self.a1(inputs)], axis=-2)  # [..., 2, P * bins]

    def __call__(self, obs, centres):
        return self.values(obs), self.advantage_logits(obs, centres)


@struct.dataclass
class ARSQState:
    q: Learner
    target_params: Any
    config: ARSQConfig
    spec: EnvSpec = struct.field(pytree_node=False)


def check(config: ARSQConfig) -> None:
    validate_config(config, {
        "lr": lambda v: v > 0, "gamma": lambda v: (v >= 0) & (v <= 1), "tau": lambda v: (v > 0) & (v <= 1),
        "alpha": lambda v: v > 0, "bellman_coef": lambda v: v > 0, "reward_scale": lambda v: v > 0,
    })
    for name, least in (("levels", 1), ("bins", 2)):
        if getattr(config, name) < least:
            raise ValueError(f"ARSQConfig.{name}={getattr(config, name)!r} must be >= {least}")
    check_network_init(config)


def _dim(spec: EnvSpec) -> int:
    return check_box_spec(spec, "ARSQ")


def _network(state: ARSQState) -> TwinSoftCritic:
    return TwinSoftCritic(state.config, state.config.levels * _dim(state.spec))


def soft_advantages(logits: jax.Array, alpha) -> jax.Array:
    """u - alpha logsumexp(u / alpha) over the last axis (the bins)."""
    return logits - alpha * jax.nn.logsumexp(logits / alpha, axis=-1, keepdims=True)


def init(key: jax.Array, spec: EnvSpec, config: ARSQConfig) -> ARSQState:
    check(config)
    dim = check_box_spec(spec, "ARSQ")
    obs = flatten_obs(jnp.zeros(spec.obs_space.shape), spec.obs_space)
    params = TwinSoftCritic(config, config.levels * dim).init(key, obs, jnp.zeros((dim,)))
    return ARSQState(make_learner(params, config.lr, config.max_grad_norm), params, config, spec)


def state_values(state: ARSQState, params, flat_obs) -> jax.Array:
    """V_i(s) [..., 2] of flat observations [..., F]."""
    return _network(state).apply(params, flat_obs, method=TwinSoftCritic.values)


def advantages(state: ARSQState, params, flat_obs, centres) -> jax.Array:
    """Soft advantages [..., 2, P, bins] of flat observations [..., F] at the interval centres
    [..., D] (broadcast against each other)."""
    flat = jnp.broadcast_to(flat_obs, centres.shape[:-1] + flat_obs.shape[-1:])
    logits = _network(state).apply(params, flat, centres, method=TwinSoftCritic.advantage_logits)
    logits = logits.reshape(logits.shape[:-1] + (-1, state.config.bins))
    return soft_advantages(logits, state.config.alpha)


def prefix_centres(choices: jax.Array, bins: int) -> jax.Array:
    """int[..., L, D] choices -> float32[..., L, D, D]: for position (l, d), every
    dimension's interval centre once the positions before it are decided (dimensions < d
    refined at level l, the others at their level-l interval)."""
    levels, dim = choices.shape[-2], choices.shape[-1]
    before = level_centres(choices, bins)  # [..., L, D]: the interval level l refines
    after = jnp.concatenate([before[..., 1:, :], levels_to_action(choices, bins)[..., None, :]], axis=-2)
    decided = np.tril(np.ones((dim, dim), bool), -1)  # [d, d']: d' < d
    return jnp.where(decided, after[..., :, None, :], before[..., :, None, :])


def soft_q(state: ARSQState, params, obs, choices: jax.Array) -> jax.Array:
    """float32[..., 2]: Q_i(s, a) = V_i(s) + sum_p A_i,p(s, a_<p, a_p) of level choices [..., L, D]."""
    levels, dim = choices.shape[-2], choices.shape[-1]
    centres = prefix_centres(choices, state.config.bins).reshape(choices.shape[:-2] + (levels * dim, dim))
    flat = flatten_obs(obs, state.spec.obs_space)
    adv = advantages(state, params, flat[..., None, :], centres)  # [..., P, 2, P, bins]
    positions = jnp.arange(levels * dim)
    own = adv[..., positions, :, positions, :]  # [P, ..., 2, bins]: row p of position p's input
    own = jnp.moveaxis(own, 0, -3)  # [..., P, 2, bins]
    flat_choices = choices.reshape(choices.shape[:-2] + (levels * dim,))
    picked = jnp.take_along_axis(own, flat_choices[..., :, None, None], axis=-1)[..., 0]  # [..., P, 2]
    return state_values(state, params, flat) + jnp.sum(picked, axis=-2)


def decide(state: ARSQState, params, obs, key, deterministic) -> jax.Array:
    """int32[L, D]: the choices position by position for one observation, from the min over
    the twins of the soft advantages (sampled at temperature alpha, or the argmax)."""
    config = state.config
    dim = _dim(state.spec)
    low, width = jnp.full((dim,), -1.0), jnp.full((dim,), 2.0)
    choices = jnp.zeros((config.levels, dim), jnp.int32)
    keys = jax.random.split(key, config.levels * dim)
    flat = flatten_obs(obs, state.spec.obs_space)
    for level in range(config.levels):
        for d in range(dim):
            p = level * dim + d
            adv = advantages(state, params, flat, low + 0.5 * width)  # [2, P, bins]
            adv_p = jnp.min(adv[:, p], axis=0)
            k = jnp.where(deterministic, jnp.argmax(adv_p), jax.random.categorical(keys[p], adv_p / config.alpha))
            choices = choices.at[level, d].set(k.astype(jnp.int32))
            new_low, new_width = refine(low[d], width[d], k, config.bins)
            low, width = low.at[d].set(new_low), width.at[d].set(new_width)
    return choices


def act(state: ARSQState, obs, mask, key, deterministic: bool = False) -> jax.Array:
    """float32[d]: the centre of the finest chosen intervals on the space, clipped into a
    (low, high) mask when given."""
    space = state.spec.action_space
    unit = levels_to_action(decide(state, state.q.params, obs, key, deterministic), state.config.bins)
    action = squash_to_bounds(unit.reshape(space.shape), jnp.asarray(space.low), jnp.asarray(space.high))
    return jnp.clip(action, *action_bounds(space, mask))


def stored_levels(state: ARSQState, action: jax.Array) -> jax.Array:
    unit = critic_action(state.spec.action_space, action).reshape(action.shape[0], -1)
    return action_to_levels(unit, state.config.levels, state.config.bins)


def targets(state: ARSQState, batch: Transition) -> jax.Array:
    """float32[B]: r + gamma (1 - terminated) min_i V'_i(s')."""
    values = state_values(state, state.target_params, flatten_obs(batch.next_obs, state.spec.obs_space))
    return td.transition_target(batch, jnp.min(values, axis=-1), state.config.gamma, state.config.reward_scale)


def _loss(params, state: ARSQState, batch: Transition, y: jax.Array):
    q = soft_q(state, params, batch.obs, stored_levels(state, batch.action))  # [B, 2]
    loss = state.config.bellman_coef * jnp.sum(jnp.mean(jnp.square(q - y[:, None]), axis=0))
    return loss, {"q_loss": loss, "q_mean": jnp.mean(q)}


def update(state: ARSQState, batch: Transition, key) -> tuple[ARSQState, dict]:
    """One Adam step on both critics, then Polyak targets (sqar.py update)."""
    del key
    y = targets(state, batch)
    (_, metrics), grads = jax.value_and_grad(_loss, has_aux=True)(state.q.params, state, batch, y)
    q = apply_gradients(state.q, grads)
    target_params = td.soft_update(state.target_params, q.params, state.config.tau)
    return state.replace(q=q, target_params=target_params), metrics


AGENT = Agent(
    name="arsq",
    family="off_policy",
    config_cls=ARSQConfig,
    init=init,
    act=act,
    update=update,
    check_config=check,
    description="Auto-regressive soft Q: coarse-to-fine, dimension-by-dimension soft advantages (Box actions)",
)
register(AGENT)
