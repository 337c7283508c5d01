"""Coupled restless bandits as the coRMAB paper's code builds them, and SEQUOIA's learner.

Xu, Wilder, Khalil and Tambe, "Reinforcement learning with combinatorial actions for coupled
restless bandits" (ICLR 2025); the authors' code: lily-x/combinatorial-rmab @ 895a382
(the sources named below are paths in that repository).

An instance (`CoupledProblem`) has J arms with 4 states each. Every step each arm moves up
one state with probability p_j (else down one; the chain is clipped to 0..3), and p_j
depends on the joint action. The joint action is a per-unit level `int32[U]` under
`combinatorial.Constraints` (what makes it feasible): a unit is an intervention (the
sigmoid domain: U = number of interventions, 2 levels) or an arm (capacity domain: U = J,
level = which worker pulls it, 0 = none). The step's reward is the *expected* reward of the
next state, sum_j p_j r_j(min(s_j+1, 3)) + (1 - p_j) r_j(max(s_j-1, 0)), as the authors'
environments return it (environment/base_envs.py), so it is a known function of (s, a):
`expected_reward`. Rewards are not monotone in the state (r_j = [.2, .15, .1, R] for a few
arms), which is what makes one-step-greedy policies fail there.

Policies (each `act(problem, ..., states, key) -> levels`):

    null              no action (the all-passive levels)
    random            a random feasible joint action
    sampling          the best of K = 100 random feasible actions by next-step expected reward
                      (algos/baselines.py)
    myopic            the maximiser of next-step expected reward (the authors solve a MILP;
                      here exact by enumerating the feasible set where it is small,
                      `exact_myopic_action`, else the local search below)
    iterative_myopic  greedy: add the unit (and level) with the best gain in next-step
                      expected reward while one improves it and fits (algos/baselines.py)
    Whittle           (arm domains only; not in the authors' code) each arm's Whittle index
                      at its state, the arms of highest positive index that fit
    SEQUOIA           a Q-network over the joint (state, action), its argmax over the
                      feasible set taken by `maximise` (training/cormab.py trains it)

SEQUOIA solves a MILP with the ReLU network embedded (Gurobi, model2mip/net2mip.py). A MILP
solver cannot run inside `jit`, so `maximise` is a best-improvement local search from K
random feasible starts: each round evaluates every feasible single-unit level change and
every swap of two units' levels and moves to the best. `milp_argmax` solves the same
problem exactly on the host (scipy's HiGHS, big-M ReLU encoding with interval bounds) for
measuring the local search's optimality gap; it is not used in training.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_actions import combinatorial
from jaxrl_actions.agents.restless import index_by_bisection
from jaxrl_actions.combinatorial import Constraints
from jaxrl_actions.types import Array

NUM_STATES = 4  # environment/base_envs.py MultiStateRMAB


@struct.dataclass
class CoupledProblem:
    """One coRMAB instance: what a planner may know (dynamics, rewards, constraints)."""

    constraints: Constraints  # over the action's units
    rewards: Array  # float32[J, 4] reward of each arm's next state
    passive_up: Array  # float32[J] P(up) of an arm nobody pulls (direct link)
    active_up: Array  # float32[J] P(up) of a pulled arm (direct link)
    reach: Array  # float32[J, U] sigmoid link: intervention u's weight on arm j
    amplitude: Array  # float32[J] sigmoid link: 0.98 * amplitude is the largest rise of P(up)
    slope: Array  # float32[J]
    midpoint: Array  # float32[J]
    link: str = struct.field(pytree_node=False, default="direct")
    budget: int = struct.field(pytree_node=False, default=1)  # B: interventions or workers
    # SEQUOIA's maximiser takes exactly B acting units, not at most B (the authors' MILP for
    # the multi-action domain: approximator/multi_action_rmab_approximator.py, sum(actions) == budget)
    exact_budget: bool = struct.field(pytree_node=False, default=False)

    @property
    def num_arms(self) -> int:
        return self.rewards.shape[0]

    @property
    def num_units(self) -> int:
        return self.constraints.num_arms

    @property
    def num_levels(self) -> int:
        return self.constraints.num_levels


def up_probability(problem: CoupledProblem, levels: Array) -> Array:
    """P(each arm moves up) float32[J] under the joint action `levels` int32[U]."""
    acted = (levels > 0).astype(jnp.float32)
    if problem.link == "direct":
        return jnp.where(acted > 0, problem.active_up, problem.passive_up)
    # environment/multi_action.py, link_type="sigmoid": x_j = sum_u w_ju a_u
    x = problem.reach @ acted
    rise = jax.nn.sigmoid(problem.slope * x - problem.midpoint) - jax.nn.sigmoid(-problem.midpoint)
    return 0.98 * problem.amplitude * rise + 0.01


def next_states(states: Array) -> tuple[Array, Array]:
    """(state after moving up, state after moving down) int32[J] each."""
    return jnp.minimum(states + 1, NUM_STATES - 1), jnp.maximum(states - 1, 0)


def expected_reward(problem: CoupledProblem, states: Array, levels: Array) -> Array:
    """float32[]: the expected reward of the next state, the step's reward."""
    up = up_probability(problem, levels)
    above, below = next_states(states)
    arms = jnp.arange(problem.num_arms)
    return jnp.sum(up * problem.rewards[arms, above] + (1.0 - up) * problem.rewards[arms, below])


