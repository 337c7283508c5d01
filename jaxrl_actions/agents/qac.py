"""The online Q actor-critic of Akkerman et al. (ICLR 2024, "Dynamic Neighborhood
Construction for Structured Large Discrete Action Spaces"), with a continuous-to-discrete
mapping, as the authors' `Src/RL_Algorithms/QAC_C2DMapping.py` (repo
tumBAIS/dynamicNeighborhoodConstruction, "the authors' code") runs it; DNC (`dnc.py`) and the
two baselines here share it:

    qac_minmax  the proxy rounded to the grid, no search: the authors' MinMax
                (SA_search_steps=0), the issue's "vanilla actor-critic"
    qac_knn     the k grid actions nearest the proxy, the critic's favourite among them: the
                authors' knn mapping (Wolpertinger's k-NN step on this learner)

Action space: MultiDiscrete (levels 0..nvec-1 per dimension); no action masks.

Features. The observation is normalised with fixed bounds and expanded in the uncoupled
Fourier basis of order 3 (`networks.linear.fourier_features`; the authors' Fourier_Basis,
`fourier_order=3` overriding any neural basis): phi(s) float32[D * 3].

Actor (`Actor.Gaussian`, deepActor=False). mean(s) = tanh(Linear(phi(s))) in [-1, 1]^M; the
policy is Normal(mean, gauss_std) on the continuous proxy u (std fixed, not learned). Acting
samples u, and the mapping turns it into a grid action: every mapping first clips u to
[-a_clip, a_clip] and rescales it onto [0, nvec - 1] (`neighbourhood.minmax_base`).

Critic (`Critic.Qval`). Q(s, a) = fc3(relu(fc2([relu(fc1(phi(s))), a / (nvec - 1)]))), 32 units,
the discrete action scaled by the width of its range (the authors' a / (high - low)). Mappings
score candidate actions with this critic at the current parameters.

Update, on every env step, on that step's transitions only (`QAC_optimize`; no replay, no
target networks; batch [B] = num_envs, B = 1 in the paper):
    a' = mapping(u' ~ Normal(mean(s'), std), training=True)    a fresh sample, scored by the
                                                              current critic
    y = r + gamma Q(s', a') [not done]       done = terminated or truncated: the authors'
                                             not_absorbing = (done != 1) counts the time limit
    critic loss = mean_B huber(Q(s, a) - y)   (F.huber_loss, delta 1; y held fixed)
    actor loss  = -sum_{B, M} stop_grad(y - Q(s, a)) log N(u | mean(s), std)
The two losses are summed and take one SGD step (lr 1e-2 each; `optim` picks the parser's
other choices), each module's gradient clipped to global norm 1 first
(`Agent.step(loss, clip_norm=1)`).

Evaluation (`act(..., deterministic=True)`): the mapping runs with training=False (no random
search moves). The authors' `get_action` samples the proxy even then
(`self.actor.get_action(state, training=True)`), so by default so does ours
(`sample_proxy_at_eval=True`); False uses the actor's mean.

Deliberate differences, options off by default: `reward_scale` (the authors scale nothing),
`bootstrap_truncated` (bootstrap through time limits), `sample_proxy_at_eval=False`. The
authors' knn mapping queries its kd-tree with the *unscaled* proxy (in [-1, 1] against levels
0..66) and scores unscaled actions, which pins it to the lowest levels on inventory; ours
queries with the rescaled proxy and scores a / (nvec - 1) like DNC (see `knn_mapping`).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jaxrl_actions import neighbourhood as nb
from jaxrl_actions.agents.base import Agent, PolicyOutput, register, validate_config
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.networks.linear import TorchLinear, fourier_features
from jaxrl_actions.spaces import Box, MultiDiscrete
from jaxrl_actions.training.config import OnlineConfig
from jaxrl_actions.types import Transition


@struct.dataclass
class QACConfig(OnlineConfig):
    """The authors' `Src/parser.py` defaults (QAC_parameters, DNC_parameters)."""

    fourier_order: int = struct.field(pytree_node=False, default=3)  # --fourier_order 3 (uncoupled)
    critic_hidden: int = struct.field(pytree_node=False, default=32)  # --hiddenLayerSize 32
    # Bounds that normalise observations for the Fourier basis (Basis.preprocess uses the
    # env's observation_space); None: the obs space's own bounds, which must then be finite.
    obs_low: Optional[float] = struct.field(pytree_node=False, default=None)
    obs_high: Optional[float] = struct.field(pytree_node=False, default=None)
    bootstrap_truncated: bool = struct.field(pytree_node=False, default=False)  # authors: done stops it
    sample_proxy_at_eval: bool = struct.field(pytree_node=False, default=True)  # QAC_C2DMapping.get_action
    optim: str = struct.field(pytree_node=False, default="sgd")  # --optim sgd (the parser also offers adam)
    actor_lr: float = 1e-2  # --actor_lr 1e-2
    critic_lr: float = 1e-2  # --critic_lr 1e-2
    gamma: float = 0.999  # --gamma 0.999
    gauss_std: float = 1.0  # --gauss_variance 1 (passed to Normal as its scale)
    a_clip: float = 1.0  # --a_clip 1: proxies clipped to [-1, 1] before rescaling
    max_grad_norm: float = 1.0  # Agent.step(loss, clip_norm=1), per module
    huber_delta: float = 1.0  # F.huber_loss default
    reward_scale: float = 1.0  # the authors scale no rewards


