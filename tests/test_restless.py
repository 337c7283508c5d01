"""Coupled restless bandits, their agents and the combinatorial selection helpers
(envs/restless.py, agents/restless.py, jaxrl_actions/combinatorial.py)."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.restless import INFEASIBLE_ACTION, feasible
from jaxrl_actions import agents, combinatorial
from jaxrl_actions.agents.restless import whittle_index_two_action

DOMAINS = ("interventions", "path", "matching", "capacity")
# Together these exercise every selector: random_feasible, single_pass, greedy, knapsack.
CHECKED_AGENTS = ("restless_random", "restless_myopic", "restless_whittle", "restless_q")
# The route is where a greedy can go wrong (disconnected picks): check the rest there too.
EXTRA_ON_PATH = ("restless_iterative_myopic", "restless_sampling")


def test_whittle_index_of_a_hand_solved_arm():
    # Arm with reward 1 per step spent good (after the step), discount gamma = 1/2.
    #   good: stays good w.p. q = 1/2 whether acted on or not;  bad: passive stays bad,
    #   acting makes it good for sure. P(good next | s, a) = [[0, 1], [1/2, 1/2]].
    # Good state: acting changes nothing and forgoes the subsidy lambda, so its index is 0.
    # Bad state: at the index lambda both actions are optimal, so passive-forever is optimal
    #   from bad: V(bad) = lambda / (1 - gamma) = 2 lambda. In good (lambda >= 0, so passive):
    #   V(good) = lambda + q + gamma (q V(good) + (1 - q) V(bad))
    #           = lambda + 1/2 + V(good)/4 + lambda/2  =>  V(good) = 2 lambda + 2/3.
    #   Indifference in bad: lambda + gamma V(bad) = 1 + gamma V(good)
    #           => 2 lambda = 1 + lambda + 1/3  =>  lambda = 4/3.
    p_good = jnp.array([[0.0, 1.0], [0.5, 0.5]])
    index = jax.jit(whittle_index_two_action, static_argnums=(3, 4))(p_good, jnp.float32(1.0), 0.5, 40, 200)
    np.testing.assert_allclose(np.asarray(index), [4.0 / 3.0, 0.0], atol=1e-4)
    # The index scales with the reward weight (the whole problem does).
    scaled = jax.jit(whittle_index_two_action, static_argnums=(3, 4))(p_good, jnp.float32(3.0), 0.5, 40, 200)
    np.testing.assert_allclose(np.asarray(scaled), [4.0, 0.0], atol=1e-3)


def _brute_force_knapsack(values, costs, budget, allowed):
    n, levels = values.shape
    best = -np.inf
    for combo in itertools.product(range(levels), repeat=n):
        idx = np.arange(n), np.array(combo)
        if allowed[idx].all() and costs[idx].sum() <= budget:
            best = max(best, values[idx].sum())
    return best


def test_knapsack_dp_matches_brute_force():
    rng = np.random.default_rng(0)
    cases = 24
    n, levels, max_budget = 5, 3, 7
    values = rng.normal(size=(cases, n, levels)).astype(np.float32)
    costs = rng.integers(1, 4, size=(cases, n, levels))
    costs[:, :, 0] = 0
    allowed = rng.random((cases, n, levels)) < 0.8
    budgets = rng.integers(0, max_budget + 1, size=cases)
    solve = jax.jit(jax.vmap(lambda v, c, b, a: combinatorial.knapsack(v, c, b, max_budget, a)))
    picked = np.asarray(solve(values, costs, budgets, allowed))
    for case in range(cases):
        idx = np.arange(n), picked[case]
        allowed_case = allowed[case].copy()
        allowed_case[:, 0] = True
        assert allowed_case[idx].all() and costs[case][idx].sum() <= budgets[case]
        expected = _brute_force_knapsack(values[case], costs[case], budgets[case], allowed_case)
        np.testing.assert_allclose(values[case][idx].sum(), expected, rtol=1e-5, atol=1e-5)


def test_feasible_matches_definition_on_a_route():
    # Path graph 0 - 1 - 2 - 3; acting on {0, 2} is disconnected, {1, 2, 3} is a route.
    adjacency = np.zeros((4, 4), bool)
    for i in range(3):
        adjacency[i, i + 1] = adjacency[i + 1, i] = True
    c = combinatorial.make_constraints(jnp.ones(4), 3.0, adjacency=adjacency, route=True)
    check = jax.jit(jax.vmap(lambda a: combinatorial.feasible(a, c)))
    actions = jnp.array([[1, 0, 1, 0], [0, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 2, 0]])
    np.testing.assert_array_equal(np.asarray(check(actions)), [False, True, False, True, False])
    # greedy on values that prefer the two ends must still return a connected set
    values = jnp.stack([jnp.zeros(4), jnp.array([5.0, 0.1, 0.1, 5.0])], axis=1)
    picked = jax.jit(combinatorial.greedy)(values, c)
    assert bool(combinatorial.feasible(picked, c)) and int(picked.sum()) >= 2


@pytest.mark.parametrize("domain", DOMAINS)
def test_agents_respect_budget_and_coupling(domain):
    env = envs.make(f"restless_{domain}", num_arms=10, budget=5)
    params = env.sample_params(jax.random.key(11))
    num_states = 64
    states = jax.random.bernoulli(jax.random.key(1), 0.5, (num_states, env.num_arms)).astype(jnp.float32)
    names = CHECKED_AGENTS + (EXTRA_ON_PATH if domain == "path" else ())
    agent_list = [agents.get(name) for name in names]
    agent_states = []
    for agent in agent_list:
        config = agent.config_cls(problem=params.problem)
        if agent.name == "restless_sampling":
            config = config.replace(num_samples=3)
        state = agent.init(jax.random.key(0), env.spec, config)
        if agent.name in ("restless_q", "restless_sampling"):  # arbitrary learned values
            state = state.replace(table=jax.random.normal(jax.random.key(2), state.table.shape))
        agent_states.append(state)

    @jax.jit
    def all_actions(agent_states, key):
        keys = jax.random.split(key, num_states)
        out = []
        for agent, state in zip(agent_list, agent_states):
            actions = jax.vmap(lambda o, k: agent.act(state, o, None, k))(states, keys)
            out.append((actions, jax.vmap(lambda a: feasible(None, a, params))(actions)))
        return out

    for agent, (actions, ok) in zip(agent_list, all_actions(agent_states, jax.random.key(3))):
        assert np.asarray(ok).all(), f"{agent.name} chose an infeasible action on {domain}"
        assert actions.shape == (num_states, env.num_arms) and bool(env.spec.action_space.contains(actions[0]))
        if agent.name != "restless_random":
            assert np.asarray(actions).any(), f"{agent.name} never acts on {domain}"


def test_env_replaces_infeasible_actions_by_passive():
    env = envs.make("restless_interventions", num_arms=6, budget=2)
    params = env.default_params
    state, ts = env.reset(jax.random.key(0), params)
    too_much = jnp.full((6,), 3, jnp.int32)  # every intervention on every arm: over budget
    step = jax.jit(env.step)
    _, ts_bad = step(jax.random.key(1), state, too_much, params)
    _, ts_null = step(jax.random.key(1), state, jnp.zeros(6, jnp.int32), params)
    assert bool(ts_bad.info[INFEASIBLE_ACTION]) and not bool(ts_null.info[INFEASIBLE_ACTION])
    np.testing.assert_array_equal(np.asarray(ts_bad.obs), np.asarray(ts_null.obs))  # same key, same (passive) step
    with pytest.raises(ValueError, match="problem"):
        agent = agents.get("restless_whittle")
        agent.init(jax.random.key(0), env.spec, agent.config_cls())
    with pytest.raises(ValueError, match="unknown restless domain"):
        envs.restless.CoupledRestlessBandit("nope")
