"""DNC's environments (joint replenishment, structured maze), the grid neighbourhoods and the
authors' simulated annealing, the online Q actor-critic with its mappings (DNC, k-NN, MinMax),
the (s, S) policy, and Wolpertinger (DDPG)."""
import importlib.util
import itertools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.combinatorial import (
    GOAL_REWARD,
    STEP_REWARD,
    InventoryParams,
    actuator_directions,
    authors_obs_bounds,
    by_parity,
    inventory_step,
    max_motion,
    max_motion_brute_force,
    poisson_by_inverse_cdf,
    reorder_policy,
)
from flax import struct

from jaxrl_actions import neighbourhood as nb
from jaxrl_actions.agents import dnc, qac, wolpertinger
from jaxrl_actions.environment import EnvSpec, Environment, scalar_timestep
from jaxrl_actions.networks.linear import fourier_features
from jaxrl_actions.spaces import Box, MultiDiscrete
from jaxrl_actions.training import make_train
from jaxrl_actions.training.evaluate import evaluate
from jaxrl_actions.types import Transition

LOW, HIGH = authors_obs_bounds()


def _params(M, **overrides):
    return envs.make("joint_replenishment", M=M).default_params.replace(**overrides)


# ---------------------------------------------------------------------------------------
# Joint replenishment, by hand


def test_inventory_step_costs_by_hand():
    params = _params(2)
    # Order up to 40 for item 0 (15 units), nothing for item 1; demand 20 and 30.
    inv, cost = inventory_step(jnp.array([25.0, 25.0]), jnp.array([40, 0]), jnp.array([20.0, 30.0]), params)
    np.testing.assert_allclose(inv, [20.0, -5.0])
    assert float(cost) == pytest.approx(10 * 15 + 75 + 1 * 20 + 19 * 5)
    # Levels at or below the inventory order nothing: no unit cost and no shared cost.
    inv, cost = inventory_step(jnp.array([30.0, 5.0]), jnp.array([30, 0]), jnp.array([10.0, 7.0]), params)
    np.testing.assert_allclose(inv, [20.0, -2.0])
    assert float(cost) == pytest.approx(1 * 20 + 19 * 2)
    # Level 0 with backorders orders them: -4 -> 0 is 4 units (and the shared cost).
    inv, cost = inventory_step(jnp.array([30.0, -4.0]), jnp.array([30, 0]), jnp.array([10.0, 2.0]), params)
    np.testing.assert_allclose(inv, [20.0, -2.0])
    assert float(cost) == pytest.approx(10 * 4 + 75 + 1 * 20 + 19 * 2)
    # Backorders are filled first: order up to 10 from -6 is 16 units; the shared cost is paid once.
    inv, cost = inventory_step(jnp.array([0.0, -6.0]), jnp.array([5, 10]), jnp.array([0.0, 0.0]), params)
    np.testing.assert_allclose(inv, [5.0, 10.0])
    assert float(cost) == pytest.approx(10 * (5 + 16) + 75 + 15)


def test_joint_replenishment_episode_by_hand():
    env = envs.make("joint_replenishment", M=2)
    assert env.spec.action_space.nvec == (67, 67) and env.spec.max_episode_steps == 100
    np.testing.assert_allclose(env.default_params.demand_mean, [20.0, 10.0])
    params = _params(2, demand_mean=jnp.zeros(2))  # no demand: every cost is known
    state, ts = env.reset(jax.random.key(0), params)
    np.testing.assert_allclose(ts.obs, [25.0, 25.0])

    def step(carry, key):
        state, _ = carry
        state, ts = env.step(key, state, jnp.array([40, 25]), params)
        return (state, ts), (ts.reward, ts.truncated)

    (state, ts), (rewards, truncated) = jax.jit(lambda s, t: jax.lax.scan(step, (s, t), jax.random.split(jax.random.key(1), 100)))(state, ts)
    # Period 1 orders 15 units of item 0 (item 1 sits at its level), then holds 40 + 25.
    assert float(rewards[0]) == pytest.approx(-(10 * 15 + 75 + 65))
    np.testing.assert_allclose(rewards[1:], -65.0)
    assert np.asarray(truncated).tolist() == [False] * 99 + [True]
    # With demand, the step draws it with its own key.
    key = jax.random.key(7)
    demand = np.asarray(env.sample_demand(key, env.default_params))
    _, ts = env.step(key, env.reset(key)[0], jnp.array([0, 0]))
    after = 25.0 - demand
    expected = (np.maximum(after, 0) + 19 * np.maximum(-after, 0)).sum()
    assert float(ts.reward) == pytest.approx(-expected)
    np.testing.assert_allclose(ts.obs, after)