def step_arms(key: Array, problem: CoupledProblem, states: Array, levels: Array) -> Array:
    up = up_probability(problem, levels)
    above, below = next_states(states)
    return jnp.where(jax.random.bernoulli(key, up), above, below)


def pulls(levels: Array) -> Array:
    """The action as the Q-network sees it: float32[U], 1 where a unit acts (dqn_estimator.py)."""
    return (levels > 0).astype(jnp.float32)


# --- local search over the feasible set -----------------------------------------------------
def _level_changes(levels: Array, num_levels: int) -> Array:
    """int32[U, L, U]: `levels` with unit u set to level l, for every (u, l)."""
    u, ls = jnp.arange(levels.shape[0]), jnp.arange(num_levels)
    return jnp.broadcast_to(levels, (u.shape[0], num_levels, u.shape[0])).at[u[:, None], ls[None, :], u[:, None]].set(ls[None, :])


def _neighbours(levels: Array, num_levels: int) -> Array:
    """Every single-unit level change and every swap of two units' levels: int32[M, U]."""
    u = levels.shape[0]
    set_one = _level_changes(levels, num_levels).reshape(u * num_levels, u)
    i, j = np.triu_indices(u, k=1)
    swapped = jnp.broadcast_to(levels, (len(i), u))
    swapped = swapped.at[np.arange(len(i)), i].set(levels[j]).at[np.arange(len(i)), j].set(levels[i])
    return jnp.concatenate([set_one, swapped])


def local_search(score: Callable[[Array], Array], start: Array, constraints: Constraints, rounds: int) -> Array:
    """Best-improvement hill climbing from a feasible `start` for `rounds` moves."""

    def move(_, levels):
        candidates = _neighbours(levels, constraints.num_levels)
        ok = jax.vmap(lambda a: combinatorial.feasible(a, constraints))(candidates)
        values = jnp.where(ok, jax.vmap(score)(candidates), -jnp.inf)
        best = jnp.argmax(values)
        return jnp.where(values[best] > score(levels), candidates[best], levels)

    return jax.lax.fori_loop(0, rounds, move, start)


def maximise(score: Callable[[Array], Array], key: Array, constraints: Constraints, starts: int, rounds: int) -> Array:
    """A feasible joint action with a high `score`: the best local optimum reached from
    `starts` random feasible actions."""
    begin = jax.vmap(lambda k: combinatorial.random_feasible(k, constraints))(jax.random.split(key, starts))
    ends = jax.vmap(lambda a: local_search(score, a, constraints, rounds))(begin)
    return ends[jnp.argmax(jax.vmap(score)(ends))]


