"""Stochastic bandits: multi-armed (Bernoulli, Gaussian), combinatorial semi-bandit,
contextual linear combinatorial bandit, and the nonlinear contextual semi-bandit of
Hwang et al., "Combinatorial Neural Bandits" (ICML 2023).

Every env here is a sequence of independent rounds over one *instance* (the arm means, or
the hidden linear parameter), which lives in the env params:

    params = env.sample_params(key)                          # one random instance
    params = jax.vmap(env.sample_params)(keys)               # thousands, for vmap
    state, ts = env.reset(key, params); state, ts = env.step(key, state, action, params)

Observation (all of them): `BanditObs(context float32[n, d], arm_rewards float32[k])`; the
context is what the next choice may depend on (ones[n, 1] when there is none), the arm
rewards are the semi-bandit feedback of the previous step. Rewards are linear over the
chosen arms, so each env exposes, for regret, the expected reward of every arm
`arm_means(context, params) -> float32[n]` and from it `expected_reward`, `oracle_reward`
(the best expected reward of a step) and `oracle_action`.

Termination: never. Truncation: after `horizon` steps (the instance stays the same after a
reset, so the bandit loop simply ignores episode ends).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

import envs
from envs import time_limit_flags
from jaxrl_actions.environment import EnvParams, EnvSpec, Environment, scalar_timestep
from jaxrl_actions.spaces import Box, Discrete, Subset, Tuple
from jaxrl_actions.types import Array, BanditObs


@struct.dataclass
class ArmParams(EnvParams):
    means: Array  # float32[n] expected reward of each arm
    noise_std: Array  # float32[] Gaussian reward noise (unused by Bernoulli arms)


@struct.dataclass
class LinearParams(EnvParams):
    theta: Array  # float32[d] hidden parameter: arm i's mean is context[i] @ theta
    noise_std: Array  # float32[]


@struct.dataclass
class NonlinearParams(EnvParams):
    direction: Array  # float32[d] the unit vector a inside the score function h(x) = h(x @ a)
    noise_std: Array  # float32[]


@struct.dataclass
class BanditState:
    context: Array  # float32[n, d] context of the coming choice
    time: Array  # int32[]


class StochasticBandit(Environment):
    """Base: n arms, k of them chosen per step (k = 1: `Discrete(n)`, else `Subset(n, k)`).
    Subclasses define `sample_params`, `arm_means`, `sample_outcomes` and optionally
    `draw_context` / `context_space`."""

    reward_bounds = (-jnp.inf, jnp.inf)

    def __init__(self, num_arms: int, k: int = 1, horizon: int = 1000, subset: bool | None = None):
        self.num_arms, self.k, self.horizon = int(num_arms), int(k), int(horizon)
        if self.num_arms < 2:
            raise ValueError(f"{type(self).__name__} needs num_arms >= 2, got num_arms={num_arms}")
        if not 1 <= self.k <= self.num_arms:
            raise ValueError(f"{type(self).__name__} needs 1 <= k <= num_arms={self.num_arms}, got k={k}")
        if self.horizon < 1:
            raise ValueError(f"{type(self).__name__} needs horizon >= 1, got horizon={horizon}")
        self.subset = self.k > 1 if subset is None else bool(subset)

    # --- instance -------------------------------------------------------------------
    def sample_params(self, key: Array):
        raise NotImplementedError

    @property
    def default_params(self):
        return self.sample_params(jax.random.key(0))

    def arm_means(self, context: Array, params) -> Array:
        """Expected reward of each arm given the context: float32[n]."""
        raise NotImplementedError

    def sample_outcomes(self, key: Array, means: Array, params) -> Array:
        """One random reward per arm: float32[n]."""
        raise NotImplementedError

    def draw_context(self, key: Array, params) -> Array:
        return jnp.ones((self.num_arms, 1), jnp.float32)

    def context_space(self) -> Box:
        return Box(1.0, 1.0, (self.num_arms, 1))

    # --- regret ---------------------------------------------------------------------
    def chosen_arms(self, action: Array) -> Array:
        """The chosen arm indices as int32[k] (a Discrete action becomes [1])."""
        return jnp.reshape(action, (self.k,)).astype(jnp.int32)

    def expected_reward(self, context: Array, action: Array, params) -> Array:
        return self.arm_means(context, params)[self.chosen_arms(action)].sum()

    def oracle_action(self, context: Array, params) -> Array:
        """The action with the best expected reward (shaped like the action space)."""
        top = jax.lax.top_k(self.arm_means(context, params), self.k)[1].astype(jnp.int32)
        return top if self.subset else top[0]

    def oracle_reward(self, context: Array, params) -> Array:
        return jax.lax.top_k(self.arm_means(context, params), self.k)[0].sum()

    # --- environment ----------------------------------------------------------------
    @property
    def spec(self) -> EnvSpec:
        low, high = self.reward_bounds
        obs = Tuple([self.context_space(), Box(low, high, (self.k,))])
        action = Subset(self.num_arms, self.k) if self.subset else Discrete(self.num_arms)
        return EnvSpec(obs, action, self.horizon)

    def reset_env(self, key, params):
        state = BanditState(self.draw_context(key, params), jnp.int32(0))
        obs = BanditObs(state.context, jnp.zeros((self.k,), jnp.float32))
        return state, scalar_timestep(obs, 0.0, False)

    def step_env(self, key, state, action, params):
        k_outcome, k_context = jax.random.split(key)
        outcomes = self.sample_outcomes(k_outcome, self.arm_means(state.context, params), params)
        arm_rewards = outcomes[self.chosen_arms(action)]
        state = BanditState(self.draw_context(k_context, params), state.time + 1)
        terminated, truncated = time_limit_flags(state.time, False, self.horizon)
        obs = BanditObs(state.context, arm_rewards)
        return state, scalar_timestep(obs, arm_rewards.sum(), terminated, truncated)


class BernoulliBandit(StochasticBandit):
    """n Bernoulli arms; instance: means ~ U(0, 1).

    Observation: BanditObs(ones[n, 1], arm_rewards float32[k] in {0, 1}).
    Action: Discrete(n) (k = 1) or Subset(n, k). Reward: sum of the chosen arms' 0/1 draws.
    Termination: never; truncation after `horizon` steps.
    """

    reward_bounds = (0.0, 1.0)

    def __init__(self, num_arms: int = 10, k: int = 1, horizon: int = 1000):
        super().__init__(num_arms, k, horizon)

    def sample_params(self, key):
        return ArmParams(jax.random.uniform(key, (self.num_arms,)), jnp.float32(0.0))

    def arm_means(self, context, params):
        return params.means

    def sample_outcomes(self, key, means, params):
        return jax.random.bernoulli(key, means).astype(jnp.float32)


class GaussianBandit(StochasticBandit):
    """n Gaussian arms; instance: means ~ N(0, 1), reward noise N(0, noise_std^2).

    Observation: BanditObs(ones[n, 1], arm_rewards float32[k]).
    Action: Discrete(n) (k = 1) or Subset(n, k). Reward: sum of the chosen arms' draws.
    Termination: never; truncation after `horizon` steps.
    """

    def __init__(self, num_arms: int = 10, k: int = 1, horizon: int = 1000, noise_std: float = 1.0):
        super().__init__(num_arms, k, horizon)
        if not noise_std > 0:
            raise ValueError(f"GaussianBandit needs noise_std > 0, got noise_std={noise_std}")
        self.noise_std = float(noise_std)

    def sample_params(self, key):
        return ArmParams(jax.random.normal(key, (self.num_arms,)), jnp.float32(self.noise_std))

    def arm_means(self, context, params):
        return params.means

    def sample_outcomes(self, key, means, params):
        return means + params.noise_std * jax.random.normal(key, means.shape)


class SemiBandit(BernoulliBandit):
    """Combinatorial semi-bandit: choose k of n Bernoulli arms, see each chosen arm's draw.

    Observation: BanditObs(ones[n, 1], arm_rewards float32[k] in {0, 1}: per chosen arm).
    Action: Subset(n, k). Reward: number of chosen arms that paid 1 (oracle: sum of the k
    largest means). Termination: never; truncation after `horizon` steps.
    """

    def __init__(self, num_arms: int = 10, k: int = 3, horizon: int = 1000):
        StochasticBandit.__init__(self, num_arms, k, horizon, subset=True)


class LinearBandit(StochasticBandit):
    """Contextual linear combinatorial bandit: each step every arm shows a fresh context
    x_i ~ N(0, I_d / d); arm i pays x_i @ theta + N(0, noise_std^2) for a hidden unit-norm
    theta drawn per instance.

    Observation: BanditObs(context float32[n, d], arm_rewards float32[k]).
    Action: Subset(n, k) (Discrete(n) when k = 1). Reward: sum over the chosen arms.
    Termination: never; truncation after `horizon` steps.
    """

    def __init__(self, num_arms: int = 10, k: int = 2, dim: int = 5, horizon: int = 1000, noise_std: float = 0.1):
        super().__init__(num_arms, k, horizon)
        if int(dim) < 1 or not noise_std > 0:
            raise ValueError(f"LinearBandit needs dim >= 1 and noise_std > 0, got dim={dim}, noise_std={noise_std}")
        self.dim, self.noise_std = int(dim), float(noise_std)

    def sample_params(self, key):
        theta = jax.random.normal(key, (self.dim,))
        return LinearParams(theta / jnp.linalg.norm(theta), jnp.float32(self.noise_std))

    def draw_context(self, key, params):
        return jax.random.normal(key, (self.num_arms, self.dim)) / jnp.sqrt(self.dim)

    def context_space(self):
        return Box(-jnp.inf, jnp.inf, (self.num_arms, self.dim))

    def arm_means(self, context, params):
        return context @ params.theta

    def sample_outcomes(self, key, means, params):
        return means + params.noise_std * jax.random.normal(key, means.shape)


# Score functions of the paper's experiment 1, of z = x @ a (DurianFarmer/cnb experiment.py).
PI = 3.14  # the authors' code hard-codes pi as 3.14 (experiment.py: PI = 3.14)
SCORE_FUNCTIONS = {
    "h1": lambda z: z,  # linear
    "h2": lambda z: z**2,  # quadratic
    "h3": lambda z: jnp.cos(PI * z),  # cosine
}


class NonlinearBandit(StochasticBandit):
    """The nonlinear contextual semi-bandit of Combinatorial Neural Bandits (Hwang et al.,
    ICML 2023, Sec. 6; code DurianFarmer/cnb `combinatorial_bandit.py`, `experiment.py`):
    each step every arm shows a fresh context x_i ~ N(0, I_d) normalised to unit length;
    arm i pays h(x_i @ a) + noise_std * N(0, 1), with h1(z) = z, h2(z) = z^2 or
    h3(z) = cos(3.14 z) and a hidden unit vector a drawn per instance.

    Defaults are the paper's experiment 1 (README commands): N = 20 arms, K = 4 chosen,
    d = 80, noise 0.01, horizon 2000 (4000 for h3 there). Difference: the authors draw one
    `a` for all 20 simulations (seed 1000) and score *realised* regret (top-K realised
    rewards minus the chosen ones'); here every instance draws its own `a` and the bandit
    loop scores expected regret (`arm_means` = h, no noise).

    Observation: BanditObs(context float32[n, d], arm_rewards float32[k]).
    Action: Subset(n, k). Reward: sum over the chosen arms (oracle: the k largest h).
    Termination: never; truncation after `horizon` steps.
    """

    def __init__(self, num_arms: int = 20, k: int = 4, dim: int = 80, score: str = "h2", horizon: int = 2000,
                 noise_std: float = 0.01):
        super().__init__(num_arms, k, horizon, subset=True)
        if score not in SCORE_FUNCTIONS:
            raise ValueError(f"NonlinearBandit: unknown score={score!r}; choose one of {sorted(SCORE_FUNCTIONS)}")
        if int(dim) < 1 or not noise_std > 0:
            raise ValueError(f"NonlinearBandit needs dim >= 1 and noise_std > 0, got dim={dim}, noise_std={noise_std}")
        self.dim, self.score, self.noise_std = int(dim), score, float(noise_std)

    def sample_params(self, key):
        a = jax.random.normal(key, (self.dim,))
        return NonlinearParams(a / jnp.linalg.norm(a), jnp.float32(self.noise_std))

    def draw_context(self, key, params):
        x = jax.random.normal(key, (self.num_arms, self.dim))
        return x / jnp.linalg.norm(x, axis=-1, keepdims=True)

    def context_space(self):
        return Box(-1.0, 1.0, (self.num_arms, self.dim))

    def arm_means(self, context, params):
        return SCORE_FUNCTIONS[self.score](context @ params.direction)

    def sample_outcomes(self, key, means, params):
        return means + params.noise_std * jax.random.normal(key, means.shape)


for _name, _factory, _description in (
    ("bandit_bernoulli", BernoulliBandit, "Multi-armed bandit, Bernoulli arms with means ~ U(0, 1) (Discrete)"),
    ("bandit_gaussian", GaussianBandit, "Multi-armed bandit, Gaussian arms with means ~ N(0, 1) (Discrete)"),
    ("bandit_semi", SemiBandit, "Combinatorial semi-bandit: choose k of n Bernoulli arms (Subset)"),
    ("bandit_linear", LinearBandit, "Contextual linear combinatorial bandit, hidden theta (Subset)"),
    ("bandit_nonlinear", NonlinearBandit,
     "Nonlinear contextual semi-bandit of Combinatorial Neural Bandits: h1/h2/h3 of x @ a (Subset)"),
):
    envs.register(_name, _factory, _description)
