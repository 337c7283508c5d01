"""Coupled restless bandits with 4-state arms, as the coRMAB paper's code builds them
(Xu et al. 2025; lily-x/combinatorial-rmab @ 895a382). The dynamics, reward and policies
are in `jaxrl_actions.agents.cormab`; this module samples instances and wraps them as envs.

    cormab_sigmoid   multiple interventions (environment/multi_action.py, link "sigmoid"):
                     choose at most B of N interventions; each reaches 3 arms with weight 3,
                     and an arm's P(up) is a sigmoid of the summed weight it receives
    cormab_capacity  workers with capacities (environment/constrained.py): each arm is pulled
                     by at most one of B workers; worker i's arms' costs (2..6) sum to at
                     most its capacity (2..7)
    cormab_path      arms are graph nodes (environment/routing.py): at most B pulled arms,
                     all on one closed walk of at most 2B hops from a source node
    cormab_scheduling  workers and arms with time slots (environment/scheduling.py): at most
                     B pulled arms, each visited by two workers in time slots that both it and
                     the worker have free; a worker does one visit per slot

Arms (environment/rmab_instances.py multistate_rmab): 4 states; the first B arms reward
[.2, .15, .1, R] with R in {4, 5, 6} (state 3 pays, states 0-2 pay less the higher they
are, so lifting such an arm from the bottom costs reward first: a myopic policy never
starts); the others [.1, .15, .2, R] with R in {1, 2, 3}. In the capacity and path domains
each arm's P(up) is ~ U(0, .2) passive and ~ U(.7, .9) pulled.

Observation: float32[J], the arms' states (0..3). Action: `MultiBinary(N)` interventions
(sigmoid), `MultiDiscrete([B + 1] * J)` each arm's worker (capacity; 0 = none), or
`MultiBinary(J)` pulls (path, scheduling). The mask allows every level: feasibility is joint
(`feasible`); an infeasible joint action is replaced by the null action and flagged in
`info["infeasible_action"]`.
Reward: the expected reward of the next state (the authors' environments return it).
Reset: each arm in state 1 with probability `start_up` (0.5: the authors' training resets;
0.2: their evaluation), else 0. Truncation after `horizon` (20) steps; never terminates.
Defaults: J = 20 arms, B = 5, N = 10 interventions (the sigmoid setting in run.sh's comments).

Where this differs from the authors' code: the sigmoid domain's feasible set is "at most B"
interventions, as their env accepts (their iterative baselines stop below B); SEQUOIA's
maximiser takes exactly B there, as their MILP does (`CoupledProblem.exact_budget`); the
arms each intervention reaches are drawn at random from its group; the path domain's graph
is random (theirs: London tube subgraphs) and its feasibility is checked exactly by the
shortest closed walk through the pulled arms (their MILP unrolls the walk in time); the
scheduling domain checks feasibility by Hall's conditions on the time slots (their MILP
assigns worker-slot pairs; both accept the same pulls, see `sample_scheduling`).
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

import envs
from envs import time_limit_flags
from jaxrl_actions import combinatorial
from jaxrl_actions.agents.cormab import CoupledProblem, expected_reward, step_arms
from jaxrl_actions.environment import EnvParams, EnvSpec, Environment, scalar_timestep
from jaxrl_actions.spaces import Box, MultiBinary, MultiDiscrete
from jaxrl_actions.types import Array

INFEASIBLE_ACTION = "infeasible_action"  # info key: the joint action broke a constraint
REACH_WEIGHT = 3.0  # multi_action.py: every intervention-arm weight
ARMS_PER_INTERVENTION = 3


@struct.dataclass
class CoupledParams(EnvParams):
    problem: CoupledProblem
    start_up: Array  # float32[] P(an arm starts in state 1, else 0)


@struct.dataclass
class CoupledState:
    arms: Array  # int32[J] states 0..3
    time: Array  # int32[]


def _round_tenth(x):
    return jnp.round(x * 10.0) / 10.0


def sample_rewards(key, num_arms: int, budget: int) -> Array:
    """float32[J, 4]: the first `budget` arms [.2, .15, .1, R in {4,5,6}], the others
    [.1, .15, .2, R in {1,2,3}] (rmab_instances.py multistate_rmab)."""
    k_high, k_low = jax.random.split(key)
    top = jnp.where(jnp.arange(num_arms) < budget,
                    jax.random.randint(k_high, (num_arms,), 4, 7), jax.random.randint(k_low, (num_arms,), 1, 4))
    low = jnp.where((jnp.arange(num_arms) < budget)[:, None], jnp.array([0.2, 0.15, 0.1]), jnp.array([0.1, 0.15, 0.2]))
    return jnp.concatenate([low, top[:, None].astype(jnp.float32)], axis=1)


def _reach_slots(num_interventions: int) -> np.ndarray:
    """int[k, 3]: which of its group's arms (in the group's shuffled order) the k-th
    intervention of a group reaches: consecutive triples share 3 arms, the leftover ones
    each get 3 fresh arms (multi_action.py)."""
    triples = num_interventions // 3
    slots = []
    for k in range(num_interventions):
        base = 3 * (k // 3) if k < 3 * triples else 3 * triples + 3 * (k - 3 * triples)
        slots.append(np.arange(base, base + ARMS_PER_INTERVENTION))
    return np.array(slots, dtype=np.int32).reshape(num_interventions, ARMS_PER_INTERVENTION)


def sample_sigmoid(key, num_arms: int, budget: int, num_interventions: int) -> CoupledProblem:
    """Multiple interventions with a sigmoid link (multi_action.py): B random interventions
    are "good" and reach "good" arms (large, steep responses that need all 3 interventions
    of a triple: x = 9 against a midpoint of 9 or 10), the others "bad" ones (a response to
    one intervention, with a low ceiling)."""
    k_rew, k_split, k_good, k_bad, k_amp, k_slope, k_mid = jax.random.split(key, 7)
    first_good = math.ceil(num_arms * budget / num_interventions)
    good_arm = jnp.arange(num_arms) >= first_good
    amplitude = jnp.where(good_arm, _round_tenth(jax.random.uniform(k_amp, (num_arms,), minval=0.7, maxval=1.0)),
                          _round_tenth(jax.random.uniform(k_amp, (num_arms,), minval=0.2, maxval=0.5)))
    slope = jnp.where(good_arm, _round_tenth(jax.random.uniform(k_slope, (num_arms,), minval=1.4, maxval=1.9)), 1.0)
    midpoint = jnp.where(good_arm, jax.random.randint(k_mid, (num_arms,), 9, 11),
                         jax.random.randint(k_mid, (num_arms,), 1, 3)).astype(jnp.float32)
    order = jax.random.permutation(k_split, num_interventions)
    good_units, bad_units = order[:budget], order[budget:]
    reach = jnp.zeros((num_arms, num_interventions))
    for units, arms, k in ((good_units, np.arange(first_good, num_arms), k_good),
                           (bad_units, np.arange(first_good), k_bad)):
        if len(arms) == 0:
            continue
        shuffled = jnp.asarray(arms)[jax.random.permutation(k, len(arms))]
        slots = _reach_slots(units.shape[0]) % len(arms)
        reach = reach.at[shuffled[slots], units[:, None]].set(REACH_WEIGHT)
    constraints = combinatorial.make_constraints(jnp.ones(num_interventions), budget)
    zeros = jnp.zeros(num_arms)
    return CoupledProblem(constraints, sample_rewards(k_rew, num_arms, budget), zeros, zeros, reach,
                          amplitude, slope, midpoint, link="sigmoid", budget=budget, exact_budget=True)


def _multistate_arms(key, num_arms: int, budget: int):
    """(rewards, passive P(up) ~ U(0, .2), pulled P(up) ~ U(.7, .9)) (rmab_instances.py)."""
    k_rew, k_passive, k_active = jax.random.split(key, 3)
    return (sample_rewards(k_rew, num_arms, budget), jax.random.uniform(k_passive, (num_arms,), minval=0.0, maxval=0.2),
            jax.random.uniform(k_active, (num_arms,), minval=0.7, maxval=0.9))


def sample_capacity(key, num_arms: int, budget: int, num_interventions: int) -> CoupledProblem:
    """B workers with capacities U{2..7}; arm costs U{2..6}; P(up) U(0, .2) passive,
    U(.7, .9) pulled (constrained.py, rmab_instances.py)."""
    k_arms, k_cost, k_cap = jax.random.split(key, 3)
    rewards, passive, active = _multistate_arms(k_arms, num_arms, budget)
    cost = jax.random.randint(k_cost, (num_arms,), 2, 7).astype(jnp.float32)
    load = jnp.concatenate([jnp.zeros((num_arms, 1)), jnp.repeat(cost[:, None], budget, axis=1)], axis=1)
    capacity = jnp.concatenate([jnp.full(1, jnp.inf), jax.random.randint(k_cap, (budget,), 2, 8).astype(jnp.float32)])
    constraints = combinatorial.make_constraints(jnp.zeros((num_arms, budget + 1)), jnp.inf, load=load, capacity=capacity)
    zeros = jnp.zeros(num_arms)
    return CoupledProblem(constraints, rewards, passive, active, jnp.zeros((num_arms, num_arms)), zeros, zeros, zeros,
                          link="direct", budget=budget)


def hop_distances(adjacency: Array) -> Array:
    """float32[N, N] shortest-path hop counts (Floyd-Warshall; inf between components)."""
    n = adjacency.shape[0]
    hops = jnp.where(adjacency, 1.0, jnp.inf).at[jnp.arange(n), jnp.arange(n)].set(0.0)
    return jax.lax.fori_loop(0, n, lambda k, d: jnp.minimum(d, d[:, k][:, None] + d[k][None, :]), hops)


def sample_path(key, num_arms: int, budget: int, num_interventions: int) -> CoupledProblem:
    """Arms are the nodes of a graph; at most B pulled arms, all on one closed walk of at
    most 2B hops from node 0 (routing.py's path length and source for J = 20). The authors
    use subgraphs of the London tube map; here the graph is random: nodes in the unit square
    linked when closer than 0.3, plus a ring through all nodes so that it is connected."""
    k_arms, k_pos = jax.random.split(key)
    rewards, passive, active = _multistate_arms(k_arms, num_arms, budget)
    pos = jax.random.uniform(k_pos, (num_arms, 2))
    gap = jnp.abs(jnp.arange(num_arms)[:, None] - jnp.arange(num_arms)[None, :])
    adjacency = (jnp.linalg.norm(pos[:, None] - pos[None, :], axis=-1) < 0.3) | (gap == 1) | (gap == num_arms - 1)
    constraints = combinatorial.make_constraints(jnp.ones(num_arms), budget, adjacency=adjacency,
                                                 walk_distances=hop_distances(adjacency), walk_source=0,
                                                 walk_limit=2 * budget, walk_slots=budget)
    zeros = jnp.zeros(num_arms)
    return CoupledProblem(constraints, rewards, passive, active, jnp.zeros((num_arms, num_arms)), zeros, zeros, zeros,
                          link="direct", budget=budget)


TIMESLOTS = 5  # driver.py: SchedulingRMAB(rmab, n_timeslots=5)
ARM_SLOTS, WORKER_SLOTS = 2, 3  # scheduling.py: n_available per arm and per worker
VISITS_PER_ARM = 2  # scheduling.py's MIP: a pulled arm gets exactly two worker-slot visits


def scheduling_availability(key, num_arms: int, workers: int) -> tuple[Array, Array]:
    """(arm_slots bool[J, T], worker_slots bool[W, T]) (scheduling.py): slot popularity is
    drawn once and sorted, rising for arms and falling for workers; each arm is free in 2
    distinct slots and each worker in 3, drawn with those probabilities."""
    k_arm_p, k_worker_p, k_arms, k_workers = jax.random.split(key, 4)
    arm_p = jnp.sort(jax.random.uniform(k_arm_p, (TIMESLOTS,)))
    worker_p = jnp.sort(jax.random.uniform(k_worker_p, (TIMESLOTS,)))[::-1]

    def draw(k, p, count):
        picked = jax.random.choice(k, TIMESLOTS, (count,), replace=False, p=p / p.sum())
        return jnp.zeros(TIMESLOTS, bool).at[picked].set(True)

    arm_slots = jax.vmap(lambda k: draw(k, arm_p, ARM_SLOTS))(jax.random.split(k_arms, num_arms))
    worker_slots = jax.vmap(lambda k: draw(k, worker_p, WORKER_SLOTS))(jax.random.split(k_workers, workers))
    return arm_slots, worker_slots


def hall_rows(arm_slots: Array, worker_slots: Array) -> tuple[Array, Array]:
    """(packing float32[2^T - 1, J], limit float32[2^T - 1]): the pulls that a schedule can
    serve. A visit needs one worker free in one of the arm's slots, and any worker free in a
    slot can take any arm free in it, so the workers only matter through each slot's count of
    free workers c_s. Pulled arms, each needing 2 visits, can then be served exactly when, for
    every set S of slots, the arms free only within S need at most the visits S offers:
    2 |{pulled j : slots(j) within S}| <= sum_{s in S} c_s (Hall's theorem for this
    transportation problem); one packing row per non-empty S."""
    subsets = (np.arange(1, 1 << TIMESLOTS)[:, None] >> np.arange(TIMESLOTS)[None, :]) & 1  # [2^T - 1, T]
    subsets = jnp.asarray(subsets, bool)
    within = jnp.all(~arm_slots[None, :, :] | subsets[:, None, :], axis=-1)  # [S, J]: slots(j) within S
    free_workers = worker_slots.sum(axis=0).astype(jnp.float32)  # c_s
    return VISITS_PER_ARM * within.astype(jnp.float32), subsets.astype(jnp.float32) @ free_workers


def sample_scheduling(key, num_arms: int, budget: int, num_interventions: int) -> CoupledProblem:
    """B workers with 3 free slots of 5, arms with 2 (scheduling.py); at most B pulled arms,
    each visited twice by a worker free in one of its slots, one visit per worker and slot
    (the MIP of approximator/scheduling_approximator.py, as `hall_rows` encodes it). Arms as
    in the capacity domain."""
    k_arms, k_slots = jax.random.split(key)
    rewards, passive, active = _multistate_arms(k_arms, num_arms, budget)
    packing, limit = hall_rows(*scheduling_availability(k_slots, num_arms, budget))
    constraints = combinatorial.make_constraints(jnp.ones(num_arms), budget, packing=packing, packing_limit=limit)
    zeros = jnp.zeros(num_arms)
    return CoupledProblem(constraints, rewards, passive, active, jnp.zeros((num_arms, num_arms)), zeros, zeros, zeros,
                          link="direct", budget=budget)


class Domain(NamedTuple):
    sample: Callable  # (key, num_arms, budget, num_interventions) -> CoupledProblem
    num_units: Callable[[int, int], int]  # (num_arms, num_interventions) -> U
    num_levels: Callable[[int], int]  # budget -> L
    description: str


DOMAINS = {
    "sigmoid": Domain(sample_sigmoid, lambda arms, interventions: interventions, lambda b: 2,
                      "coRMAB (4-state arms): at most B of N interventions, sigmoid link to the arms they reach"),
    "capacity": Domain(sample_capacity, lambda arms, interventions: arms, lambda b: b + 1,
                       "coRMAB (4-state arms): arms assigned to B workers with capacities"),
    "path": Domain(sample_path, lambda arms, interventions: arms, lambda b: 2,
                   "coRMAB (4-state arms): at most B pulled arms on one closed walk of <= 2B hops from a source node"),
    "scheduling": Domain(sample_scheduling, lambda arms, interventions: arms, lambda b: 2,
                         "coRMAB (4-state arms): at most B pulled arms, each visited by two of B workers in shared "
                         "free time slots"),
}


def feasible(action: Array, params: CoupledParams) -> Array:
    return combinatorial.feasible(jnp.asarray(action, jnp.int32), params.problem.constraints)


class CoupledRestless(Environment):
    """See the module docstring."""

    def __init__(self, domain: str = "sigmoid", num_arms: int = 20, budget: int = 5, horizon: int = 20,
                 num_interventions: int = 10, start_up: float = 0.5):
        if domain not in DOMAINS:
            raise ValueError(f"unknown coRMAB domain {domain!r}; choose one of {sorted(DOMAINS)}")
        if num_arms < 2 or budget < 1 or horizon < 1 or num_interventions < budget or not 0.0 <= start_up <= 1.0:
            raise ValueError(
                "CoupledRestless needs num_arms >= 2, budget >= 1, horizon >= 1, num_interventions >= budget, "
                f"0 <= start_up <= 1; got num_arms={num_arms}, budget={budget}, horizon={horizon}, "
                f"num_interventions={num_interventions}, start_up={start_up}")
        self.domain, self.num_arms, self.budget, self.horizon = domain, int(num_arms), int(budget), int(horizon)
        self.num_interventions, self.start_up = int(num_interventions), float(start_up)
        self.num_units = DOMAINS[domain].num_units(self.num_arms, self.num_interventions)
        self.num_levels = DOMAINS[domain].num_levels(self.budget)

    def sample_params(self, key) -> CoupledParams:
        problem = DOMAINS[self.domain].sample(key, self.num_arms, self.budget, self.num_interventions)
        return CoupledParams(problem, jnp.float32(self.start_up))

    @property
    def default_params(self) -> CoupledParams:
        return self.sample_params(jax.random.key(0))

    @property
    def spec(self) -> EnvSpec:
        units, levels = self.num_units, self.num_levels
        action = MultiBinary(units) if levels == 2 else MultiDiscrete([levels] * units)
        return EnvSpec(Box(0.0, 3.0, (self.num_arms,)), action, self.horizon)

    def _mask(self) -> Array:
        return jnp.ones((self.num_units, 2), bool) if self.num_levels == 2 else jnp.ones(self.num_units * self.num_levels, bool)

    def _timestep(self, state, reward, infeasible, truncated=False):
        obs = state.arms.astype(jnp.float32)
        return scalar_timestep(obs, reward, False, truncated, self._mask(), {INFEASIBLE_ACTION: infeasible})

    def reset_env(self, key, params):
        state = CoupledState(jax.random.bernoulli(key, params.start_up, (self.num_arms,)).astype(jnp.int32), jnp.int32(0))
        return state, self._timestep(state, 0.0, jnp.bool_(False))

    def step_env(self, key, state, action, params):
        levels = jnp.asarray(action, jnp.int32)
        ok = feasible(levels, params)
        levels = jnp.where(ok, levels, 0)
        reward = expected_reward(params.problem, state.arms, levels)
        state = CoupledState(step_arms(key, params.problem, state.arms, levels), state.time + 1)
        _, truncated = time_limit_flags(state.time, False, self.horizon)
        return state, self._timestep(state, reward, ~ok, truncated)


def _factory(domain):
    return lambda **kwargs: CoupledRestless(domain, **kwargs)


for _domain, _spec in DOMAINS.items():
    envs.register(f"cormab_{_domain}", _factory(_domain), _spec.description)
