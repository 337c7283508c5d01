"""Planners and learners for coupled restless bandits (family "restless").

A joint action is a per-arm level `int32[N]` (0 = passive); feasibility is a
`combinatorial.Constraints` (budget plus coupling). Every agent here scores each
(arm, level) pair for the arms' current states, `values: float32[N, L]`, and hands the
scores to a budget-feasible combinatorial step:

    null              never acts
    random            a random feasible joint action
    myopic            scores = expected reward of the next step; one pass in a fixed order
    iterative_myopic  the same scores; greedy that re-checks feasibility after each pick
    whittle           scores = Whittle index of (arm, state, level) vs passive, computed in
                      JAX by bisection on the passive subsidy with value iteration per arm
    q_learning        learned per-arm Q-values Q_i(s_i, level) (tabular), joint action by the
                      combinatorial step (exact knapsack DP when the budget is the only
                      coupling, else greedy)
    sampling          the same learned Q-values; the best of K random feasible actions

The planners (myopic, Whittle) are told the transition model; the learners only the
constraints and the per-arm reward weights (reward known, dynamics learned). All share

    init(key, spec, config) -> state            config.problem: RestlessProblem (required)
    act(state, obs, mask, key, deterministic=False) -> int32[N]     obs: float32[N] states
    update(state, batch, key) -> (state, metrics)                   batch: Transition[B]

How this differs from SEQUOIA (Xu et al. 2025): SEQUOIA trains a Q-network over the *joint*
(state, action) and selects each action by solving a mixed-integer linear program in which
that network is embedded, with the domain's constraints written as MILP constraints. Here
Q is decomposed per arm (a sum of per-arm terms), so the selection problem has an additive
objective that a knapsack DP (exact for a budget) or a greedy (any constraints, approximate)
solves inside `jit`, with no external solver; the price is that interactions between arms
are only represented through the constrained joint argmax used in the targets.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions import combinatorial
from jaxrl_actions.agents.base import Agent, register, validate_config
from jaxrl_actions.combinatorial import Constraints
from jaxrl_actions.types import Array, Transition

SELECTORS = ("auto", "greedy", "knapsack")


@struct.dataclass
class RestlessProblem:
    """What a planner may know about an instance with N two-state arms and L levels."""

    transitions: Array  # float32[N, 2, L] P(arm good next | its state, its level)
    weights: Array  # float32[N] reward of an arm that is good after the step
    constraints: Constraints
    budget_only: bool = struct.field(pytree_node=False, default=False)  # no coupling beyond budget + allowed
    max_budget: int = struct.field(pytree_node=False, default=8)  # knapsack DP table size

    @property
    def num_arms(self) -> int:
        return self.transitions.shape[-3]

    @property
    def num_levels(self) -> int:
        return self.transitions.shape[-1]


def select(values: Array, problem: RestlessProblem, selector: str = "auto") -> Array:
    """A feasible joint action int32[N] with high sum_i values[i, level_i]."""
    c = problem.constraints
    if selector == "knapsack" or (selector == "auto" and problem.budget_only):
        return combinatorial.knapsack(values, c.costs, c.budget, problem.max_budget, c.allowed)
    return combinatorial.greedy(values, c)


def arm_states(obs: Array) -> Array:
    return jnp.round(obs).astype(jnp.int32)


def _at_states(table: Array, states: Array) -> Array:
    """table[i, states[i], :] for every arm: [N, L] (table: [N, 2, L])."""
    return table[jnp.arange(table.shape[0]), states]


# --- configs and state ------------------------------------------------------------------
@struct.dataclass
class PlannerConfig:
    problem: Any = None  # RestlessProblem


@struct.dataclass
class WhittleConfig:
    problem: Any = None
    gamma: float = 0.95
    bisection_steps: int = struct.field(pytree_node=False, default=30)
    value_iterations: int = struct.field(pytree_node=False, default=300)
    selector: str = struct.field(pytree_node=False, default="auto")


@struct.dataclass
class QConfig:
    problem: Any = None
    gamma: float = 0.95
    learning_rate: float = 0.3
    epsilon: float = 0.1  # probability of a random feasible action while learning
    selector: str = struct.field(pytree_node=False, default="auto")
    num_samples: int = struct.field(pytree_node=False, default=0)  # K > 0: act by best of K random feasible actions


@struct.dataclass
class SamplingConfig(QConfig):
    num_samples: int = struct.field(pytree_node=False, default=20)


@struct.dataclass
class RestlessAgentState:
    problem: RestlessProblem
    table: Array  # float32[N, 2, L]: per-arm scores (Whittle indices or Q-values); unused by some
    config: Any


def _check_problem(config, name) -> RestlessProblem:
    problem = config.problem
    if not isinstance(problem, RestlessProblem):
        raise ValueError(f"{name}: config.problem must be the instance's RestlessProblem (env params .problem), got {type(problem).__name__}")
    selector = getattr(config, "selector", "auto")
    if selector not in SELECTORS:
        raise ValueError(f"{name}: selector={selector!r}; choose one of {SELECTORS}")
    return problem


def _check_spec(spec, problem, name):
    if spec is not None and tuple(spec.action_space.shape) != (problem.num_arms,):
        raise ValueError(f"{name}: action space {spec.action_space} does not match a problem with {problem.num_arms} arms")


def _no_update(state, batch, key):
    return state, {}


# --- baselines --------------------------------------------------------------------------
def _planner_init(name):
    def init(key, spec, config: PlannerConfig) -> RestlessAgentState:
        problem = _check_problem(config, name)
        _check_spec(spec, problem, name)
        return RestlessAgentState(problem, jnp.zeros_like(problem.transitions), config)

    return init


def null_act(state, obs, mask, key, deterministic=False):
    return jnp.zeros(state.problem.num_arms, jnp.int32)


def random_act(state, obs, mask, key, deterministic=False):
    return combinatorial.random_feasible(key, state.problem.constraints)


def myopic_values(problem: RestlessProblem, states: Array) -> Array:
    """Expected reward of the next step for each (arm, level): float32[N, L]."""
    return problem.weights[:, None] * _at_states(problem.transitions, states)


def myopic_act(state, obs, mask, key, deterministic=False):
    return combinatorial.single_pass(myopic_values(state.problem, arm_states(obs)), state.problem.constraints)


def iterative_myopic_act(state, obs, mask, key, deterministic=False):
    return combinatorial.greedy(myopic_values(state.problem, arm_states(obs)), state.problem.constraints)


# --- Whittle index ----------------------------------------------------------------------
def _two_action_q(p_good: Array, weight: Array, subsidy: Array, gamma, iterations: int) -> Array:
    """Q[s, a] float32[2, 2] of one arm choosing between passive (a = 0, paid `subsidy`)
    and one level (a = 1) by value iteration. p_good[s, a] = P(good next | s, a); reward is
    weight * (good next)."""
    reward = weight * p_good + jnp.stack([subsidy, 0.0])[None, :]

    def backup(_, value):
        q = reward + gamma * (p_good * value[1] + (1.0 - p_good) * value[0])
        return q.max(axis=1)

    value = jax.lax.fori_loop(0, iterations, backup, jnp.zeros(2))
    return reward + gamma * (p_good * value[1] + (1.0 - p_good) * value[0])


def index_by_bisection(q_of_subsidy, num_states: int, bound, steps: int) -> Array:
    """float32[num_states]: per state, the passive subsidy in [-bound, bound] at which
    `q_of_subsidy(subsidy)[state]` (Q float32[num_states, 2], actions passive / act) ties,
    by bisection (assumes indexability: acting is preferred below the index, passive above)."""

    def index_of(state):
        def halve(_, bracket):
            low, high = bracket
            mid = 0.5 * (low + high)
            q = q_of_subsidy(mid)
            act_better = q[state, 1] > q[state, 0]
            return jnp.where(act_better, mid, low), jnp.where(act_better, high, mid)

        low, high = jax.lax.fori_loop(0, steps, halve, (-bound, bound))
        return 0.5 * (low + high)

    return jax.vmap(index_of)(jnp.arange(num_states))


def whittle_index_two_action(p_good: Array, weight: Array, gamma, bisection_steps: int = 30, value_iterations: int = 300) -> Array:
    """Whittle index float32[2] of each state for a 2-state arm with actions (passive, act)."""
    bound = 2.0 * jnp.abs(weight) / (1.0 - gamma) + 1.0
    return index_by_bisection(lambda subsidy: _two_action_q(p_good, weight, subsidy, gamma, value_iterations),
                              2, bound, bisection_steps)


def whittle_indices(problem: RestlessProblem, gamma, bisection_steps: int = 30, value_iterations: int = 300) -> Array:
    """float32[N, 2, L]: for each arm, state and level l >= 1, the Whittle index of the
    two-action arm (passive vs level l); 0 for the passive level."""

    def per_arm(p_arm, weight):  # p_arm [2, L]
        pairs = jnp.stack([jnp.broadcast_to(p_arm[:, :1], p_arm.shape), p_arm], axis=-1)  # [2, L, 2]: (passive, level l)
        index = jax.vmap(
            lambda p: whittle_index_two_action(p, weight, gamma, bisection_steps, value_iterations), in_axes=1, out_axes=1
        )(pairs)
        return index.at[:, 0].set(0.0)  # [2, L]

    return jax.vmap(per_arm)(problem.transitions, problem.weights)


_whittle_indices_jit = jax.jit(whittle_indices, static_argnums=(2, 3))


def whittle_init(key, spec, config: WhittleConfig) -> RestlessAgentState:
    problem = _check_problem(config, "whittle")
    _check_spec(spec, problem, "whittle")
    validate_config(config, {"gamma": lambda g: (g >= 0) & (g < 1)})
    table = _whittle_indices_jit(problem, config.gamma, config.bisection_steps, config.value_iterations)
    return RestlessAgentState(problem, table, config)


def whittle_act(state, obs, mask, key, deterministic=False):
    return select(_at_states(state.table, arm_states(obs)), state.problem, state.config.selector)


# --- per-arm Q-learning with a combinatorial step ---------------------------------------
def _q_init(name):
    def init(key, spec, config: QConfig) -> RestlessAgentState:
        problem = _check_problem(config, name)
        _check_spec(spec, problem, name)
        validate_config(config, {
            "gamma": lambda g: (g >= 0) & (g < 1),
            "learning_rate": lambda a: (a > 0) & (a <= 1),
            "epsilon": lambda e: (e >= 0) & (e <= 1),
        })
        if name == "sampling" and config.num_samples < 1:
            raise ValueError(f"sampling: config.num_samples must be >= 1, got {config.num_samples}")
        return RestlessAgentState(problem, jnp.zeros_like(problem.transitions), config)

    return init


def best_of_samples(key, values: Array, problem: RestlessProblem, num_samples: int) -> Array:
    """The best of `num_samples` random feasible joint actions by `values`."""
    return combinatorial.best_of_random(key, lambda a: combinatorial.objective(values, a), problem.constraints, num_samples)


def q_act(state, obs, mask, key, deterministic=False):
    k_explore, k_random, k_samples = jax.random.split(key, 3)
    values = _at_states(state.table, arm_states(obs))
    config = state.config
    if config.num_samples > 0:
        chosen = best_of_samples(k_samples, values, state.problem, config.num_samples)
    else:
        chosen = select(values, state.problem, config.selector)
    explore = jax.random.bernoulli(k_explore, config.epsilon) & jnp.logical_not(deterministic)
    return jnp.where(explore, combinatorial.random_feasible(k_random, state.problem.constraints), chosen)


def q_update(state: RestlessAgentState, batch: Transition, key) -> tuple[RestlessAgentState, dict]:
    """One averaged TD step on every visited (arm, state, level) cell. Each arm's target is
    its own reward plus its discounted Q at the next state under the *joint* constrained
    greedy action there: y_i = w_i s'_i + gamma Q_i(s'_i, a*_i(s')). batch: Transition [B]."""
    q, problem, config = state.table, state.problem, state.config
    states, next_states = arm_states(batch.obs), arm_states(batch.next_obs)  # [B, N]
    levels = batch.action.astype(jnp.int32)  # [B, N]
    arm_rewards = problem.weights[None, :] * next_states  # [B, N]
    next_levels = jax.vmap(lambda s: select(_at_states(q, s), problem, config.selector))(next_states)
    arms = jnp.arange(problem.num_arms)[None, :]
    bootstrap = 1.0 - batch.terminated.astype(jnp.float32)[:, None]
    target = arm_rewards + config.gamma * bootstrap * q[arms, next_states, next_levels]
    td = target - q[arms, states, levels]  # [B, N]
    arms_b = jnp.broadcast_to(arms, td.shape)
    td_sum = jnp.zeros_like(q).at[arms_b, states, levels].add(td)
    visits = jnp.zeros_like(q).at[arms_b, states, levels].add(1.0)
    q = q + config.learning_rate * td_sum / jnp.maximum(visits, 1.0)
    return state.replace(table=q), {"td_error": jnp.abs(td).mean()}


AGENTS = (
    Agent("restless_null", "restless", PlannerConfig, _planner_init("null"), null_act, _no_update,
          description="Coupled restless bandit: never act"),
    Agent("restless_random", "restless", PlannerConfig, _planner_init("random"), random_act, _no_update,
          description="Coupled restless bandit: random feasible joint action"),
    Agent("restless_myopic", "restless", PlannerConfig, _planner_init("myopic"), myopic_act, _no_update,
          description="Coupled restless bandit: next-step reward, one pass in fixed order"),
    Agent("restless_iterative_myopic", "restless", PlannerConfig, _planner_init("iterative_myopic"), iterative_myopic_act,
          _no_update, description="Coupled restless bandit: next-step reward, greedy re-checking feasibility"),
    Agent("restless_whittle", "restless", WhittleConfig, whittle_init, whittle_act, _no_update,
          description="Coupled restless bandit: Whittle indices + combinatorial step"),
    Agent("restless_q", "restless", QConfig, _q_init("q_learning"), q_act, q_update,
          description="Coupled restless bandit: per-arm tabular Q + knapsack/greedy joint action"),
    Agent("restless_sampling", "restless", SamplingConfig, _q_init("sampling"), q_act, q_update,
          description="Coupled restless bandit: learned per-arm Q, best of K random feasible actions"),
)

for _agent in AGENTS:
    register(_agent)
