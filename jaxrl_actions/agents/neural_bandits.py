"""CN-UCB and CN-TS (Hwang, Chai, Oh, "Combinatorial Neural Bandits", ICML 2023; authors'
code DurianFarmer/cnb, `options.py: UCBorTS, Neural`, `experiment.py`): contextual
combinatorial semi-bandits whose per-arm score is learnt by a neural network, with
exploration from the network's gradient features.

Each round, for every arm i with context x_i (f = the network, theta its parameters):

    g_i   = grad_theta f(x_i; theta) / sqrt(m)                     gradient features, float32[p]
    CN-UCB: u_i = f(x_i; theta) + gamma * sqrt(g_i^T Z^-1 g_i)
    CN-TS:  sigma_i^2 = lambda * g_i^T Z^-1 g_i; draw M samples r ~ N(f(x_i; theta), s_i);
            u_i = the largest sample (optimistic sampling)
    action  = the K arms with the largest u_i (the top-K oracle)

then, after the feedback of the K chosen arms (`update`):
    every `period` rounds: `epochs` full-batch SGD steps (lr) on the loss
        sum over the chosen arms of the last `window` + 1 rounds of (f(x) - r)^2 / 2
    Z <- Z + g_i g_i^T for each chosen arm, with the g_i computed *before* that training
    (Z^-1 kept by Sherman-Morrison rank-1 updates from Z^-1 = I / lambda; no LAPACK, so
    the loop stays vmappable, see tests/test_no_deadlock.py).

Network (options.py `Model(input d, hidden m, n_layers=2)`): f(x) = w2 . relu(W1 x), both
layers bias-free, PyTorch's default init (U(-1/sqrt(fan_in), 1/sqrt(fan_in))). theta is
one flat vector: W1 [d, m] row-major, then w2 [m]; p = d * m + m.

Where the authors' code and paper differ, the default follows the code and the paper's form
is an option, off by default:
- `init_reg`: the code's loss adds lambda * m * ||theta - theta0||^2 / 2 computed through
  numpy (`Neural.train`), so it gives no gradient; True adds its gradient (the paper's
  L2-to-init regulariser).
- `variance_scale` (CN-TS): the code passes nu^2 sigma^2 as the *standard deviation* of
  the samples (`sample_multi_rewards`: np.random.normal(scale=...)); True uses it as the
  variance (the paper's N(f, nu^2 sigma^2)).
- gamma and nu are constants (the code's `confidence_multiplier` returns gamma), not the
  paper's theoretical gamma_t / nu_t; the network has no sqrt(m) output scaling and no
  symmetric init; training uses a window of recent rounds and runs every `period` rounds.

Cost per round and instance: O(n p^2) for the bonuses and O(K p^2) for Z^-1 (p = 8100 at
the paper's d = 80, m = 100: 262 MB per Z^-1 in float32), plus the training every
`period` rounds. Under `vmap` over instances the training's `lax.cond` runs as a select
(every round); `training.bandit.run_bandit(..., sequential=True)` keeps it a branch.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions.agents.bandits import (
    _context,
    _require,
    chosen,
    context_width,
    quadratic_forms,
    select,
    sherman_morrison_rows,
)
from jaxrl_actions.agents.base import Agent, register, validate_config
from jaxrl_actions.types import Array, BanditFeedback


# --- configs ----------------------------------------------------------------------------
@struct.dataclass
class NeuralBanditConfig:
    """Shared by CN-UCB and CN-TS; defaults from DurianFarmer/cnb `experiment.py` argparse
    (the values every README run uses)."""

    reg: float = 1.0  # lambda (--reg_factor 1.0): Z starts at lambda I; CN-TS's sigma^2 = lambda g^T Z^-1 g
    lr: float = 0.01  # SGD step size (--learning_rate 0.01)
    hidden: int = struct.field(pytree_node=False, default=100)  # m, hidden width (--hidden_layer_width 100)
    epochs: int = struct.field(pytree_node=False, default=100)  # SGD steps per training (--epochs 100)
    period: int = struct.field(pytree_node=False, default=10)  # train when round % period == 0 (--training_period 10)
    window: int = struct.field(pytree_node=False, default=100)  # train on rounds t - window .. t (--training_window 100)
    init_reg: bool = struct.field(pytree_node=False, default=False)  # option: the paper's L2-to-init gradient (see module doc)


@struct.dataclass
class CNUCBConfig(NeuralBanditConfig):
    gamma: float = 1.0  # confidence multiplier (--gamma 1.0; a constant, options.py confidence_multiplier)


@struct.dataclass
class CNTSConfig(NeuralBanditConfig):
    nu: float = 1.0  # exploration scale (--nu 1.0)
    samples: int = struct.field(pytree_node=False, default=10)  # M (README's CN-TS runs: --n_samples 10)
    variance_scale: bool = struct.field(pytree_node=False, default=False)  # option: nu^2 sigma^2 is the variance (paper)


_CHECKS = {"reg": lambda r: r > 0, "lr": lambda lr: lr > 0}


def _check_structure(config: NeuralBanditConfig, name: str) -> None:
    for field in ("hidden", "epochs", "period"):
        if getattr(config, field) < 1:
            raise ValueError(f"{name}: {type(config).__name__}.{field}={getattr(config, field)!r} must be >= 1")
    if config.window < 0:
        raise ValueError(f"{name}: {type(config).__name__}.window={config.window!r} must be >= 0")
    if isinstance(config, CNTSConfig) and config.samples < 1:
        raise ValueError(f"{name}: CNTSConfig.samples={config.samples!r} must be >= 1")


# --- state ------------------------------------------------------------------------------
@struct.dataclass
class NeuralBanditState:
    theta: Array  # float32[p] network parameters: W1 [d, m] row-major, then w2 [m]
    theta0: Array  # float32[p] the initial parameters
    z_inv: Array  # float32[p, p] Z^-1, Z = lambda I + sum of g g^T over the chosen arms
    contexts: Array  # float32[window + 1, k, d] ring buffer: contexts of the chosen arms per round
    rewards: Array  # float32[window + 1, k] their rewards
    filled: Array  # bool[window + 1] slots holding a round
    time: Array  # int32[] rounds played
    config: object
    k: int = struct.field(pytree_node=False, default=1)
    subset: bool = struct.field(pytree_node=False, default=True)
    dim: int = struct.field(pytree_node=False, default=1)  # d


# --- the network and its gradient features ------------------------------------------------
def network(theta: Array, x: Array, dim: int) -> Array:
    """f(x; theta) = w2 . relu(x W1) for one context x float32[d] -> float32[]."""
    hidden = theta.size // (dim + 1)
    w1 = theta[: dim * hidden].reshape(dim, hidden)
    w2 = theta[dim * hidden:]
    return jax.nn.relu(x @ w1) @ w2


def init_params(key: Array, dim: int, hidden: int) -> Array:
    """PyTorch's nn.Linear default (bias-free): U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    k1, k2 = jax.random.split(key)
    w1 = jax.random.uniform(k1, (dim, hidden), minval=-1.0, maxval=1.0) / jnp.sqrt(dim)
    w2 = jax.random.uniform(k2, (hidden,), minval=-1.0, maxval=1.0) / jnp.sqrt(hidden)
    return jnp.concatenate([w1.reshape(-1), w2])


