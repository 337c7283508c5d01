"""Combinatorial envs (inventory, structured maze), grid neighbourhoods, DNC and Wolpertinger."""
import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.combinatorial import InventoryParams
from jaxrl_actions import neighbourhood as nb
from jaxrl_actions.agents import dnc, wolpertinger
from jaxrl_actions.training import make_train
from jaxrl_actions.training.evaluate import evaluate

TINY = dict(actor_hidden=(32,), critic_hidden=(32,))


# ---------------------------------------------------------------------------------------
# Inventory dynamics, by hand


def test_inventory_costs_by_hand():
    env = envs.make("inventory", M=2, K=3, capacity=10.0)
    params = InventoryParams(
        demand_mean=jnp.array([0.0, 0.0]), holding_cost=jnp.array([1.0, 2.0]), backorder_cost=jnp.array([5.0, 7.0]),
        minor_cost=jnp.array([2.0, 3.0]), major_cost=jnp.float32(10.0), order_step=jnp.float32(3.0))
    state, ts = env.reset(jax.random.key(0), params)
    state = state.replace(stock=jnp.array([1.0, -2.0]))
    # No demand: order 2 levels (6 units) of item 0 only -> stock [7, -2].
    state, ts = env.step(jax.random.key(1), state, jnp.array([2, 0], jnp.int32), params)
    np.testing.assert_allclose(state.stock, [7.0, -2.0])
    assert float(ts.reward) == pytest.approx(-(10.0 + 2.0 + 1.0 * 7 + 7.0 * 2))
    np.testing.assert_allclose(ts.obs, [0.7, -0.2], rtol=1e-6)
    # Nothing ordered: no fixed cost at all.
    state, ts = env.step(jax.random.key(2), state, jnp.array([0, 0], jnp.int32), params)
    assert float(ts.reward) == pytest.approx(-(1.0 * 7 + 7.0 * 2))
    # Both order: major once, both minors; stock beyond capacity is discarded (7 + 6 -> 10).
    state, ts = env.step(jax.random.key(3), state, jnp.array([2, 1], jnp.int32), params)
    np.testing.assert_allclose(state.stock, [10.0, 1.0])
    assert float(ts.reward) == pytest.approx(-(10.0 + 2.0 + 3.0 + 1.0 * 10 + 2.0 * 1))
    # Random demand: the step draws it with its own key, backorders cost per unit short.
    params = params.replace(demand_mean=jnp.array([4.0, 6.0]))
    key = jax.random.key(4)
    demand = np.asarray(env.sample_demand(key, params))
    state, ts = env.step(key, state, jnp.array([0, 0], jnp.int32), params)
    stock = np.array([10.0, 1.0]) - demand
    np.testing.assert_allclose(state.stock, np.maximum(stock, -10.0))
    cost = (np.array([1.0, 2.0]) * np.maximum(stock, 0) + np.array([5.0, 7.0]) * np.maximum(-stock, 0)).sum()
    assert float(ts.reward) == pytest.approx(-cost, rel=1e-6)
    assert not bool(ts.terminated)


def test_inventory_space_exceeds_1e20_and_bad_kwargs():
    space = envs.make("inventory", M=30, K=5).spec.action_space
    assert space.num_actions > 10**20
    with pytest.raises(ValueError, match="K=1"):
        envs.make("inventory", M=3, K=1)
    with pytest.raises(ValueError, match="N=1"):
        envs.make("structured_maze", N=1)


def test_maze_actuators_add_up():
    env = envs.make("structured_maze", N=4)  # directions: +x, +y, -x, -y
    state, _ = env.reset(jax.random.key(0))
    state = state.replace(position=jnp.array([0.5, 0.5]))
    moved, ts = env.step(jax.random.key(1), state, jnp.array([1, 1, 0, 0], jnp.int32))
    np.testing.assert_allclose(moved.position, 0.5 + 0.1 / np.sqrt(2), rtol=1e-5)  # diagonal, length 0.1
    still, _ = env.step(jax.random.key(1), state, jnp.array([1, 0, 1, 0], jnp.int32))  # opposite: cancel
    np.testing.assert_allclose(still.position, [0.5, 0.5], atol=1e-6)
    assert float(ts.reward) > 0  # progress towards (0.9, 0.9)


# ---------------------------------------------------------------------------------------
# Neighbourhoods


def test_k_nearest_is_exact_on_a_small_grid():
    nvec = (4, 3, 5)
    grid = np.array(list(itertools.product(*(range(n) for n in nvec))))
    proxy = jnp.array([1.3, 0.6, 3.8])
    actions, real = jax.jit(nb.k_nearest, static_argnums=(1, 2))(proxy, nvec, 7)
    assert bool(real.all())
    dist = np.square(np.asarray(actions) - np.asarray(proxy)).sum(-1)
    brute = np.sort(np.square(grid - np.asarray(proxy)).sum(-1))[:7]
    np.testing.assert_allclose(dist, brute, rtol=1e-5)
    assert len({tuple(a) for a in np.asarray(actions).tolist()}) == 7
    # More than the grid holds: every point once, the rest flagged as padding.
    actions, real = nb.k_nearest(jnp.array([0.2, 0.9]), (2, 2), 6)
    assert np.asarray(real).tolist() == [True] * 4 + [False] * 2
    assert {tuple(a) for a in np.asarray(actions)[:4].tolist()} == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_unit_neighbours_move_one_dimension():
    cands, valid = nb.unit_neighbours(jnp.array([0, 2, 1]), (3, 3, 3), max_distance=2)
    cands, valid = np.asarray(cands), np.asarray(valid)
    assert cands.shape == (12, 3)
    diffs = np.abs(cands - np.array([0, 2, 1]))
    assert ((diffs > 0).sum(-1)[valid] == 1).all()
    assert valid.sum() == len({tuple(c) for c in cands[valid].tolist()}) == 6  # 2 + 2 + 2 in-range moves