def test_poisson_by_inverse_cdf_matches_the_distribution():
    from scipy.stats import poisson

    rates = jnp.array([20.0, 10.0])
    draws = np.asarray(jax.jit(jax.vmap(lambda k: poisson_by_inverse_cdf(k, rates, 128)))(
        jax.random.split(jax.random.key(0), 40_000)))
    for j, rate in enumerate((20, 10)):
        freq = np.bincount(draws[:, j].astype(int), minlength=50)[:50] / len(draws)
        assert np.abs(freq - poisson.pmf(np.arange(50), rate)).max() < 0.006
        assert draws[:, j].mean() == pytest.approx(rate, rel=0.02)


def test_reorder_policy_by_hand_and_in_the_env():
    s, big_s = jnp.asarray(by_parity(4, 22, 11)), jnp.asarray(by_parity(4, 28, 16))
    np.testing.assert_array_equal(reorder_policy(jnp.array([22.0, 12.0, 30.0, -5.0]), s, big_s), [28, 0, 0, 16])
    # No demand: (s, S) = (30, 40) orders 15 units per item once, then holds 40 per item.
    env = envs.make("joint_replenishment", M=2)
    params = _params(2, demand_mean=jnp.zeros(2))
    state, ts = env.reset(jax.random.key(0), params)
    total = 0.0
    for t in range(5):
        state, ts = env.step(jax.random.key(t), state, reorder_policy(ts.obs, jnp.full(2, 30.0), jnp.full(2, 40)), params)
        total += float(ts.reward)
    assert total == pytest.approx(-(10 * 30 + 75 + 80) - 4 * 80)


# ---------------------------------------------------------------------------------------
# Structured maze


def test_maze_motion_normaliser_matches_enumeration():
    for n in range(2, 11):
        d = actuator_directions(n)
        assert max_motion(d) == pytest.approx(max_motion_brute_force(d), rel=1e-12)
    assert max_motion(actuator_directions(28)) == pytest.approx(8.93217285994847, rel=1e-12)  # the authors' constant


def test_maze_walls_goal_and_rewards_by_hand():
    env = envs.make("structured_maze", N=4, random_start=False)  # actuators +x, +y, -x, -y; max motion sqrt 2
    quiet = env.default_params.replace(noise_prob=jnp.float32(0.0))
    state, ts = env.reset(jax.random.key(0), quiet)
    np.testing.assert_allclose(ts.obs, [0.25, 0.10])
    up = jnp.array([0, 1, 0, 0])
    sub = 0.045 / np.sqrt(2.0)
    state, ts = env.step(jax.random.key(1), state, up, quiet)  # 4 sub-steps, below the wall at y = 0.25
    np.testing.assert_allclose(state.position, [0.25, 0.10 + 4 * sub], rtol=1e-5)
    assert float(ts.reward) == pytest.approx(STEP_REWARD)
    blocked, ts = env.step(jax.random.key(2), state, up, quiet)  # the first sub-step enters O1: no move
    np.testing.assert_allclose(blocked.position, state.position)
    # Into the goal box: +100, terminated, and the action stops at the goal.
    near = state.replace(position=jnp.array([0.27, 0.40]))
    goal, ts = env.step(jax.random.key(3), near, up, quiet)
    np.testing.assert_allclose(goal.position, [0.27, 0.40 + 2 * sub], rtol=1e-5)
    assert float(ts.reward) == pytest.approx(STEP_REWARD + GOAL_REWARD) and bool(ts.terminated)
    # Noise only pushes towards +x / +y, at most one sub-step per sub-step.
    noisy = env.default_params.replace(noise_prob=jnp.float32(1.0))
    moved, _ = env.step(jax.random.key(4), state.replace(position=jnp.array([0.7, 0.1])), jnp.array([0, 0, 1, 1]), noisy)
    delta = np.asarray(moved.position) - np.array([0.7, 0.1])
    assert (delta >= 0).all() and (delta <= 4 * 0.045 / 1.415 + 1e-6).all() and delta.sum() > 0