# --- the baselines ---------------------------------------------------------------------------
def null_action(problem: CoupledProblem) -> Array:
    return jnp.zeros(problem.num_units, jnp.int32)


def random_action(problem: CoupledProblem, states: Array, key: Array) -> Array:
    return combinatorial.random_feasible(key, problem.constraints)


def sampling_action(problem: CoupledProblem, states: Array, key: Array, samples: int = 100) -> Array:
    """Best of `samples` random feasible actions by next-step expected reward (baselines.py: 100)."""
    return combinatorial.best_of_random(key, lambda a: expected_reward(problem, states, a), problem.constraints, samples)


def greedy_add(score: Callable[[Array], Array], constraints: Constraints, start: Array) -> Array:
    """From `start`, adds the feasible (unit, level) with the largest gain in `score`,
    given what is already chosen, until none improves it (algos/baselines.py's iterative
    procedures)."""
    c = constraints

    def add_best(_, chosen):
        moves = _level_changes(chosen, c.num_levels)
        gains = jax.vmap(jax.vmap(score))(moves) - score(chosen)
        gains = jnp.where(combinatorial.addable(chosen, c) & (gains > 0), gains, -jnp.inf).reshape(-1)
        best = jnp.argmax(gains)
        return jnp.where(jnp.isfinite(gains[best]), moves.reshape(-1, c.num_arms)[best], chosen)

    return jax.lax.fori_loop(0, c.num_arms, add_best, start)


def iterative_myopic_action(problem: CoupledProblem, states: Array, key: Array) -> Array:
    return greedy_add(lambda a: expected_reward(problem, states, a), problem.constraints, null_action(problem))


def myopic_search_action(problem: CoupledProblem, states: Array, key: Array, search: "SearchSettings") -> Array:
    """The myopic policy where its feasible set is too large to enumerate: the local search
    on next-step expected reward (approximate where the authors solve a MILP)."""
    return maximise(lambda a: expected_reward(problem, states, a), key, problem.constraints, search.starts, search.rounds)


# --- Whittle index (arm domains: each arm is pulled or not, with its own P(up)) -----------
def _arm_q(up: Array, rewards: Array, subsidy: Array, gamma: float, iterations: int) -> Array:
    """Q[s, a] float32[4, 2] of one arm choosing passive (a = 0, paid `subsidy`) or pulled,
    by value iteration; up[a] = P(up | a); the step's reward is the expected next reward."""
    states = jnp.arange(NUM_STATES)
    above, below = next_states(states)
    reward = up[None, :] * rewards[above][:, None] + (1.0 - up[None, :]) * rewards[below][:, None]
    reward = reward + jnp.stack([subsidy, 0.0])[None, :]

    def q_of(value):
        return reward + gamma * (up[None, :] * value[above][:, None] + (1.0 - up[None, :]) * value[below][:, None])

    value = jax.lax.fori_loop(0, iterations, lambda _, v: q_of(v).max(axis=1), jnp.zeros(NUM_STATES))
    return q_of(value)


def whittle_indices(problem: CoupledProblem, gamma: float = 0.99, bisection_steps: int = 30, iterations: int = 500) -> Array:
    """float32[J, 4]: each arm's Whittle index per state, the passive subsidy at which
    pulling and not pulling are equally good (bisection; assumes indexability). Only for
    the direct link, where an arm's dynamics depend on whether it is pulled alone."""
    if problem.link != "direct":
        raise ValueError(f"Whittle indices need arms whose P(up) depends on their own pull only; link={problem.link!r}")
    bound = 2.0 * jnp.abs(problem.rewards).max() / (1.0 - gamma) + 1.0

    def per_arm(up, rewards):
        return index_by_bisection(lambda subsidy: _arm_q(up, rewards, subsidy, gamma, iterations),
                                  NUM_STATES, bound, bisection_steps)

    return jax.vmap(per_arm)(jnp.stack([problem.passive_up, problem.active_up], axis=-1), problem.rewards)


