"""Bandit agents (family "bandit"): epsilon-greedy, UCB1, Thompson sampling (Beta and
Gaussian posteriors), CUCB and combinatorial Thompson sampling for semi-bandits, LinUCB and
linear Thompson sampling for contextual linear bandits. (CN-UCB and CN-TS, the neural
ones, are in `neural_bandits.py`.)

All share one shape: each scores every arm, and the action is the best arm
(`Discrete(n)`) or the k best arms (`Subset(n, k)`, where top-k of per-arm scores is exactly
the combinatorial oracle for a linear reward). The pure-function API:

    state  = init(key, spec, config)                    spec: EnvSpec of a bandit env
    action = act(state, obs, mask, key, deterministic=False)
    state  = update(state, action, feedback)            feedback: types.BanditFeedback

`obs` is a `types.BanditObs` (only its context is read); `mask` is bool[n] or None (masked
arms are never chosen). CUCB is UCB1 and CTS is Beta Thompson sampling on a `Subset` space:
the functions are shared, the names exist so a semi-bandit experiment reads as one.

Epsilon-greedy uses the contexts when the env has any: on an env whose context space is
not a single point (the linear bandit) its greedy estimate is a ridge regression on the
contexts (the estimate LinUCB uses, without the bonus); on the others, per-arm means.
Ridge inverses are kept by Sherman-Morrison rank-1 updates (`sherman_morrison`), not
`jnp.linalg.inv`: no LAPACK call in the vmapped loop (see tests/test_no_deadlock.py).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions.agents.base import Agent, register, validate_config
from jaxrl_actions.spaces import Discrete, Subset
from jaxrl_actions.types import Array, BanditFeedback, BanditObs

_UNTRIED = 1e30  # score of an arm never pulled: tried first (finite, so a mask still wins)


# --- configs ----------------------------------------------------------------------------
@struct.dataclass
class EpsilonGreedyConfig:
    epsilon: float = 0.1  # exploration probability at step 0
    decay: float = 0.0  # epsilon_t = epsilon / (1 + decay * t)
    regularization: float = 1.0  # ridge lambda of the contextual estimate (A starts at lambda * I)


@struct.dataclass
class UCBConfig:
    exploration: float = 1.0  # c in mean + c * sqrt(2 ln t / n_i) (scale to the reward range)


@struct.dataclass
class BetaTSConfig:
    prior_alpha: float = 1.0  # Beta(alpha, beta) prior per arm; rewards must lie in [0, 1]
    prior_beta: float = 1.0


@struct.dataclass
class GaussianTSConfig:
    prior_mean: float = 0.0  # N(prior_mean, prior_std^2) prior per arm mean
    prior_std: float = 1.0
    noise_std: float = 1.0  # assumed reward noise


@struct.dataclass
class LinUCBConfig:
    alpha: float = 1.0  # width of the confidence ellipsoid
    regularization: float = 1.0  # ridge lambda: A starts at lambda * I


@struct.dataclass
class LinTSConfig:
    scale: float = 0.3  # posterior scale v: theta ~ N(theta_hat, v^2 A^-1)
    regularization: float = 1.0


# --- states -----------------------------------------------------------------------------
@struct.dataclass
class ArmStats:
    """Per-arm statistics (the state of every non-contextual agent)."""

    counts: Array  # float32[n] pulls per arm
    sums: Array  # float32[n] summed rewards per arm
    time: Array  # int32[] steps taken
    config: object  # the agent's config (numeric leaves)
    k: int = struct.field(pytree_node=False, default=1)  # arms per action
    subset: bool = struct.field(pytree_node=False, default=False)  # Subset (else Discrete) actions

    @property
    def means(self) -> Array:
        return self.sums / jnp.maximum(self.counts, 1.0)


@struct.dataclass
class LinearStats:
    """Ridge-regression statistics shared by LinUCB, linear TS and contextual epsilon-greedy."""

    design_inv: Array  # float32[d, d] A^-1 for A = lambda I + sum x x^T, kept by Sherman-Morrison
    target: Array  # float32[d]    b = sum r x
    time: Array  # int32[]
    config: object
    k: int = struct.field(pytree_node=False, default=1)
    subset: bool = struct.field(pytree_node=False, default=False)


# --- shared pieces ----------------------------------------------------------------------
def _action_shape(spec, name: str) -> tuple[int, int, bool]:
    """(n, k, subset) of a bandit action space, or a ValueError naming it."""
    space = spec.action_space
    if isinstance(space, Subset):
        return space.n, space.k, True
    if isinstance(space, Discrete):
        return space.n, 1, False
    raise ValueError(f"{name} needs a Discrete or Subset action space, got {space}")


def _require(spec, name: str, subset: bool | None) -> tuple[int, int, bool]:
    n, k, is_subset = _action_shape(spec, name)
    if subset is not None and is_subset != subset:
        want = "Subset(n, k) (a semi-bandit)" if subset else "Discrete(n)"
        raise ValueError(f"{name} needs a {want} action space, got {spec.action_space}")
    return n, k, is_subset


def select(scores: Array, mask: Array | None, k: int, subset: bool) -> Array:
    """The k best-scoring allowed arms: int32[k] for Subset, int32[] for Discrete."""
    if mask is not None:
        scores = jnp.where(mask, scores, -jnp.inf)
    top = jax.lax.top_k(scores, k)[1].astype(jnp.int32)
    return top if subset else top[0]


def chosen(action: Array, k: int) -> Array:
    return jnp.reshape(action, (k,)).astype(jnp.int32)


def sherman_morrison(inverse: Array, u: Array) -> Array:
    """(A + u u^T)^-1 from A^-1 (symmetric) and u float32[p], without factorising:
    A^-1 - (A^-1 u)(A^-1 u)^T / (1 + u^T A^-1 u). Rank-1 updates of the inverse."""
    v = inverse @ u
    return inverse - jnp.outer(v, v) / (1.0 + u @ v)


def sherman_morrison_rows(inverse: Array, rows: Array) -> Array:
    """A^-1 after adding u u^T for every row u of rows float32[k, p], one at a time."""
    return jax.lax.fori_loop(0, rows.shape[0], lambda i, inv: sherman_morrison(inv, rows[i]), inverse)


def quadratic_forms(vectors: Array, matrix: Array) -> Array:
    """u_i^T M u_i for every row of vectors float32[n, p] (clipped at 0 against rounding)."""
    return jnp.maximum(jnp.sum((vectors @ matrix) * vectors, axis=-1), 0.0)


def context_width(spec, name: str) -> int:
    """d of the per-arm context float32[n, d] (the first observation part), or a ValueError."""
    space = spec.obs_space.spaces[0] if hasattr(spec.obs_space, "spaces") else spec.obs_space
    if len(space.shape) != 2:
        raise ValueError(f"{name} needs a per-arm context float32[n, d] as the first observation part, got shape {space.shape}")
    return space.shape[1]


def has_context(spec) -> bool:
    """Whether the env's per-arm contexts carry information: its context space is not a
    single point (the context-free bandits show the constant ones[n, 1])."""
    import numpy as np

    space = spec.obs_space.spaces[0] if hasattr(spec.obs_space, "spaces") else spec.obs_space
    low, high = getattr(space, "low", None), getattr(space, "high", None)
    return low is None or not np.array_equal(np.broadcast_to(low, space.shape), np.broadcast_to(high, space.shape))


def _context(obs) -> Array:
    return obs.context if isinstance(obs, BanditObs) else obs[0]


def _init_arm_stats(spec, config, name, subset) -> ArmStats:
    n, k, is_subset = _require(spec, name, subset)
    zeros = jnp.zeros(n, jnp.float32)
    return ArmStats(zeros, zeros, jnp.int32(0), config, k, is_subset)


def update_arm_stats(state: ArmStats, action: Array, feedback: BanditFeedback) -> ArmStats:
    """Adds each chosen arm's observed reward (semi-bandit feedback)."""
    arms = chosen(action, state.k)
    rewards = jnp.reshape(feedback.arm_rewards, (state.k,))
    return state.replace(
        counts=state.counts.at[arms].add(1.0), sums=state.sums.at[arms].add(rewards), time=state.time + 1
    )