@struct.dataclass
class KNNConfig(QACConfig):
    k: int = struct.field(pytree_node=False, default=2)  # --knns 2 (the paper also reports knn-1, knn-0.5%)


@struct.dataclass
class Learner:
    """Parameters with their SGD state (learning rate and clip norm live in the state)."""

    params: Any
    opt_state: Any


def _clipped(optimizer: Callable) -> Callable:
    def make(learning_rate: Any, max_grad_norm: Any) -> optax.GradientTransformation:
        limit = jnp.where(max_grad_norm > 0, max_grad_norm, jnp.inf)  # <= 0: no clipping
        return optax.chain(optax.clip_by_global_norm(limit), optimizer(learning_rate))

    return optax.inject_hyperparams(make)


# The parser's --optim choices (torch defaults: SGD without momentum, Adam betas 0.9/0.999).
OPTIMIZERS = {"sgd": _clipped(optax.sgd), "adam": _clipped(optax.adam), "rmsprop": _clipped(optax.rmsprop)}


def make_learner(params: Any, learning_rate: Any, max_grad_norm: Any, optim: str = "sgd") -> Learner:
    return Learner(params, OPTIMIZERS[optim](learning_rate=learning_rate, max_grad_norm=max_grad_norm).init(params))


def sgd_step(learner: Learner, grads: Any, optim: str = "sgd") -> Learner:
    """Clip this module's gradient to its global norm, then one optimiser step (SGD by default)."""
    tx = OPTIMIZERS[optim](learning_rate=0.0, max_grad_norm=0.0)  # values unused: the state holds them
    updates, opt_state = tx.update(grads, learner.opt_state, learner.params)
    return Learner(optax.apply_updates(learner.params, updates), opt_state)


class LinearGaussianMean(nn.Module):
    """mean = tanh(Linear(features)) (`Actor.Gaussian.forward_wo_var`, actor_scaling_factor_mean 1)."""

    action_dim: int

    @nn.compact
    def __call__(self, features):
        return jnp.tanh(TorchLinear(self.action_dim)(features))


class QCritic(nn.Module):
    """`Critic.Qval`: the action joins after the first hidden layer."""

    hidden: int

    @nn.compact
    def __call__(self, features, scaled_action):
        h = nn.relu(TorchLinear(self.hidden)(features))
        h = nn.relu(TorchLinear(self.hidden)(jnp.concatenate([h, scaled_action], axis=-1)))
        return TorchLinear(1)(h)[..., 0]