def whittle_action(problem: CoupledProblem, indices: Array, states: Array) -> Array:
    """Pull the arms of highest positive index that fit (any worker level): the constraints'
    greedy on the per-arm values index[j, s_j]."""
    index = indices[jnp.arange(problem.num_arms), states]
    values = jnp.concatenate([jnp.zeros((problem.num_arms, 1)),
                              jnp.repeat(index[:, None], problem.num_levels - 1, axis=1)], axis=1)
    return combinatorial.greedy(values, problem.constraints)


def exact_myopic_action(problem: CoupledProblem, states: Array, feasible_actions: Array) -> Array:
    """The myopic policy's MILP solved exactly by enumeration over `feasible_actions`
    (`combinatorial.feasible_joint_actions(problem.constraints)`)."""
    values = jax.vmap(lambda a: expected_reward(problem, states, a))(feasible_actions)
    return feasible_actions[jnp.argmax(values)]


# --- SEQUOIA's Q-network ---------------------------------------------------------------------
class QNetwork(nn.Module):
    """Q(s, a) from the concatenation [a, s] (algos/dqn_estimator.py: 16 -> 32 -> 1, ReLU)."""

    hidden: tuple = (16, 32)

    @nn.compact
    def __call__(self, action_features: Array, states: Array) -> Array:
        x = jnp.concatenate([action_features, states.astype(jnp.float32)], axis=-1)
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(1)(x)[..., 0]


class SearchSettings(NamedTuple):
    starts: int = 4  # random feasible starts of the local search
    rounds: int = 6  # best-improvement moves from each start


def q_argmax(network: QNetwork, params, problem: CoupledProblem, states: Array, key: Array, search: SearchSettings) -> Array:
    """The local search's argmax of the network over the feasible joint actions (those
    with exactly `budget` acting units where `problem.exact_budget`: from full random
    starts, only swaps keep that count, every other move scores -inf)."""
    def score(a):
        q = network.apply(params, pulls(a), states)
        return jnp.where(jnp.sum(a > 0) == problem.budget, q, -jnp.inf) if problem.exact_budget else q

    return maximise(score, key, problem.constraints, search.starts, search.rounds)