def predictions_and_features(state: NeuralBanditState, x: Array) -> tuple[Array, Array]:
    """(f(x_i) float32[n], g_i = grad f(x_i) / sqrt(m) float32[n, p]) for contexts x [n, d]."""
    value_and_grad = jax.vmap(jax.value_and_grad(network), in_axes=(None, 0, None))
    f, g = value_and_grad(state.theta, x, state.dim)
    return f, g / jnp.sqrt(jnp.float32(state.config.hidden))


# --- init / act / update ------------------------------------------------------------------
def _make_init(name: str):
    def init(key, spec, config: NeuralBanditConfig) -> NeuralBanditState:
        validate_config(config, {**_CHECKS, **({"gamma": lambda g: g >= 0} if isinstance(config, CNUCBConfig) else
                                               {"nu": lambda v: v >= 0})})
        _check_structure(config, name)
        _, k, subset = _require(spec, name, None)
        d = context_width(spec, name)
        theta = init_params(key, d, config.hidden)
        p = theta.size
        slots = config.window + 1
        return NeuralBanditState(
            theta=theta, theta0=theta, z_inv=jnp.eye(p, dtype=jnp.float32) / config.reg,
            contexts=jnp.zeros((slots, k, d), jnp.float32), rewards=jnp.zeros((slots, k), jnp.float32),
            filled=jnp.zeros(slots, bool), time=jnp.int32(0), config=config, k=k, subset=subset, dim=d,
        )

    return init