@struct.dataclass
class QACState:
    actor: Learner
    critic: Learner
    updates: jax.Array  # int32[]
    config: Any  # QACConfig or a subclass
    spec: EnvSpec = struct.field(pytree_node=False)
    obs_low: tuple = struct.field(pytree_node=False, default=())  # the Fourier basis bounds, per obs dim
    obs_high: tuple = struct.field(pytree_node=False, default=())

    @property
    def nvec(self) -> tuple:
        return self.spec.action_space.nvec


# A mapping turns a proxy u float32[M] into a grid action int32[M] with the critic at one
# state: mapping(config, nvec, q_fn, u, key, training) with q_fn(int32[N, M]) -> float32[N].
Mapping = Callable[..., jax.Array]


def obs_bounds(spec: EnvSpec, config: QACConfig, agent: str) -> tuple[tuple, tuple]:
    """(low, high) per flat observation dim for the Fourier basis; a clear error when
    neither the config nor a bounded obs space gives finite bounds."""
    space = spec.obs_space
    if not isinstance(space, Box):
        raise ValueError(f"{agent} needs a Box observation space, got {space!r}")
    size = int(np.prod(space.shape))
    low = np.full(size, config.obs_low, np.float32) if config.obs_low is not None else space.low.reshape(-1)
    high = np.full(size, config.obs_high, np.float32) if config.obs_high is not None else space.high.reshape(-1)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low)):
        raise ValueError(f"{agent}'s Fourier basis needs finite bounds with high > low; the obs space is {space!r}: "
                         f"set obs_low and obs_high in the config (e.g. the authors' inventory bounds -40, 66)")
    return tuple(float(v) for v in low), tuple(float(v) for v in high)


def check_config(config: QACConfig) -> None:
    """Host-side checks, naming the field and value."""
    if int(config.fourier_order) < 1:
        raise ValueError(f"{type(config).__name__}.fourier_order={config.fourier_order!r} must be >= 1")
    if config.optim not in OPTIMIZERS:
        raise ValueError(f"{type(config).__name__}.optim={config.optim!r} must be one of {sorted(OPTIMIZERS)}")
    if int(config.critic_hidden) < 1:
        raise ValueError(f"{type(config).__name__}.critic_hidden={config.critic_hidden!r} must be >= 1")
    validate_config(config, {
        "actor_lr": lambda v: v > 0, "critic_lr": lambda v: v > 0, "gamma": lambda v: (v >= 0) & (v <= 1),
        "gauss_std": lambda v: v > 0, "a_clip": lambda v: v > 0, "huber_delta": lambda v: v > 0,
        "reward_scale": lambda v: v > 0,
    })


def features(state: QACState, obs) -> jax.Array:
    flat = jnp.asarray(obs, jnp.float32).reshape(jnp.shape(obs)[: jnp.ndim(obs) - len(state.spec.obs_space.shape)] + (-1,))
    return fourier_features(flat, np.asarray(state.obs_low), np.asarray(state.obs_high), state.config.fourier_order)


def proxy_mean(state: QACState, actor_params, phi) -> jax.Array:
    return LinearGaussianMean(len(state.nvec)).apply(actor_params, phi)


def critic_action(action, nvec) -> jax.Array:
    """The critic's action input: a / (nvec - 1) (the authors' a / (high - low)), [..., M]."""
    width = np.maximum(np.asarray(nvec, np.float32) - 1.0, 1.0)
    return jnp.asarray(action, jnp.float32) / width


def q_value(state: QACState, critic_params, phi, action) -> jax.Array:
    """Q(s, a) [...] for features phi [..., F] and grid actions [..., M]."""
    return QCritic(state.config.critic_hidden).apply(critic_params, phi, critic_action(action, state.nvec))