# --- exact argmax of the ReLU network on the host (for the optimality gap) ------------------
def milp_argmax(layers: list, problem: CoupledProblem, states: np.ndarray) -> tuple[np.ndarray, float]:
    """(levels, value): the exact maximiser of the ReLU network over the feasible joint
    actions, by scipy's HiGHS. `layers` is [(kernel, bias), ...] of the Dense layers.

    Variables: one binary x[u, l] per (unit, level) with sum_l x[u, l] = 1; the network's
    action input is a_u = sum_{l >= 1} x[u, l]. Each hidden unit is the big-M encoding
    h = relu(z): h >= z, h >= 0, h <= z - lo (1 - d), h <= hi d with a binary d, the bounds
    lo/hi from interval arithmetic over a in [0, 1]. Budget, capacity and packing
    constraints are linear in x. Route and walk constraints are not encoded (ValueError)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    c = problem.constraints
    if c.route or c.walk_slots > 0:
        raise ValueError("milp_argmax does not encode route or walk constraints")
    u, levels = c.num_arms, c.num_levels
    allowed, costs = np.asarray(c.allowed), np.asarray(c.costs)
    load, capacity = np.asarray(c.load), np.asarray(c.capacity)
    n_x = u * levels
    widths = [np.asarray(w).shape[1] for w, _ in layers[:-1]]
    n_vars = n_x + 2 * sum(widths)  # x, then per hidden layer: h (continuous) and d (binary)
    rows, lower, upper = [], [], []

    def add(row, lo, hi):
        rows.append(row), lower.append(lo), upper.append(hi)

    for i in range(u):  # one level per unit
        row = np.zeros(n_vars)
        row[i * levels:(i + 1) * levels] = 1
        add(row, 1, 1)
    row = np.zeros(n_vars)
    row[:n_x] = costs.reshape(-1)
    add(row, -np.inf, float(c.budget) + 1e-6)
    for lev in range(1, levels):
        if np.isfinite(capacity[lev]):
            row = np.zeros(n_vars)
            row[np.arange(u) * levels + lev] = load[:, lev]
            add(row, -np.inf, float(capacity[lev]) + 1e-6)
    # whether unit u acts, a_u = sum_{l>=1} x[u, l]: the network's action input and what the
    # exact-budget and packing rows count
    act_of_x = np.zeros((u, n_x))
    for i in range(u):
        act_of_x[i, i * levels + 1:(i + 1) * levels] = 1
    if problem.exact_budget:  # exactly B acting units
        add(np.pad(act_of_x.sum(axis=0), (0, n_vars - n_x)), problem.budget, problem.budget)
    for coefficients, limit in zip(np.asarray(c.packing), np.asarray(c.packing_limit)):
        add(np.pad(coefficients @ act_of_x, (0, n_vars - n_x)), -np.inf, float(limit) + 1e-6)
    states = np.asarray(states, np.float64)
    prev_expr = None  # previous layer's outputs as (matrix over variables)
    prev_lo, prev_hi = np.zeros(u), np.ones(u)
    offset = n_x
    for k, (kernel, bias) in enumerate(layers):
        kernel, bias = np.asarray(kernel, np.float64), np.asarray(bias, np.float64)
        if k == 0:
            w_act, w_state = kernel[:u], kernel[u:]
            const = bias + states @ w_state
            expr = w_act.T @ act_of_x  # [width, n_vars]
            expr = np.pad(expr, ((0, 0), (0, n_vars - n_x)))
            lo = const + np.minimum(w_act, 0).sum(0)
            hi = const + np.maximum(w_act, 0).sum(0)
        else:
            const = bias
            expr = kernel.T @ prev_expr
            lo = const + np.minimum(kernel, 0).T @ prev_hi + np.maximum(kernel, 0).T @ prev_lo
            hi = const + np.maximum(kernel, 0).T @ prev_hi + np.minimum(kernel, 0).T @ prev_lo
        if k == len(layers) - 1:
            objective, objective_const = expr[0], const[0]
            break
        width = kernel.shape[1]
        h_idx, d_idx = offset + np.arange(width), offset + width + np.arange(width)
        for n in range(width):  # h >= z;  h <= z - lo (1 - d);  h <= hi d
            row = -expr[n].copy()
            row[h_idx[n]] += 1
            add(row, const[n], np.inf)
            row = -expr[n].copy()
            row[h_idx[n]] += 1
            row[d_idx[n]] -= lo[n]
            add(row, -np.inf, const[n] - lo[n])
            row = np.zeros(n_vars)
            row[h_idx[n]] = 1
            row[d_idx[n]] = -max(hi[n], 0.0)
            add(row, -np.inf, 0.0)
        prev_expr = np.zeros((width, n_vars))
        prev_expr[np.arange(width), h_idx] = 1
        prev_lo, prev_hi = np.maximum(lo, 0), np.maximum(hi, 0)
        offset += 2 * width
    integrality = np.ones(n_vars)
    var_lo, var_hi = np.zeros(n_vars), np.ones(n_vars)
    var_hi[:n_x] = allowed.reshape(-1).astype(float)
    offset = n_x
    for width in widths:
        integrality[offset:offset + width] = 0
        var_hi[offset:offset + width] = np.inf
        offset += 2 * width
    result = milp(-objective, constraints=LinearConstraint(np.array(rows), lower, upper),
                  integrality=integrality, bounds=Bounds(var_lo, var_hi))
    if not result.success:
        raise RuntimeError(f"HiGHS found no solution: {result.message}")
    x = np.round(result.x[:n_x]).reshape(u, levels)
    return x.argmax(axis=1).astype(np.int32), float(-result.fun + objective_const)
