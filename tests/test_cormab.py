"""coRMAB (4-state arms) and SEQUOIA: dynamics against hand computations, the sigmoid
instance structure of the authors' code, the local search and MILP against enumeration,
Whittle indices, the warm start, and the env's feasibility handling."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.cormab import INFEASIBLE_ACTION, TIMESLOTS, hall_rows, sample_capacity, sample_scheduling, sample_sigmoid, scheduling_availability
from jaxrl_actions import combinatorial
from jaxrl_actions.agents import cormab as C
from jaxrl_actions.training import cormab as T


def _direct_problem(passive, active, rewards, costs, capacity):
    """A capacity-domain problem from explicit numbers (workers = len(capacity))."""
    n, workers = len(passive), len(capacity)
    cost = jnp.asarray(costs, jnp.float32)
    load = jnp.concatenate([jnp.zeros((n, 1)), jnp.repeat(cost[:, None], workers, axis=1)], axis=1)
    constraints = combinatorial.make_constraints(jnp.zeros((n, workers + 1)), jnp.inf, load=load,
                                                 capacity=jnp.concatenate([jnp.full(1, jnp.inf), jnp.asarray(capacity, jnp.float32)]))
    zeros = jnp.zeros(n)
    return C.CoupledProblem(constraints, jnp.asarray(rewards, jnp.float32), jnp.asarray(passive, jnp.float32),
                            jnp.asarray(active, jnp.float32), jnp.zeros((n, n)), zeros, zeros, zeros, "direct", workers)


def test_expected_reward_and_moves_follow_the_birth_death_chain():
    problem = _direct_problem([0.1, 0.2], [0.8, 0.9], [[0.2, 0.15, 0.1, 5.0], [0.1, 0.15, 0.2, 2.0]], [2, 3], [5])
    states, levels = jnp.array([0, 3]), jnp.array([1, 0])
    # arm 0 pulled at state 0: up to 1 w.p. 0.8 (0.15), else stays at 0 (0.2);
    # arm 1 passive at state 3: stays at 3 w.p. 0.2 (2.0), else down to 2 (0.2)
    hand = 0.8 * 0.15 + 0.2 * 0.2 + 0.2 * 2.0 + 0.8 * 0.2
    assert float(C.expected_reward(problem, states, levels)) == pytest.approx(hand, rel=1e-6)
    moved = jax.vmap(lambda k: C.step_arms(k, problem, states, levels))(jax.random.split(jax.random.key(0), 4000))
    assert set(np.unique(moved[:, 0]).tolist()) == {0, 1} and set(np.unique(moved[:, 1]).tolist()) == {2, 3}
    assert float(jnp.mean(moved[:, 0] == 1)) == pytest.approx(0.8, abs=0.03)


def test_sigmoid_instances_have_the_authors_structure():
    num_arms, budget, interventions = 20, 5, 10
    problem = sample_sigmoid(jax.random.key(3), num_arms, budget, interventions)
    reach = np.asarray(problem.reach)
    assert set(np.unique(reach).tolist()) == {0.0, 3.0}
    assert np.all((reach > 0).sum(axis=0) == 3)  # every intervention reaches 3 arms
    first_good = 10  # ceil(J B / N)
    acts_on_good = (reach[first_good:] > 0).any(axis=0)
    assert acts_on_good.sum() == budget and not np.any((reach[:first_good] > 0)[:, acts_on_good])
    # the good interventions: one triple sharing its 3 arms, two reaching 3 fresh arms each
    good_sets = sorted(tuple(np.flatnonzero(reach[:, u])) for u in np.flatnonzero(acts_on_good))
    assert sorted(good_sets.count(s) for s in set(good_sets)) == [1, 1, 3]
    assert len(set().union(*map(set, good_sets))) == 9
    # P(up): the authors' link, 0.98 a (sigmoid(b x - x0) - sigmoid(-x0)) + 0.01
    action = np.zeros(interventions, np.int32)
    action[np.flatnonzero(acts_on_good)[:3]] = 1
    x = reach @ action
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    a, b, x0 = (np.asarray(v, np.float64) for v in (problem.amplitude, problem.slope, problem.midpoint))
    np.testing.assert_allclose(C.up_probability(problem, jnp.asarray(action)), 0.98 * a * (sig(b * x - x0) - sig(-x0)) + 0.01, rtol=1e-5)
    np.testing.assert_allclose(C.up_probability(problem, jnp.zeros(interventions, jnp.int32)), 0.01, rtol=1e-5)
    # rewards: the first B arms pay most at state 3 and less the higher they are below it
    rewards = np.asarray(problem.rewards)
    np.testing.assert_allclose(rewards[:budget, :3], [[0.2, 0.15, 0.1]] * budget)
    assert np.all(np.isin(rewards[:budget, 3], [4, 5, 6])) and np.all(np.isin(rewards[budget:, 3], [1, 2, 3]))


@pytest.fixture(scope="module")
def small_capacity():
    return sample_capacity(jax.random.key(7), 5, 2, 1)  # 5 arms, 2 workers: 3^5 assignments


def test_shortest_closed_walk_matches_brute_force_over_visiting_orders():
    import itertools

    problem = envs.make("cormab_path", num_arms=9, budget=3).sample_params(jax.random.key(5)).problem
    c = problem.constraints
    hops = np.asarray(c.walk_distances)
    walk = jax.jit(lambda a: combinatorial.shortest_closed_walk(a, c))
    feasible = jax.jit(lambda a: combinatorial.feasible(a, c))
    for acted in itertools.combinations(range(9), 3):
        tours = [hops[0, p[0]] + sum(hops[a, b] for a, b in zip(p, p[1:])) + hops[p[-1], 0] for p in itertools.permutations(acted)]
        mask = np.zeros(9, bool)
        mask[list(acted)] = True
        assert float(walk(jnp.asarray(mask))) == pytest.approx(min(tours))
        assert bool(feasible(jnp.asarray(mask, jnp.int32))) == (min(tours) <= 6)
    assert float(walk(jnp.ones(9, bool))) == np.inf  # more pulled arms than slots
    # `addable` agrees with `feasible` on every single addition
    start = jnp.zeros(9, jnp.int32).at[int(np.argmax(hops[0] == 2))].set(1)
    added = jnp.where(jnp.eye(9, dtype=bool), 1, start[None, :])
    np.testing.assert_array_equal(combinatorial.addable(start, c)[:, 1] | (start > 0),
                                  jax.vmap(feasible)(added))


def test_local_search_and_exact_myopic_find_the_enumerated_optimum():
    problem = sample_sigmoid(jax.random.key(1), 8, 3, 6)
    feasible = jnp.asarray(combinatorial.feasible_joint_actions(problem.constraints))
    assert feasible.shape[0] == 1 + 6 + 15 + 20  # at most 3 of 6 interventions
    states = jax.random.randint(jax.random.key(2), (16, 8), 0, 4)
    best = jax.vmap(lambda s: jax.vmap(lambda a: C.expected_reward(problem, s, a))(feasible).max())(states)
    exact = jax.vmap(lambda s: C.expected_reward(problem, s, C.exact_myopic_action(problem, s, feasible)))(states)
    search = jax.vmap(lambda s, k: C.expected_reward(problem, s, C.myopic_search_action(problem, s, k, C.SearchSettings(4, 6))))(
        states, jax.random.split(jax.random.key(3), 16))
    np.testing.assert_allclose(exact, best, rtol=1e-6)
    np.testing.assert_allclose(search, best, rtol=1e-6)


def _servable(pulled, arm_slots, worker_slots) -> bool:
    """Whether every pulled arm gets two visits by (worker, slot) pairs free for both, each
    pair used once: a maximum bipartite matching of arm copies to pairs (the MIP's form)."""
    from scipy.optimize import linear_sum_assignment

    pairs = [(w, t) for w in range(worker_slots.shape[0]) for t in range(TIMESLOTS) if worker_slots[w, t]]
    copies = [j for j in np.flatnonzero(pulled) for _ in range(2)]
    if not copies:
        return True
    usable = np.array([[arm_slots[j, t] for (_, t) in pairs] for j in copies], dtype=float).reshape(len(copies), len(pairs))
    rows, cols = linear_sum_assignment(-usable)
    return int(usable[rows, cols].sum()) == len(copies)


def test_scheduling_feasibility_is_the_worker_slot_assignment():
    import itertools

    num_arms, workers = 8, 3
    blocked = 0
    for seed in range(3):
        arm_slots, worker_slots = (np.asarray(x) for x in scheduling_availability(jax.random.key(seed), num_arms, workers))
        assert np.all(arm_slots.sum(axis=1) == 2) and np.all(worker_slots.sum(axis=1) == 3)
        packing, limit = hall_rows(jnp.asarray(arm_slots), jnp.asarray(worker_slots))
        c = combinatorial.make_constraints(jnp.ones(num_arms), workers, packing=packing, packing_limit=limit)
        grid = np.array(list(itertools.product([0, 1], repeat=num_arms)), np.int32)
        ours = np.asarray(jax.vmap(lambda a: combinatorial.feasible(a, c))(jnp.asarray(grid)))
        truth = np.array([a.sum() <= workers and _servable(a, arm_slots, worker_slots) for a in grid])
        np.testing.assert_array_equal(ours, truth)
        blocked += int(np.sum(~truth & (grid.sum(axis=1) <= workers)))  # refused by the slots, not the budget
        # `addable` agrees with `feasible` on every single addition to every feasible action
        for start in grid[truth]:
            added = np.where(np.eye(num_arms, dtype=bool), 1, start[None, :])
            expected = ours[added @ (1 << np.arange(num_arms)[::-1])] & (start == 0)
            np.testing.assert_array_equal(np.asarray(combinatorial.addable(jnp.asarray(start), c))[:, 1], expected)
    assert blocked > 0


@pytest.mark.parametrize("domain", ["capacity", "scheduling", "sigmoid"])
def test_milp_and_local_search_find_the_enumerated_maximum_of_the_network(small_capacity, domain):
    problem = {"capacity": small_capacity, "scheduling": sample_scheduling(jax.random.key(4), 5, 3, 1),
               "sigmoid": sample_sigmoid(jax.random.key(1), 8, 3, 6)}[domain]
    units, arms = problem.num_units, problem.num_arms
    network = C.QNetwork((6, 4))
    params = network.init(jax.random.key(0), jnp.zeros(units), jnp.zeros(arms, jnp.int32))
    layers = [(params["params"][f"Dense_{i}"]["kernel"], params["params"][f"Dense_{i}"]["bias"]) for i in range(3)]
    feasible = combinatorial.feasible_joint_actions(problem.constraints)
    if problem.exact_budget:  # SEQUOIA's maximiser takes exactly B interventions there
        feasible = feasible[(feasible > 0).sum(axis=1) == problem.budget]
    feasible = jnp.asarray(feasible)
    search = jax.jit(lambda s, k: C.q_argmax(network, params, problem, s, k, C.SearchSettings(4, 6)))
    for seed in range(4):
        states = jax.random.randint(jax.random.key(10 + seed), (arms,), 0, 4)
        values = jax.vmap(lambda a: network.apply(params, C.pulls(a), states))(feasible)
        levels, value = C.milp_argmax(layers, problem, np.asarray(states))
        assert bool(combinatorial.feasible(jnp.asarray(levels), problem.constraints))
        assert value == pytest.approx(float(values.max()), abs=1e-5)
        assert float(network.apply(params, C.pulls(jnp.asarray(levels)), states)) == pytest.approx(value, abs=1e-5)
        found = search(states, jax.random.key(seed))
        assert any(np.array_equal(found, a) for a in np.asarray(feasible))  # in the maximiser's set
        assert float(network.apply(params, C.pulls(found), states)) <= value + 1e-5


def test_whittle_index_is_the_subsidy_that_makes_pulling_and_resting_tie():
    problem = _direct_problem([0.1], [0.8], [[0.1, 0.15, 0.2, 3.0]], [2], [5])
    indices = C.whittle_indices(problem)
    assert np.all(np.asarray(indices) > 0)  # pulling always helps an arm whose reward rises with its state
    for state in range(4):
        q = C._arm_q(jnp.array([0.1, 0.8]), problem.rewards[0], indices[0, state], 0.99, 500)
        assert float(q[state, 0]) == pytest.approx(float(q[state, 1]), abs=1e-2)
    with pytest.raises(ValueError, match="link='sigmoid'"):
        C.whittle_indices(sample_sigmoid(jax.random.key(0), 8, 3, 6))


def test_warm_start_fits_the_next_step_expected_reward(small_capacity):
    # a faster schedule than the authors' (their lr x0.9 per epoch stalls on so few pairs)
    config = T.SequoiaConfig(warm_epochs=30, random_warm_states=40, lr=3e-3, lr_decay=1.0)
    states, levels = T.warm_start_pairs(small_capacity, jax.random.key(0), config)
    # structured part: (2 + 2J) states x (10 random + 2 + 2U) actions; random part: (1 + 10 + 2 + 2U) per state
    assert states.shape[0] == 12 * 22 + 40 * 23 and levels.shape == (states.shape[0], 5)
    network = C.QNetwork(config.hidden)
    params = network.init(jax.random.key(1), jnp.zeros(5), jnp.zeros(5, jnp.int32))
    _, losses = jax.jit(lambda p, k: T.warm_start(network, p, small_capacity, states, levels, k, config))(params, jax.random.key(2))
    assert float(losses[-1]) < 0.1 * float(losses[0])


def test_env_replaces_an_infeasible_joint_action_by_the_null_action():
    env = envs.make("cormab_sigmoid", num_arms=8, budget=3, num_interventions=6)
    params = env.default_params
    state, _ = env.reset(jax.random.key(0), params)
    too_many = jnp.array([1, 1, 1, 1, 0, 0])
    _, ts = env.step(jax.random.key(1), state, too_many, params)
    assert bool(ts.info[INFEASIBLE_ACTION])
    assert float(ts.reward) == pytest.approx(float(C.expected_reward(params.problem, state.arms, jnp.zeros(6, jnp.int32))))
    _, ts = env.step(jax.random.key(1), state, jnp.array([1, 1, 1, 0, 0, 0]), params)
    assert not bool(ts.info[INFEASIBLE_ACTION])


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="unknown coRMAB domain 'paths'"):
        envs.make("cormab_sigmoid").__class__("paths")
    with pytest.raises(ValueError, match="num_interventions=2"):
        envs.make("cormab_sigmoid", budget=3, num_interventions=2)
    with pytest.raises(ValueError, match=r"packing must be float32\[K, 4\] .* got shapes \(2, 3\) and \(2,\)"):
        combinatorial.make_constraints(jnp.ones(4), 2, packing=jnp.ones((2, 3)), packing_limit=jnp.ones(2))
    with pytest.raises(ValueError, match="SequoiaConfig.episodes must be > 0, got 0"):
        T.SequoiaConfig(episodes=0).check()
    with pytest.raises(ValueError, match="selection='milp'"):
        T.q_selector(C.QNetwork(), sample_sigmoid(jax.random.key(0), 8, 3, 6), T.SequoiaConfig(), "milp")