def test_maze_training_starts_avoid_walls_and_goal():
    env = envs.make("structured_maze", N=6)
    starts = np.asarray(jax.jit(jax.vmap(lambda k: env.reset(k)[1].obs))(jax.random.split(jax.random.key(0), 2000)))
    in_wall = ((starts[:, 0] <= 0.5) & (starts[:, 1] >= 0.25) & (starts[:, 1] <= 0.30)) | (
        (starts[:, 0] >= 0.5) & (starts[:, 0] <= 0.55) & (starts[:, 1] >= 0.25) & (starts[:, 1] <= 0.75))
    in_goal = (starts[:, 0] >= 0.25) & (starts[:, 0] <= 0.30) & (starts[:, 1] >= 0.45) & (starts[:, 1] <= 0.50)
    assert not in_wall.any() and not in_goal.any() and starts.std(axis=0).min() > 0.2
    with pytest.raises(ValueError, match="N=1"):
        envs.make("structured_maze", N=1)
    with pytest.raises(ValueError, match="M=0"):
        envs.make("joint_replenishment", M=0)


# ---------------------------------------------------------------------------------------
# Neighbourhoods and the authors' annealing


def test_minmax_base_and_critic_scaling():
    np.testing.assert_array_equal(nb.minmax_base(jnp.array([-2.0, 0.3, 1.0]), (67, 67, 67)), [0, 43, 66])
    np.testing.assert_array_equal(nb.minmax_base(jnp.array([0.25]), (67,), a_clip=0.5), [50])  # 0.25 of +-0.5 -> 3/4 of 66
    np.testing.assert_allclose(qac.critic_action(jnp.array([33, 66, 1]), (67, 67, 2)), [0.5, 1.0, 1.0])


def _authors_neighbourhood(base, high, r):
    """numpy reference of Dnc.deterministic_neighborhood: +-1..r on each dimension, clipped,
    torch.unique; the base is appended separately."""
    out = set()
    for i, j, sign in itertools.product(range(len(base)), range(1, r + 1), (1, -1)):
        moved = np.array(base)
        moved[i] = np.clip(moved[i] + sign * j, 0, high)
        out.add(tuple(moved))
    return out


def test_unit_neighbours_is_the_authors_neighbourhood():
    base = jnp.array([0, 5, 66])
    cands, valid = nb.unit_neighbours(base, (67, 67, 67), max_distance=10)
    ours = {tuple(c) for c in np.asarray(cands)[np.asarray(valid)].tolist()}
    assert np.asarray(valid).sum() == len(ours)  # the valid ones are distinct
    assert ours == _authors_neighbourhood([0, 5, 66], 66, 10) - {(0, 5, 66)}


def _hill_climb_reference(table, base, r, steps):
    """numpy reference of Dnc.simulatedAnnealing without training: move to the best of the
    neighbourhood + base while it beats the base; return the best seen."""
    high = table.shape[0] - 1
    base, best = tuple(base), tuple(base)
    for _ in steps:
        cands = sorted(_authors_neighbourhood(base, high, r) | {base})
        top = max(cands, key=lambda a: table[a])
        if table[top] > table[base]:
            best = top if table[top] > table[best] else best
            base = top
    return best


def test_simulated_annealing_matches_the_reference_hill_climb():
    table = np.random.default_rng(0).normal(size=(9, 9, 9)).astype(np.float32)
    q_fn = lambda actions: jnp.asarray(table)[actions[:, 0], actions[:, 1], actions[:, 2]]
    assert nb.sa_schedule(10, 0.1) == tuple(range(10, 0, -1)) and nb.sa_schedule(25, 0.1)[:3] == (25, 23, 21)
    assert nb.sa_schedule(0, 0.1) == ()

    @jax.jit
    def search(base, key):
        evaluate = nb.simulated_annealing(key, base, q_fn, (9, 9, 9), search_steps=4, perturbation_range=2,
                                          training=False)
        train = nb.simulated_annealing(key, base, q_fn, (9, 9, 9), search_steps=4, perturbation_range=2, training=True)
        return evaluate, train

    for i, base in enumerate(np.random.default_rng(1).integers(0, 9, (6, 3))):
        (best, score), (train_best, _) = search(jnp.asarray(base), jax.random.key(i))
        expected = _hill_climb_reference(table, base, 2, nb.sa_schedule(4, 0.1))
        assert tuple(np.asarray(best).tolist()) == expected
        assert float(score) == pytest.approx(table[expected]) and float(score) >= table[tuple(base)]
        # The base is scored with its neighbours, so with no better neighbour Q_top == Q_base
        # and exp(0) = 1 accepts the stay: training search = evaluation search (the authors' too).
        np.testing.assert_array_equal(train_best, best)
    # MinMax: no search at all.
    assert np.asarray(nb.simulated_annealing(jax.random.key(0), jnp.array([1, 2, 3]), q_fn, (9, 9, 9),
                                             search_steps=0)[0]).tolist() == [1, 2, 3]