def _quadratic_critic(target):
    return lambda actions: -jnp.sum(jnp.square(actions - target), axis=-1).astype(jnp.float32)


def test_anneal_improves_on_the_rounded_proxy():
    nvec = (5,) * 30
    target = jnp.asarray(np.random.default_rng(0).integers(0, 5, 30))
    q_fn = _quadratic_critic(target)
    config = dnc.DNCConfig(search_steps=20, num_random=4, **TINY)
    search = jax.jit(lambda unit, k: dnc.dnc_select(config, nvec, q_fn, unit, k, True, False))
    unit = jnp.zeros(30) - 0.9  # proxy near 0.2: rounds to all zeros, far from the target
    start = nb.round_to_grid(nb.unit_to_proxy(unit, nvec), nvec)
    best = search(unit, jax.random.key(0))
    assert float(q_fn(best[None])[0]) > float(q_fn(start[None])[0]) + 10.0
    # Already optimal: the search never returns anything worse.
    np.testing.assert_array_equal(search(nb.grid_to_unit(target, nvec), jax.random.key(1)), target)


# ---------------------------------------------------------------------------------------
# Agents on a 10^20 space


@pytest.fixture(scope="module")
def huge_inventory():
    env = envs.make("inventory", M=30, K=5)
    state, ts = env.reset(jax.random.key(0))
    return env, ts.obs


def test_dnc_acts_validly_and_beats_its_rounding(huge_inventory):
    env, obs = huge_inventory
    config = dnc.DNCConfig(search_steps=6, **TINY)
    state = dnc.init(jax.random.key(0), env.spec, config)

    @jax.jit
    def explore_and_search(keys):
        explored = jax.vmap(lambda k: dnc.act(state, obs, None, k, False))(keys)
        greedy = dnc.act(state, obs, None, keys[0], True)
        unit = dnc.unit_action(state, state.actor.params, obs)
        rounded = nb.round_to_grid(nb.unit_to_proxy(unit, state.nvec), state.nvec)
        q = dnc.grid_scorer(state, state.critic.params, obs)(jnp.stack([greedy, rounded]))
        return explored, q

    explored, q = explore_and_search(jax.random.split(jax.random.key(1), 4))
    assert all(bool(env.spec.action_space.contains(a)) for a in explored)
    assert float(q[0]) >= float(q[1])  # the search never ends below the rounded proxy
    with pytest.raises(ValueError, match="DNC does not support action masks"):
        dnc.act(state, obs, jnp.ones(150, bool), jax.random.key(0), True)
    with pytest.raises(ValueError, match="max_distance=0"):
        dnc.init(jax.random.key(0), env.spec, dnc.DNCConfig(max_distance=0))


def test_wolpertinger_picks_the_critics_best_candidate(huge_inventory):
    env, obs = huge_inventory
    config = wolpertinger.WolpertingerConfig(k=12, **TINY)
    state = wolpertinger.init(jax.random.key(0), env.spec, config)

    @jax.jit
    def candidates_and_choice(key):
        unit = dnc.unit_action(state, state.actor.params, obs)
        cands, real = wolpertinger.candidates(unit, state.nvec, config.k)
        scores = dnc.grid_scorer(state, state.critic.params, obs)(cands)
        return cands, real, scores, wolpertinger.act(state, obs, None, key, True)

    cands, real, scores, action = candidates_and_choice(jax.random.key(1))
    assert bool(real.all()) and len({tuple(c) for c in np.asarray(cands).tolist()}) == 12
    assert all(bool(env.spec.action_space.contains(c)) for c in cands)
    np.testing.assert_array_equal(action, np.asarray(cands)[np.argmax(np.asarray(scores))])


# ---------------------------------------------------------------------------------------
# Learning


def test_dnc_learns_the_structured_maze():
    env = envs.make("structured_maze", N=8)
    config = dnc.DNCConfig(total_steps=3_000, num_envs=4, batch_size=64, buffer_size=3_000, warmup_steps=400,
                           search_steps=3, target_search_steps=1, num_random=4, actor_hidden=(64, 64),
                           critic_hidden=(64, 64), gamma=0.95, tau=0.02, actor_lr=1e-3, critic_lr=1e-3)
    carry, _ = jax.jit(make_train(env, dnc.AGENT, config))(jax.random.key(0))
    trained = float(evaluate(env, dnc.AGENT, carry.agent_state, jax.random.key(1), 8, deterministic=True).mean())

    space = env.spec.action_space
    random_agent = dataclasses.replace(dnc.AGENT, act=lambda s, o, m, k, d: space.sample(k))
    random_return = float(evaluate(env, random_agent, carry.agent_state, jax.random.key(1), 8).mean())
    assert trained > random_return + 0.5, (trained, random_return)
    assert trained > 1.0  # reaches the goal (+1) in most episodes