# --- epsilon-greedy ---------------------------------------------------------------------
_EPS_CHECKS = {"epsilon": lambda e: (e >= 0) & (e <= 1), "decay": lambda d: d >= 0, "regularization": lambda r: r > 0}


def _make_eps_init():
    def init(key, spec, config: EpsilonGreedyConfig):
        """Ridge statistics on an env with informative contexts, per-arm counts otherwise."""
        validate_config(config, _EPS_CHECKS)
        if has_context(spec):
            return _init_linear_stats(spec, config, "epsilon_greedy")
        return _init_arm_stats(spec, config, "epsilon_greedy", None)

    return init


def eps_act(state, obs, mask, key, deterministic=False):
    """With probability epsilon_t a uniformly random (allowed) choice, else the best
    estimated arms: ridge predictions x_i @ theta_hat, or empirical means (untried first)."""
    k_explore, k_scores = jax.random.split(key)
    if isinstance(state, LinearStats):
        x = _context(obs)
        greedy = x @ (state.design_inv @ state.target)
    else:
        greedy = jnp.where(state.counts > 0, state.means, _UNTRIED)
    epsilon = state.config.epsilon / (1.0 + state.config.decay * state.time)
    explore = jax.random.bernoulli(k_explore, epsilon) & jnp.logical_not(deterministic)
    scores = jnp.where(explore, jax.random.uniform(k_scores, greedy.shape), greedy)
    return select(scores, mask, state.k, state.subset)