def test_simulated_annealing_jumps_from_its_pool_only_when_the_ratio_is_zero():
    """(30, 30) is a local optimum; (32, 30), two moves away, is better, reachable only by
    jumping to the pool member (31, 30). With acceptance ratio 0 the acceptance test is nan
    (False) and the search jumps; with the authors' 0.9 it accepts staying and never does."""
    def q_fn(a):
        at = lambda x, y: (a[:, 0] == x) & (a[:, 1] == y)
        return jnp.where(at(30, 30), 0.0, jnp.where(at(32, 30), 5.0, jnp.where(at(31, 30), -0.5, -1.0)))

    def bests(initial_acceptance):
        run = jax.jit(jax.vmap(lambda key: nb.simulated_annealing(
            key, jnp.array([30, 30]), q_fn, (67, 67), search_steps=3, perturbation_range=1,
            initial_acceptance=initial_acceptance, training=True)[0]))
        return {tuple(b) for b in np.asarray(run(jax.random.split(jax.random.key(0), 16))).tolist()}

    assert bests(0.0) == {(30, 30), (32, 30)}
    assert bests(0.9) == {(30, 30)}


def test_k_nearest_is_exact_on_a_small_grid():
    nvec = (4, 3, 5)
    grid = np.array(list(itertools.product(*(range(n) for n in nvec))))
    proxy = jnp.array([1.3, 0.6, 3.8])
    actions, real = jax.jit(nb.k_nearest, static_argnums=(1, 2))(proxy, nvec, 7)
    assert bool(real.all())
    dist = np.square(np.asarray(actions) - np.asarray(proxy)).sum(-1)
    np.testing.assert_allclose(dist, np.sort(np.square(grid - np.asarray(proxy)).sum(-1))[:7], rtol=1e-5)
    actions, real = nb.k_nearest(jnp.array([0.2, 0.9]), (2, 2), 6)
    assert np.asarray(real).tolist() == [True] * 4 + [False] * 2


# ---------------------------------------------------------------------------------------
# The online Q actor-critic


def test_fourier_features_by_hand():
    phi = fourier_features(jnp.array([-40.0, 13.0, 66.0]), np.full(3, LOW), np.full(3, HIGH), 3)
    np.testing.assert_allclose(phi, [1, 1, 1, 0, -1, 0, -1, 1, -1], atol=1e-6)


@pytest.fixture(scope="module")
def inventory_qac():
    env = envs.make("joint_replenishment", M=2)
    config = dnc.DNCConfig(obs_low=LOW, obs_high=HIGH)
    return env, config, dnc.init(jax.random.key(0), env.spec, config)


def _transition(obs, action, proxy, reward, next_obs, truncated):
    return Transition(obs=obs[None], action=action[None], reward=jnp.array([reward]), terminated=jnp.array([False]),
                      truncated=jnp.array([truncated]), next_obs=next_obs[None], action_mask=None,
                      next_action_mask=None, behaviour=proxy[None])


def test_qac_update_clips_each_module_and_stops_at_time_limits(inventory_qac):
    env, config, state = inventory_qac
    obs, next_obs = jnp.array([25.0, 25.0]), jnp.array([12.0, 3.0])
    action, proxy = jnp.array([40, 20]), jnp.array([0.3, -0.4])
    phi = qac.features(state, obs)
    q_before = float(qac.q_value(state, state.critic.params, phi, action))
    update = jax.jit(dnc.update)
    # The time limit stops the bootstrap (the authors' not_absorbing = done != 1): y = r.
    new, metrics = update(state, _transition(obs, action, proxy, -300.0, next_obs, True), jax.random.key(0))
    assert float(metrics["td_error"]) == pytest.approx(-300.0 - q_before, rel=1e-5)
    _, boot = jax.jit(qac.make_update(dnc.dnc_mapping))(
        state.replace(config=config.replace(bootstrap_truncated=True)),
        _transition(obs, action, proxy, -300.0, next_obs, True), jax.random.key(0))
    assert float(boot["td_error"]) != pytest.approx(float(metrics["td_error"]))
    # One SGD step of lr 1e-2 on gradients clipped to norm 1 per module, towards the target.
    for old, moved in ((state.actor.params, new.actor.params), (state.critic.params, new.critic.params)):
        step = np.sqrt(sum(float(jnp.sum(jnp.square(a - b))) for a, b in
                           zip(jax.tree_util.tree_leaves(old), jax.tree_util.tree_leaves(moved))))
        assert 0 < step <= 1e-2 * 1.0001
    assert float(qac.q_value(new, new.critic.params, phi, action)) < q_before
    # A negative TD error makes the sampled proxy less likely.
    mean_before = qac.proxy_mean(state, state.actor.params, phi)
    mean_after = qac.proxy_mean(new, new.actor.params, phi)
    logp = lambda m: float(qac.gaussian_log_prob(proxy, m, 1.0).sum())
    assert logp(mean_after) < logp(mean_before)