def scorer(state: QACState, critic_params, phi) -> Callable[[jax.Array], jax.Array]:
    """q_fn(int32[N, M]) -> float32[N]: the critic at one state (features phi [F])."""
    return lambda actions: q_value(state, critic_params, jnp.broadcast_to(phi, (actions.shape[0],) + phi.shape), actions)


def gaussian_log_prob(u, mean, std) -> jax.Array:
    """log N(u | mean, std) per dimension (torch Normal.log_prob)."""
    return -0.5 * jnp.square((u - mean) / std) - jnp.log(std) - 0.5 * jnp.log(2.0 * jnp.pi)


def init(key: jax.Array, spec: EnvSpec, config: QACConfig, agent: str = "QAC",
         check: Callable[[QACConfig], None] = check_config) -> QACState:
    space = spec.action_space
    if not isinstance(space, MultiDiscrete):
        raise ValueError(f"{agent} needs a MultiDiscrete action space, got {space!r}")
    check(config)
    low, high = obs_bounds(spec, config, agent)
    k_actor, k_critic = jax.random.split(key)
    phi = jnp.zeros((len(low) * int(config.fourier_order),), jnp.float32)
    m = len(space.nvec)
    actor_params = LinearGaussianMean(m).init(k_actor, phi)
    critic_params = QCritic(config.critic_hidden).init(k_critic, phi, jnp.zeros((m,), jnp.float32))
    return QACState(
        actor=make_learner(actor_params, config.actor_lr, config.max_grad_norm, config.optim),
        critic=make_learner(critic_params, config.critic_lr, config.max_grad_norm, config.optim),
        updates=jnp.int32(0), config=config, spec=spec, obs_low=low, obs_high=high)


def choose(mapping: Mapping, state: QACState, phi, key, training: bool, sample: bool) -> tuple[jax.Array, jax.Array]:
    """(grid action int32[M], proxy u float32[M]) at one state: u ~ Normal(mean, std)
    (or the mean when not `sample`), then the mapping with the current critic."""
    k_sample, k_map = jax.random.split(key)
    mean = proxy_mean(state, state.actor.params, phi)
    u = mean + state.config.gauss_std * jax.random.normal(k_sample, mean.shape) if sample else mean
    action = mapping(state.config, state.nvec, scorer(state, state.critic.params, phi), u, k_map, training)
    return action.astype(jnp.int32), u


def no_masks(mask, agent: str) -> None:
    if mask is not None:
        raise ValueError(f"{agent} does not support action masks; the env returned a mask")


def make_policy_step(mapping: Mapping, agent: str):
    def policy_step(state: QACState, obs, mask, key) -> PolicyOutput:
        """Training-time action at one observation: PolicyOutput(action int32[M], raw_action
        = the sampled proxy u float32[M], log_prob of u, value = Q(s, action))."""
        no_masks(mask, agent)
        phi = features(state, obs)
        action, u = choose(mapping, state, phi, key, True, True)
        mean = proxy_mean(state, state.actor.params, phi)
        log_prob = gaussian_log_prob(u, mean, state.config.gauss_std).sum()
        return PolicyOutput(action, u, log_prob, q_value(state, state.critic.params, phi, action))

    return policy_step


def make_act(mapping: Mapping, agent: str):
    def act(state: QACState, obs, mask, key, deterministic: bool = False) -> jax.Array:
        """One observation -> int32[M]. deterministic: the mapping without random moves, on
        a sampled proxy unless sample_proxy_at_eval=False (see the module docstring)."""
        no_masks(mask, agent)
        phi = features(state, obs)
        sample = (not deterministic) or bool(state.config.sample_proxy_at_eval)
        return choose(mapping, state, phi, key, not deterministic, sample)[0]

    return act