def eps_update(state, action, feedback):
    if isinstance(state, LinearStats):
        return linear_update(state, action, feedback)
    return update_arm_stats(state, action, feedback)


# --- UCB1 / CUCB ------------------------------------------------------------------------
def _make_ucb_init(name, subset):
    def init(key, spec, config: UCBConfig) -> ArmStats:
        validate_config(config, {"exploration": lambda c: c >= 0})
        return _init_arm_stats(spec, config, name, subset)

    return init


def ucb_scores(state: ArmStats) -> Array:
    """mean_i + c sqrt(2 ln t / n_i); untried arms first. float32[n]."""
    t = jnp.maximum(state.time, 1).astype(jnp.float32)
    bonus = state.config.exploration * jnp.sqrt(2.0 * jnp.log(t) / jnp.maximum(state.counts, 1.0))
    return jnp.where(state.counts > 0, state.means + bonus, _UNTRIED)


def ucb_act(state: ArmStats, obs, mask, key, deterministic=False):
    return select(ucb_scores(state), mask, state.k, state.subset)


# --- Thompson sampling ------------------------------------------------------------------
def _make_beta_init(name, subset):
    def init(key, spec, config: BetaTSConfig) -> ArmStats:
        validate_config(config, {"prior_alpha": lambda a: a > 0, "prior_beta": lambda b: b > 0})
        return _init_arm_stats(spec, config, name, subset)

    return init


def beta_act(state: ArmStats, obs, mask, key, deterministic=False):
    """Samples each arm's mean from Beta(alpha0 + successes, beta0 + failures); rewards in
    [0, 1] count fractionally."""
    alpha = state.config.prior_alpha + state.sums
    beta = state.config.prior_beta + state.counts - state.sums
    sample = jax.random.beta(key, alpha, beta)
    scores = jnp.where(deterministic, alpha / (alpha + beta), sample)
    return select(scores, mask, state.k, state.subset)


def _make_gauss_init(name, subset):
    def init(key, spec, config: GaussianTSConfig) -> ArmStats:
        validate_config(config, {"prior_std": lambda s: s > 0, "noise_std": lambda s: s > 0})
        return _init_arm_stats(spec, config, name, subset)

    return init


def gauss_act(state: ArmStats, obs, mask, key, deterministic=False):
    """Conjugate normal posterior of each arm's mean (known noise), sampled."""
    c = state.config
    precision = 1.0 / c.prior_std**2 + state.counts / c.noise_std**2
    mean = (c.prior_mean / c.prior_std**2 + state.sums / c.noise_std**2) / precision
    sample = mean + jax.random.normal(key, mean.shape) / jnp.sqrt(precision)
    return select(jnp.where(deterministic, mean, sample), mask, state.k, state.subset)