def test_dnc_acts_on_the_grid_and_evaluates_like_the_authors(inventory_qac):
    env, config, state = inventory_qac
    obs = jnp.array([10.0, 40.0])
    keys = jax.random.split(jax.random.key(1), 6)
    sampled = jax.jit(jax.vmap(lambda k: dnc.act(state, obs, None, k, True)))(keys)
    mean_state = state.replace(config=config.replace(sample_proxy_at_eval=False))
    greedy = jax.jit(jax.vmap(lambda k: dnc.act(mean_state, obs, None, k, True)))(keys)
    assert all(bool(env.spec.action_space.contains(a)) for a in sampled)
    assert len({tuple(a) for a in np.asarray(sampled).tolist()}) > 1  # the authors sample the proxy at evaluation
    assert len({tuple(a) for a in np.asarray(greedy).tolist()}) == 1
    # DNC's action scores at least as well as its rounded base (one neighbourhood around it).
    phi = qac.features(state, obs)
    base = nb.minmax_base(qac.proxy_mean(state, state.actor.params, phi), state.nvec)
    q = qac.scorer(state, state.critic.params, phi)
    assert float(q(greedy[:1])[0]) >= float(q(base[None])[0])
    out = jax.jit(dnc.policy_step)(state, obs, None, jax.random.key(2))
    assert out.raw_action.shape == (2,) and bool(env.spec.action_space.contains(out.action))


def test_qac_knn_picks_the_critics_best_of_the_nearest(inventory_qac):
    env, _, _ = inventory_qac
    config = qac.KNNConfig(k=5, obs_low=LOW, obs_high=HIGH)
    state = qac.KNN.init(jax.random.key(0), env.spec, config)
    phi = qac.features(state, jnp.array([10.0, 40.0]))
    q_fn = qac.scorer(state, state.critic.params, phi)
    u = jnp.array([0.1, -0.5])
    chosen = qac.knn_mapping(config, state.nvec, q_fn, u, jax.random.key(0), False)
    cands, _ = nb.k_nearest(nb.unit_to_proxy(u, state.nvec), state.nvec, 5)
    np.testing.assert_array_equal(chosen, np.asarray(cands)[np.argmax(np.asarray(q_fn(cands)))])


def test_qac_errors_name_the_problem(inventory_qac):
    env, _, state = inventory_qac
    with pytest.raises(ValueError, match="obs_low"):
        dnc.init(jax.random.key(0), env.spec, dnc.DNCConfig())  # inventory is unbounded below
    with pytest.raises(ValueError, match="perturbation_range=0"):
        dnc.init(jax.random.key(0), env.spec, dnc.DNCConfig(obs_low=LOW, obs_high=HIGH, perturbation_range=0))
    with pytest.raises(ValueError, match="optim='nadam'"):
        dnc.init(jax.random.key(0), env.spec, dnc.DNCConfig(obs_low=LOW, obs_high=HIGH, optim="nadam"))
    with pytest.raises(ValueError, match="gamma"):
        make_train(env, dnc.AGENT, dnc.DNCConfig(obs_low=LOW, obs_high=HIGH, gamma=1.5))
    with pytest.raises(ValueError, match="DNC does not support action masks"):
        dnc.act(state, jnp.zeros(2), jnp.ones(134, bool), jax.random.key(0), True)
    with pytest.raises(ValueError, match="MultiDiscrete"):
        dnc.init(jax.random.key(0), envs.make("pendulum").spec, dnc.DNCConfig(obs_low=-1.0, obs_high=1.0))


@struct.dataclass
class _Clock:
    time: jax.Array