def make_update(mapping: Mapping):
    def losses(params, state: QACState, batch: Transition, key):
        actor_params, critic_params = params
        config = state.config
        phi, next_phi = features(state, batch.obs), features(state, batch.next_obs)  # [B, F]
        keys = jax.random.split(key, next_phi.shape[0])
        next_action, _ = jax.vmap(lambda p, k: choose(mapping, state, p, k, True, True))(next_phi, keys)
        next_q = q_value(state, state.critic.params, next_phi, next_action)
        done = batch.terminated if config.bootstrap_truncated else batch.terminated | batch.truncated
        target = jax.lax.stop_gradient(config.reward_scale * batch.reward + config.gamma * next_q * (1.0 - done))
        q = q_value(state, critic_params, phi, batch.action)  # [B]
        critic_loss = jnp.mean(optax.huber_loss(q, target, delta=config.huber_delta))
        td = jax.lax.stop_gradient(target - q)
        mean = proxy_mean(state, actor_params, phi)  # [B, M]
        log_prob = gaussian_log_prob(batch.behaviour, mean, config.gauss_std)  # [B, M]
        actor_loss = -jnp.sum(td[:, None] * log_prob)
        return actor_loss + critic_loss, {"critic_loss": critic_loss, "actor_loss": actor_loss,
                                          "q_mean": jnp.mean(q), "td_error": jnp.mean(td)}

    def update(state: QACState, batch: Transition, key) -> tuple[QACState, dict]:
        """One SGD step on the summed losses of this env step's transitions [B]."""
        params = (state.actor.params, state.critic.params)
        (g_actor, g_critic), metrics = jax.grad(losses, has_aux=True)(params, state, batch, key)
        optim = state.config.optim
        state = state.replace(actor=sgd_step(state.actor, g_actor, optim),
                              critic=sgd_step(state.critic, g_critic, optim), updates=state.updates + 1)
        return state, metrics

    return update


def make_agent(name: str, mapping: Mapping, config_cls: type, description: str, check: Callable = check_config) -> Agent:
    """An online QAC agent with the given mapping (DNC and the baselines)."""
    label = name.upper() if name == "dnc" else name
    return Agent(
        name=name, family="online", config_cls=config_cls,
        init=lambda key, spec, config: init(key, spec, config, label, check),
        act=make_act(mapping, label), update=make_update(mapping),
        policy_step=make_policy_step(mapping, label), check_config=check, description=description)


# ---------------------------------------------------------------------------------------
# The baselines' mappings


def minmax_mapping(config: QACConfig, nvec: tuple, q_fn, u, key, training: bool) -> jax.Array:
    """The rounded proxy (`Dnc.get_baseaction_minmax`; DNC with SA_search_steps=0)."""
    return nb.minmax_base(u, nvec, config.a_clip)


def knn_mapping(config: KNNConfig, nvec: tuple, q_fn, u, key, training: bool) -> jax.Array:
    """The critic's favourite among the k grid actions nearest the rescaled proxy in L2
    (`Knn.get_best_match`; exact, without enumerating the grid: `neighbourhood.k_nearest`)."""
    a_clip = jnp.asarray(config.a_clip, jnp.float32)
    proxy = nb.unit_to_proxy(jnp.clip(u, -a_clip, a_clip) / a_clip, nvec)
    cands, real = nb.k_nearest(proxy, nvec, config.k)
    return cands[jnp.argmax(jnp.where(real, q_fn(cands), -jnp.inf))]


def check_knn(config: KNNConfig) -> None:
    check_config(config)
    if int(config.k) < 1:
        raise ValueError(f"KNNConfig.k={config.k!r} must be >= 1")


MINMAX = make_agent("qac_minmax", minmax_mapping, QACConfig,
                    "online Q actor-critic, proxy rounded to the grid (DNC's MinMax baseline; MultiDiscrete)")
KNN = make_agent("qac_knn", knn_mapping, KNNConfig,
                 "online Q actor-critic, k nearest grid actions re-ranked by the critic (DNC's k-NN baseline)",
                 check_knn)
register(MINMAX)
register(KNN)