# --- linear: LinUCB and linear TS -------------------------------------------------------
def _init_linear_stats(spec, config, name) -> LinearStats:
    _, k, is_subset = _require(spec, name, None)
    d = context_width(spec, name)
    eye = jnp.eye(d, dtype=jnp.float32)
    return LinearStats(eye / config.regularization, jnp.zeros(d), jnp.int32(0), config, k, is_subset)


def _make_linear_init(name, checks):
    def init(key, spec, config) -> LinearStats:
        validate_config(config, checks)
        return _init_linear_stats(spec, config, name)

    return init


def _ridge(state: LinearStats) -> tuple[Array, Array]:
    """(theta_hat float32[d], A^-1 float32[d, d])."""
    return state.design_inv @ state.target, state.design_inv


def linucb_act(state: LinearStats, obs, mask, key, deterministic=False):
    x = _context(obs)  # [n, d]
    theta, inverse = _ridge(state)
    width = jnp.sqrt(quadratic_forms(x, inverse))
    return select(x @ theta + state.config.alpha * width, mask, state.k, state.subset)


def lints_act(state: LinearStats, obs, mask, key, deterministic=False):
    x = _context(obs)
    theta, inverse = _ridge(state)
    chol = jnp.linalg.cholesky(0.5 * (inverse + inverse.T))
    sample = theta + state.config.scale * chol @ jax.random.normal(key, theta.shape)
    return select(x @ jnp.where(deterministic, theta, sample), mask, state.k, state.subset)


def linear_update(state: LinearStats, action: Array, feedback: BanditFeedback) -> LinearStats:
    x = feedback.context[chosen(action, state.k)]  # [k, d]
    r = jnp.reshape(feedback.arm_rewards, (state.k,))
    return state.replace(design_inv=sherman_morrison_rows(state.design_inv, x), target=state.target + x.T @ r,
                         time=state.time + 1)


# --- registry ---------------------------------------------------------------------------
_LINUCB_CHECKS = {"alpha": lambda a: a >= 0, "regularization": lambda r: r > 0}
_LINTS_CHECKS = {"scale": lambda s: s >= 0, "regularization": lambda r: r > 0}

AGENTS = (
    Agent("epsilon_greedy", "bandit", EpsilonGreedyConfig, _make_eps_init(), eps_act, eps_update,
          description="Epsilon-greedy on empirical means, or on ridge predictions when arms have contexts"),
    Agent("ucb1", "bandit", UCBConfig, _make_ucb_init("ucb1", False), ucb_act, update_arm_stats,
          description="UCB1 (Auer et al. 2002)"),
    Agent("ts_beta", "bandit", BetaTSConfig, _make_beta_init("ts_beta", False), beta_act, update_arm_stats,
          description="Thompson sampling, Beta posterior (rewards in [0, 1])"),
    Agent("ts_gaussian", "bandit", GaussianTSConfig, _make_gauss_init("ts_gaussian", None), gauss_act, update_arm_stats,
          description="Thompson sampling, Gaussian posterior (Discrete or Subset)"),
    Agent("cucb", "bandit", UCBConfig, _make_ucb_init("cucb", True), ucb_act, update_arm_stats,
          description="Combinatorial UCB for semi-bandits (Chen et al. 2013)"),
    Agent("cts", "bandit", BetaTSConfig, _make_beta_init("cts", True), beta_act, update_arm_stats,
          description="Combinatorial Thompson sampling, Beta posteriors, for semi-bandits"),
    Agent("linucb", "bandit", LinUCBConfig, _make_linear_init("linucb", _LINUCB_CHECKS), linucb_act, linear_update,
          description="LinUCB for contextual linear (combinatorial) bandits"),
    Agent("lin_ts", "bandit", LinTSConfig, _make_linear_init("lin_ts", _LINTS_CHECKS), lints_act, linear_update,
          description="Linear Thompson sampling for contextual linear (combinatorial) bandits"),
)

for _agent in AGENTS:
    register(_agent)