def ucb_scores(state: NeuralBanditState, x: Array) -> Array:
    """u_i = f(x_i) + gamma sqrt(g_i^T Z^-1 g_i), float32[n]."""
    f, g = predictions_and_features(state, x)
    return f + state.config.gamma * jnp.sqrt(quadratic_forms(g, state.z_inv))


def cn_ucb_act(state: NeuralBanditState, obs, mask, key, deterministic=False):
    return select(ucb_scores(state, _context(obs)), mask, state.k, state.subset)


def ts_scores(state: NeuralBanditState, x: Array, key: Array) -> tuple[Array, Array]:
    """(f(x_i), the largest of M samples per arm), float32[n] each. Samples are
    N(f(x_i), s_i) with s_i = nu^2 sigma_i^2 the standard deviation (the code) or the
    variance (`variance_scale`, the paper)."""
    c = state.config
    f, g = predictions_and_features(state, x)
    spread = c.nu**2 * c.reg * quadratic_forms(g, state.z_inv)  # nu^2 sigma^2
    std = jnp.sqrt(spread) if c.variance_scale else spread
    draws = f[:, None] + std[:, None] * jax.random.normal(key, (f.shape[0], c.samples))
    return f, draws.max(axis=1)


def cn_ts_act(state: NeuralBanditState, obs, mask, key, deterministic=False):
    f, sampled = ts_scores(state, _context(obs), key)
    return select(jnp.where(deterministic, f, sampled), mask, state.k, state.subset)


def training_loss(theta: Array, state: NeuralBanditState) -> Array:
    """sum over the buffered (context, reward) pairs of (f(x) - r)^2 / 2, plus
    lambda m ||theta - theta0||^2 / 2 when `init_reg` (the code's term gives no gradient)."""
    x = state.contexts.reshape(-1, state.dim)
    r = state.rewards.reshape(-1)
    weight = jnp.repeat(state.filled, state.k).astype(jnp.float32)
    pred = jax.vmap(network, in_axes=(None, 0, None))(theta, x, state.dim)
    loss = 0.5 * jnp.sum(weight * (pred - r) ** 2)
    if state.config.init_reg:
        loss = loss + 0.5 * state.config.reg * state.config.hidden * jnp.sum((theta - state.theta0) ** 2)
    return loss


def train(state: NeuralBanditState) -> Array:
    """`epochs` full-batch SGD steps on the buffer: the new theta."""
    grad = jax.grad(training_loss)
    return jax.lax.fori_loop(0, state.config.epochs, lambda _, th: th - state.config.lr * grad(th, state), state.theta)


def neural_update(state: NeuralBanditState, action: Array, feedback: BanditFeedback) -> NeuralBanditState:
    """Store the round, train every `period` rounds, then add the chosen arms' pre-training
    gradient features to Z (options.py `run`: train, then update_A_inv with the g of the
    round's start)."""
    arms = chosen(action, state.k)
    x = feedback.context[arms]  # [k, d]
    _, g = predictions_and_features(state, x)  # at the acting theta
    slot = state.time % state.filled.shape[0]
    state = state.replace(
        contexts=state.contexts.at[slot].set(x),
        rewards=state.rewards.at[slot].set(jnp.reshape(feedback.arm_rewards, (state.k,))),
        filled=state.filled.at[slot].set(True),
    )
    theta = jax.lax.cond(state.time % state.config.period == 0, train, lambda s: s.theta, state)
    return state.replace(theta=theta, z_inv=sherman_morrison_rows(state.z_inv, g), time=state.time + 1)


AGENTS = (
    Agent("cn_ucb", "bandit", CNUCBConfig, _make_init("cn_ucb"), cn_ucb_act, neural_update,
          description="CN-UCB (Hwang et al. 2023): neural scores + gradient-feature UCB, top-K oracle"),
    Agent("cn_ts", "bandit", CNTSConfig, _make_init("cn_ts"), cn_ts_act, neural_update,
          description="CN-TS (Hwang et al. 2023): neural scores + optimistic Thompson sampling (max of M draws)"),
)

for _agent in AGENTS:
    register(_agent)
