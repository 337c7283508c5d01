"""Two-state coupled restless bandits with combinatorial actions: a simplified take on the
coRMAB setting (Xu, Wilder, Khalil and Tambe, "Reinforcement learning with combinatorial
actions for coupled restless bandits", 2025) with 2-state arms, monotone rewards and per-arm
additive interventions. The paper's own setting, after the authors' code, is `envs/cormab.py`
(the `cormab_*` envs). Four domains:

    restless_interventions  several intervention types per arm (levels = which subset of
                            them an arm gets), each with its own per-arm cost; budget
    restless_path           arms are nodes of a graph; the acted arms must be connected (one
                            patrol along the edges reaches them all); per-arm costs; budget
    restless_matching       arms are matched to resources (level = which resource); each
                            resource serves at most one compatible arm; per-arm costs; budget
    restless_capacity       arms are assigned to resources (level = which resource); each
                            resource has a capacity in cost units; budget on the total

Every arm is a 2-state Markov chain (0 = bad, 1 = good). Passive arms drift
(bad -> good with a small probability, good -> good with a larger one); an intervention of
strength g on an arm of responsiveness rho raises P(good next) from p to
p + (1 - p) * rho * g. Instances (transitions, costs, graph, compatibilities, capacities)
are drawn by `env.sample_params(key)`.

Observation: float32[N], the arms' states (0/1).
Action: per-arm level int32[N]: `MultiBinary(N)` when there are two levels (act or not),
    else `MultiDiscrete([L] * N)` (0 = passive). The mask (bool[N, 2], or bool[N * L] for
    MultiDiscrete) gives the per-arm levels an arm may take (compatibility); budget and
    coupling are not per-arm, so `feasible(state, action, params)` checks the joint action.
    An infeasible joint action is replaced by the passive one and flagged in
    `info["infeasible_action"]`.
Reward: sum over arms of weight_i * (arm i is good after the step).
Termination: never. Truncation: after `horizon` (20) steps.
Defaults: 20 arms, budget 8, horizon 20.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

import envs
from envs import time_limit_flags
from jaxrl_actions import combinatorial
from jaxrl_actions.agents.restless import RestlessProblem
from jaxrl_actions.environment import EnvParams, EnvSpec, Environment, scalar_timestep
from jaxrl_actions.spaces import Box, MultiBinary, MultiDiscrete
from jaxrl_actions.types import Array

INFEASIBLE_ACTION = "infeasible_action"  # info key (logging only): the joint action broke a constraint


@struct.dataclass
class RestlessParams(EnvParams):
    problem: RestlessProblem  # dynamics, rewards, constraints: what a planner may be told
    start_good: Array  # float32[N] probability each arm starts good


@struct.dataclass
class RestlessState:
    arms: Array  # int32[N] 0 = bad, 1 = good
    time: Array  # int32[]


# --- instance sampling -------------------------------------------------------------------
class ArmDynamics(NamedTuple):
    passive: Array  # float32[N, 2] P(good next | state, passive)
    responsiveness: Array  # float32[N]
    weights: Array  # float32[N]


def _sample_arms(key, n) -> ArmDynamics:
    k_bad, k_good, k_resp, k_w = jax.random.split(key, 4)
    passive = jnp.stack([jax.random.uniform(k_bad, (n,), minval=0.05, maxval=0.3),
                         jax.random.uniform(k_good, (n,), minval=0.5, maxval=0.9)], axis=-1)
    return ArmDynamics(passive, jax.random.uniform(k_resp, (n,), minval=0.2, maxval=0.8),
                       jax.random.uniform(k_w, (n,), minval=0.5, maxval=1.5))


def _acted(arms: ArmDynamics, success: Array) -> Array:
    """Transitions float32[N, 2, L] when level l succeeds independently with probability
    success[N, L] (0 for the passive level): good next unless drift and intervention fail."""
    return 1.0 - (1.0 - arms.passive[:, :, None]) * (1.0 - success[:, None, :])


def _resource_levels(key, arms: ArmDynamics, num_resources):
    """Levels 1..R are resources of strength ~ U(0.4, 1): transitions [N, 2, R+1]."""
    strength = jax.random.uniform(key, (num_resources,), minval=0.4, maxval=1.0)
    success = arms.responsiveness[:, None] * jnp.concatenate([jnp.zeros(1), strength])[None, :]
    return _acted(arms, success)


def _arm_costs(key, n, low, high):
    return jax.random.randint(key, (n,), low, high + 1).astype(jnp.float32)


def sample_interventions(key, n, budget, size) -> RestlessProblem:
    """`size` intervention types; level l's bits say which types the arm gets (L = 2^size);
    costs add up, effects combine as independent chances of success."""
    k_arms, k_strength, k_cost = jax.random.split(key, 3)
    arms = _sample_arms(k_arms, n)
    levels = 2**size
    bits = ((jnp.arange(levels)[:, None] >> jnp.arange(size)[None, :]) & 1).astype(jnp.float32)  # [L, M]
    strength = jax.random.uniform(k_strength, (size,), minval=0.3, maxval=0.9)
    type_cost = jax.random.randint(k_cost, (n, size), 1, 4).astype(jnp.float32)  # [N, M]
    fail = jnp.prod(1.0 - bits[None, :, :] * arms.responsiveness[:, None, None] * strength[None, None, :], axis=-1)
    constraints = combinatorial.make_constraints(type_cost @ bits.T, budget)
    return RestlessProblem(_acted(arms, 1.0 - fail), arms.weights, constraints, budget_only=True, max_budget=int(budget))


def sample_path(key, n, budget, size) -> RestlessProblem:
    """Arms at random points of the unit square, linked when closer than 0.3 and along a
    ring (so the graph is connected); the acted arms must form a connected set."""
    k_arms, k_pos, k_cost = jax.random.split(key, 3)
    arms = _sample_arms(k_arms, n)
    pos = jax.random.uniform(k_pos, (n, 2))
    near = jnp.linalg.norm(pos[:, None] - pos[None, :], axis=-1) < 0.3
    gap = jnp.abs(jnp.arange(n)[:, None] - jnp.arange(n)[None, :])
    ring = (gap == 1) | (gap == n - 1)
    success = jnp.stack([jnp.zeros(n), arms.responsiveness], axis=-1)
    constraints = combinatorial.make_constraints(_arm_costs(k_cost, n, 1, 2), budget, adjacency=near | ring, route=True)
    return RestlessProblem(_acted(arms, success), arms.weights, constraints, max_budget=int(budget))


def sample_matching(key, n, budget, size) -> RestlessProblem:
    """`size` resources, each compatible with ~30% of arms, each serving at most one arm."""
    k_arms, k_res, k_compat, k_cost = jax.random.split(key, 4)
    arms = _sample_arms(k_arms, n)
    compatible = jax.random.bernoulli(k_compat, 0.3, (n, size))
    allowed = jnp.concatenate([jnp.ones((n, 1), bool), compatible], axis=1)
    cost = _arm_costs(k_cost, n, 1, 2)
    costs = jnp.concatenate([jnp.zeros((n, 1)), jnp.repeat(cost[:, None], size, axis=1)], axis=1)
    capacity = jnp.concatenate([jnp.full(1, jnp.inf), jnp.ones(size)])
    constraints = combinatorial.make_constraints(costs, budget, allowed, jnp.ones((n, size + 1)), capacity)
    return RestlessProblem(_resource_levels(k_res, arms, size), arms.weights, constraints, max_budget=int(budget))


def sample_capacity(key, n, budget, size) -> RestlessProblem:
    """`size` resources with capacities of 3..6 cost units; an arm uses its cost (1..3) of
    the capacity of the resource it is assigned to; budget on the total cost."""
    k_arms, k_res, k_cap, k_cost = jax.random.split(key, 4)
    arms = _sample_arms(k_arms, n)
    cost = _arm_costs(k_cost, n, 1, 3)
    costs = jnp.concatenate([jnp.zeros((n, 1)), jnp.repeat(cost[:, None], size, axis=1)], axis=1)
    capacity = jnp.concatenate([jnp.full(1, jnp.inf), jax.random.randint(k_cap, (size,), 3, 7).astype(jnp.float32)])
    constraints = combinatorial.make_constraints(costs, budget, load=costs, capacity=capacity)
    return RestlessProblem(_resource_levels(k_res, arms, size), arms.weights, constraints, max_budget=int(budget))


class Domain(NamedTuple):
    sample: Callable  # (key, num_arms, budget, size) -> RestlessProblem
    num_levels: Callable[[int], int]  # size -> L
    default_size: int  # interventions / resources
    description: str


DOMAINS = {
    "interventions": Domain(sample_interventions, lambda m: 2**m, 2, "Two-state coupled restless bandit: multiple interventions per arm, budget"),
    "path": Domain(sample_path, lambda _: 2, 0, "Two-state coupled restless bandit: acted arms connected along a graph, budget"),
    "matching": Domain(sample_matching, lambda r: r + 1, 5, "Two-state coupled restless bandit: bipartite matching of arms to resources, budget"),
    "capacity": Domain(sample_capacity, lambda r: r + 1, 3, "Two-state coupled restless bandit: resources with capacities, budget"),
}


# --- the environment ---------------------------------------------------------------------
def feasible(state: RestlessState, action: Array, params: RestlessParams) -> Array:
    """bool[]: the joint action meets the budget and the domain's coupling constraints.
    (The constraints do not depend on the arms' states; `state` is part of the signature so
    state-dependent constraints can be added.)"""
    return combinatorial.feasible(jnp.asarray(action, jnp.int32), params.problem.constraints)


class CoupledRestlessBandit(Environment):
    """N two-state arms, per-step budget and a domain's coupling constraint; see the module
    docstring for observation, action, reward and termination."""

    def __init__(self, domain: str = "interventions", num_arms: int = 20, budget: int = 8, horizon: int = 20, size: int | None = None):
        if domain not in DOMAINS:
            raise ValueError(f"unknown restless domain {domain!r}; choose one of {sorted(DOMAINS)}")
        self.domain = domain
        self.num_arms, self.budget, self.horizon = int(num_arms), int(budget), int(horizon)
        self.size = DOMAINS[domain].default_size if size is None else int(size)
        if self.num_arms < 3 or self.budget < 1 or self.horizon < 1 or (domain != "path" and self.size < 1):
            raise ValueError(
                f"CoupledRestlessBandit needs num_arms >= 3, budget >= 1, horizon >= 1, size >= 1; got "
                f"num_arms={num_arms}, budget={budget}, horizon={horizon}, size={self.size}"
            )
        self.num_levels = DOMAINS[domain].num_levels(self.size)

    def sample_params(self, key) -> RestlessParams:
        k_problem, k_start = jax.random.split(key)
        problem = DOMAINS[self.domain].sample(k_problem, self.num_arms, self.budget, self.size)
        return RestlessParams(problem, jax.random.uniform(k_start, (self.num_arms,), minval=0.3, maxval=0.7))

    @property
    def default_params(self) -> RestlessParams:
        return self.sample_params(jax.random.key(0))

    @property
    def spec(self) -> EnvSpec:
        n, levels = self.num_arms, self.num_levels
        action = MultiBinary(n) if levels == 2 else MultiDiscrete([levels] * n)
        return EnvSpec(Box(0.0, 1.0, (n,)), action, self.horizon)

    def action_mask(self, params: RestlessParams) -> Array:
        allowed = params.problem.constraints.allowed
        return allowed if self.num_levels == 2 else allowed.reshape(-1)

    def feasible(self, state, action, params) -> Array:
        return feasible(state, action, params)

    def _timestep(self, state, reward, params, infeasible, truncated=False):
        obs = state.arms.astype(jnp.float32)
        return scalar_timestep(obs, reward, False, truncated, self.action_mask(params), {INFEASIBLE_ACTION: infeasible})

    def reset_env(self, key, params):
        state = RestlessState(jax.random.bernoulli(key, params.start_good).astype(jnp.int32), jnp.int32(0))
        return state, self._timestep(state, 0.0, params, jnp.bool_(False))

    def step_env(self, key, state, action, params):
        levels = jnp.asarray(action, jnp.int32)
        ok = feasible(state, levels, params)
        levels = jnp.where(ok, levels, 0)
        p_good = params.problem.transitions[jnp.arange(self.num_arms), state.arms, levels]
        arms = jax.random.bernoulli(key, p_good).astype(jnp.int32)
        reward = jnp.sum(params.problem.weights * arms)
        state = RestlessState(arms, state.time + 1)
        _, truncated = time_limit_flags(state.time, False, self.horizon)
        return state, self._timestep(state, reward, params, ~ok, truncated)


def _factory(domain):
    return lambda **kwargs: CoupledRestlessBandit(domain, **kwargs)


for _domain, _spec in DOMAINS.items():
    envs.register(f"restless_{_domain}", _factory(_domain), _spec.description)