class LevelBandit(Environment):
    """One step; reward -(|a_0 - 15| + |a_1 - 4|) / 10 over levels 0..20 (random: about -1.3)."""

    @property
    def spec(self):
        return EnvSpec(Box(0.0, 1.0, (1,)), MultiDiscrete([21, 21]), 1)

    def reset_env(self, key, params):
        return _Clock(jnp.int32(0)), scalar_timestep(jnp.full((1,), 0.5), 0.0, False)

    def step_env(self, key, state, action, params):
        reward = -jnp.sum(jnp.abs(action - jnp.array([15, 4]))) / 10.0
        return _Clock(state.time + 1), scalar_timestep(jnp.full((1,), 0.5), reward, True)


def test_dnc_learns_a_level_bandit_in_seconds():
    """The paper's learner and defaults through the online loop: 3000 one-step episodes move
    the (mean-proxy) DNC action to within a few levels of the best."""
    env = LevelBandit()
    config = dnc.DNCConfig(total_steps=3000, sample_proxy_at_eval=False)
    carry, metrics = jax.jit(make_train(env, dnc.AGENT, config))(jax.random.key(0))
    assert metrics["episode_return"].shape == (3000,) and "learn/critic_loss" in metrics
    trained = float(evaluate(env, dnc.AGENT, carry.agent_state, jax.random.key(1), 16, deterministic=True).mean())
    untrained = float(evaluate(env, dnc.AGENT, dnc.init(jax.random.key(0), env.spec, config), jax.random.key(1), 16,
                               deterministic=True).mean())
    assert trained > -0.9 and trained > untrained + 0.3, (trained, untrained)


def test_inventory_study_writes_json_table_and_plot(tmp_path):
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "experiments", "dnc_inventory.py")
    spec = importlib.util.spec_from_file_location("dnc_inventory", path)
    study_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study_module)
    budget = study_module.Budget(sizes=(2,), steps=200, seeds=2, episodes=2, chunk=100, grid_episodes=8, grid_step=12,
                                 grid_rounds=1)
    names = ["dnc", "random", "sS_paper", "sS_tuned"]
    study = study_module.run_study(budget, names, str(tmp_path), log=lambda *_: None)
    for ext in ("json", "md", "png"):
        assert os.path.getsize(tmp_path / f"dnc_inventory.{ext}") > 0
    saved = json.loads((tmp_path / "dnc_inventory.json").read_text())
    rows = saved["M"]["2"]["agents"]
    assert list(rows) == names and saved == json.loads(json.dumps(study))
    for name, row in rows.items():
        assert len(row["final_cost_per_seed"]) == 2 and row["final_cost_mean"] == pytest.approx(
            np.mean(row["final_cost_per_seed"]))
    assert len(rows["dnc"]["curve_cost"]) == 2 and len(rows["dnc"]["greedy_cost_per_seed"]) == 2
    assert rows["sS_paper"]["final_cost_mean"] < rows["random"]["final_cost_mean"]
    assert set(saved["M"]["2"]["verdict"]) >= {"dnc_beats_random", "dnc_gap_to_sS_tuned"}
    with pytest.raises(SystemExit, match="unknown option"):
        study_module.learner_config("dnc+nope", 10)


# ---------------------------------------------------------------------------------------
# Wolpertinger (DDPG + k-NN, Dulac-Arnold et al.)


def test_wolpertinger_picks_the_critics_best_candidate():
    env = envs.make("joint_replenishment", M=30)  # 67^30 ~ 6e54 joint actions
    obs = env.reset(jax.random.key(0))[1].obs
    config = wolpertinger.WolpertingerConfig(k=12, actor_hidden=(32,), critic_hidden=(32,))
    state = wolpertinger.init(jax.random.key(0), env.spec, config)

    @jax.jit
    def candidates_and_choice(key):
        unit = wolpertinger.unit_action(state, state.actor.params, obs)
        cands, real = wolpertinger.candidates(unit, state.nvec, config.k)
        scores = wolpertinger.grid_scorer(state, state.critic.params, obs)(cands)
        return cands, real, scores, wolpertinger.act(state, obs, None, key, True)

    cands, real, scores, action = candidates_and_choice(jax.random.key(1))
    assert bool(real.all()) and len({tuple(c) for c in np.asarray(cands).tolist()}) == 12
    np.testing.assert_array_equal(action, np.asarray(cands)[np.argmax(np.asarray(scores))])
