"""Concrete envs: dynamics against numpy references, time limits, Mining's masks and rules,
probe facts, the registry's errors and trace-time action checks."""
import math
from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.classic import CartPole, CartPoleParams, Pendulum
from envs.mining import HARVEST, MOVE, NOOP, RETURN, DIRECTIONS, Mining, MiningParams, mean_uniform_invalid_fraction
from jaxrl_actions.types import INVALID_ACTION


# ----------------------------------------------------------------------------- numpy references
# Written from the Gymnasium CartPole-v1 / Pendulum-v1 equations, in float64.

def cartpole_reference_step(state, action):
    x, x_dot, theta, theta_dot = state
    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    total_mass = masscart + masspole
    polemass_length = masspole * length
    force = force_mag if action == 1 else -force_mag
    costheta, sintheta = math.cos(theta), math.sin(theta)
    temp = (force + polemass_length * theta_dot**2 * sintheta) / total_mass
    thetaacc = (gravity * sintheta - costheta * temp) / (length * (4.0 / 3.0 - masspole * costheta**2 / total_mass))
    xacc = temp - polemass_length * thetaacc * costheta / total_mass
    x, x_dot = x + tau * x_dot, x_dot + tau * xacc
    theta, theta_dot = theta + tau * theta_dot, theta_dot + tau * thetaacc
    terminated = abs(x) > 2.4 or abs(theta) > 12 * 2 * math.pi / 360
    return np.array([x, x_dot, theta, theta_dot]), 1.0, terminated


def pendulum_reference_step(th, thdot, u):
    max_speed, max_torque, dt, g, m, l = 8.0, 2.0, 0.05, 10.0, 1.0, 1.0
    u = float(np.clip(u, -max_torque, max_torque))
    normalized = ((th + np.pi) % (2 * np.pi)) - np.pi
    cost = normalized**2 + 0.1 * thdot**2 + 0.001 * u**2
    newthdot = np.clip(thdot + (3 * g / (2 * l) * np.sin(th) + 3.0 / (m * l**2) * u) * dt, -max_speed, max_speed)
    newth = th + newthdot * dt
    return newth, newthdot, np.array([np.cos(newth), np.sin(newth), newthdot]), -cost


def test_cartpole_matches_reference():
    env = CartPole()
    step = jax.jit(env.step)
    state, ts = env.reset(jax.random.key(0))
    ref = np.asarray(ts.obs, np.float64)
    assert np.all(np.abs(ref) <= 0.05) and ts.obs.dtype == jnp.float32
    for t, action in enumerate([1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0]):
        state, ts = step(jax.random.key(t), state, jnp.int32(action))
        ref, reward, terminated = cartpole_reference_step(ref, action)
        np.testing.assert_allclose(ts.obs, ref, rtol=1e-4, atol=1e-6)
        assert float(ts.reward) == reward and bool(ts.terminated) == terminated
        assert ts.final_obs is None and ts.action_mask is None


def test_pendulum_matches_reference():
    env = Pendulum()
    step = jax.jit(env.step)
    state, ts = env.reset(jax.random.key(1))
    th, thdot = float(state.theta), float(state.theta_dot)
    assert -np.pi <= th <= np.pi and -1 <= thdot <= 1
    np.testing.assert_allclose(ts.obs, [np.cos(th), np.sin(th), thdot], rtol=1e-6)
    for t, u in enumerate([0.5, -2.0, 3.5, -7.0, 1.0, 0.0, 2.0, 2.0]):  # includes torques beyond the clip
        state, ts = step(jax.random.key(t), state, jnp.array([u], jnp.float32))
        th, thdot, obs, reward = pendulum_reference_step(th, thdot, u)
        np.testing.assert_allclose(ts.obs, obs, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ts.reward, reward, rtol=1e-4, atol=1e-5)
        assert not ts.terminated and not ts.truncated


def rollout_flags(env, actions, key=jax.random.key(0)):
    """(terminated, truncated) as bool[T] for a fixed action sequence, via lax.scan."""
    state, _ = env.reset(key)

    def body(state, action):
        state, ts = env.step(key, state, action)
        return state, (ts.terminated, ts.truncated)

    return jax.lax.scan(body, state, actions)[1]


def test_cartpole_terminates_on_fall_not_truncates():
    terminated, truncated = map(np.asarray, rollout_flags(CartPole(), jnp.ones(200, jnp.int32)))
    fall = int(np.argmax(terminated))
    assert terminated[fall] and 5 < fall < 200 and not truncated[: fall + 1].any()
    # If the fall lands exactly on the time limit, termination wins.
    terminated, truncated = map(np.asarray, rollout_flags(CartPole(max_steps=fall + 1), jnp.ones(fall + 1, jnp.int32)))
    assert terminated[fall] and not truncated.any()


def test_time_limits_truncate_exactly_at_the_limit():
    alternating = jnp.arange(30, dtype=jnp.int32) % 2  # keeps the pole up for 30 steps
    terminated, truncated = map(np.asarray, rollout_flags(CartPole(max_steps=30), alternating))
    assert not terminated.any() and truncated[-1] and not truncated[:-1].any()
    assert CartPole().spec.max_episode_steps == 500
    terminated, truncated = map(np.asarray, rollout_flags(Pendulum(), jnp.zeros((200, 1), jnp.float32)))
    assert not terminated.any() and truncated[-1] and not truncated[:-1].any()


def test_dynamics_params_vmap():
    env = CartPole()
    params = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), CartPoleParams(), CartPoleParams(gravity=20.0))
    state, _ = env.reset(jax.random.key(0))
    obs = jax.vmap(lambda p: env.step(jax.random.key(0), state, jnp.int32(1), p)[1].obs)(params)
    np.testing.assert_allclose(obs[0], env.step(jax.random.key(0), state, jnp.int32(1))[1].obs, rtol=1e-6)
    assert obs[0, 3] != obs[1, 3], "gravity should change the pole's angular acceleration"


# ----------------------------------------------------------------------------- registry and checks

def test_unknown_env_names_close_match():
    with pytest.raises(KeyError, match="cartpole"):
        envs.make("cartpol")


def test_make_sets_name_and_describe_lists_envs():
    env = envs.make("mining_grid", size=6)
    assert env.name == "mining_grid" and env.size == 6
    described = dict(envs.describe())
    assert {"cartpole", "pendulum", "mining_grid", "probe_fast"} <= set(described) and all(described.values())
    with pytest.raises(ValueError, match="already registered"):
        envs.register("cartpole", CartPole, "again")


@pytest.mark.parametrize("name, action, error, words", [
    ("cartpole", jnp.zeros((2,), jnp.int32), ValueError, ["cartpole.step", "shape ()", "shape (2,)"]),
    ("cartpole", jnp.float32(1.0), TypeError, ["int32", "float32"]),
    ("pendulum", jnp.zeros((), jnp.float32), ValueError, ["shape (1,)", "shape ()"]),
    ("pendulum", jnp.zeros((1,), jnp.int32), TypeError, ["float32", "int32"]),
    ("mining_grid", jnp.zeros((4,), jnp.int32), ValueError, ["shape (5,)", "shape (4,)"]),
])
def test_wrong_action_fails_at_trace_time(name, action, error, words):
    env = envs.make(name)
    key = jax.random.key(0)
    state = jax.eval_shape(env.reset, key)[0]  # shapes only: the error must come from tracing
    with pytest.raises(error) as info:
        jax.jit(env.step).lower(key, state, action)
    for word in words:
        assert word in str(info.value), f"{word!r} missing from: {info.value}"


# ----------------------------------------------------------------------------- Mining

def test_mining_rejects_bad_sizes():
    for size in (3, 25):
        with pytest.raises(ValueError, match=f"size={size}"):
            Mining(size=size)
    with pytest.raises(ValueError, match="num_resources=15"):
        Mining(size=4, num_resources=15)


def test_mining_layout_is_deterministic_per_key_and_varies():
    env = Mining(size=8, num_resources=3, num_walls=2)
    obs_a = env.reset(jax.random.key(5))[1].obs
    np.testing.assert_array_equal(obs_a, env.reset(jax.random.key(5))[1].obs)
    assert not np.array_equal(obs_a, env.reset(jax.random.key(6))[1].obs)
    counts = np.asarray(obs_a).sum(axis=(0, 1))
    np.testing.assert_array_equal(counts, [1, 0, 1, 3, 2])  # worker, carrying, base, resources, walls
    assert np.asarray(obs_a).sum(axis=-1).max() == 1, "entities sit on distinct cells"


@pytest.mark.parametrize("size, num_walls", [(4, 1), (12, 6)])
def test_mining_random_rollouts_respect_mask_rules(size, num_walls):
    """Masked actions are never invalid; unmasked ones are invalid exactly when `is_valid`
    says so, and an invalid action changes nothing but the clock."""
    env = Mining(size=size, num_walls=num_walls, max_steps=10_000)
    space = env.spec.action_space

    def body(carry, key):
        state, ts = carry
        k_masked, k_uniform, k_coin = jax.random.split(key, 3)
        use_mask = jax.random.bernoulli(k_coin)
        action = jnp.where(use_mask, space.sample(k_masked, ts.action_mask), space.sample(k_uniform))
        respected = space.respects(action, ts.action_mask)
        expected_valid = env.is_valid(state, action)
        new_state, new_ts = env.step(key, state, action)
        unchanged = jnp.array([jnp.all(a == b) for a, b in zip(
            jax.tree_util.tree_leaves(new_state.replace(time=state.time)), jax.tree_util.tree_leaves(state))]).all()
        record = dict(
            has_valid=space.mask_has_valid(new_ts.action_mask), respected=respected,
            invalid=new_ts.info[INVALID_ACTION], expected_valid=expected_valid, unchanged=unchanged,
            use_mask=use_mask, reward=new_ts.reward,
        )
        return (new_state, new_ts), record

    start = env.reset(jax.random.key(size))
    _, r = jax.jit(lambda c: jax.lax.scan(body, c, jax.random.split(jax.random.key(1), 600)))(start)
    r = jax.tree_util.tree_map(np.asarray, r)
    assert r["has_valid"].all()
    assert not r["invalid"][r["respected"]].any(), "an action the mask allows was invalid"
    assert r["respected"][r["use_mask"]].all()
    np.testing.assert_array_equal(r["invalid"], ~r["expected_valid"])
    assert r["unchanged"][r["invalid"]].all() and (r["reward"][r["invalid"]] == 0).all()
    assert r["invalid"].mean() > 0.3, "uniform actions should often be invalid"


def test_mining_mask_lists_exactly_the_valid_type_direction_pairs():
    env = Mining(size=5, num_resources=4, num_walls=3)
    space = env.spec.action_space
    cells = env.size * env.size
    is_valid = jax.jit(env.is_valid)
    for seed in range(8):
        state, ts = env.reset(jax.random.key(seed))
        state = state.replace(carrying=jnp.bool_(seed % 2 == 1))
        mask = np.asarray(env.action_mask(state))
        worker_cell = int(state.worker[0]) * env.size + int(state.worker[1])
        assert np.flatnonzero(mask[:cells]).tolist() == [worker_cell]
        types, dirs = mask[cells:cells + 4], mask[cells + 4:].reshape(3, 4)
        assert types[NOOP]
        for kind in (NOOP, MOVE, HARVEST, RETURN):
            for d in range(4):
                action = np.array([worker_cell, kind, 0, 0, 0])
                if kind != NOOP:
                    action[1 + kind] = d
                valid = bool(is_valid(state, jnp.asarray(action)))
                allowed = bool(types[kind] and (kind == NOOP or dirs[kind - 1, d]))
                assert valid == allowed, (seed, kind, d)
                other_cell = action.copy()
                other_cell[0] = (worker_cell + 1) % cells
                assert not is_valid(state, jnp.asarray(other_cell))
        assert space.mask_has_valid(jnp.asarray(mask))


def scripted_action(env, state):
    """Follows shortest paths (BFS over free cells): harvest when next to a resource,
    deliver when next to the base, otherwise walk toward the nearest cell next to the goal."""
    n = env.size
    worker, base = tuple(np.asarray(state.worker)), tuple(np.asarray(state.base))
    resources, walls, carrying = np.asarray(state.resources) > 0, np.asarray(state.walls), bool(state.carrying)
    cell = worker[0] * n + worker[1]

    def neighbours(p):
        for d, (dr, dc) in enumerate(DIRECTIONS):
            q = (p[0] + dr, p[1] + dc)
            if 0 <= q[0] < n and 0 <= q[1] < n:
                yield d, q

    def is_goal(q):
        return q == base if carrying else resources[q]

    for d, q in neighbours(worker):
        if is_goal(q):
            kind = RETURN if carrying else HARVEST
            action = [cell, kind, 0, 0, 0]
            action[1 + kind] = d
            return np.array(action)

    def free(q):
        return not (walls[q] or resources[q] or q == base)

    first_step = {worker: None}
    queue = deque([worker])
    while queue:
        p = queue.popleft()
        if any(is_goal(q) for _, q in neighbours(p)):
            return np.array([cell, MOVE, first_step[p], 0, 0])
        for d, q in neighbours(p):
            if q not in first_step and free(q):
                first_step[q] = d if first_step[p] is None else first_step[p]
                queue.append(q)
    return np.array([cell, NOOP, 0, 0, 0])


def fill_unread_directions(env, action, mask):
    """The mask is factorised, so it also constrains the direction components the chosen
    type does not read: give each of them its first allowed value."""
    action = action.copy()
    direction_masks = np.asarray(mask)[env.size * env.size + 4:].reshape(3, 4)
    for kind in (MOVE, HARVEST, RETURN):
        if kind != action[1]:
            action[1 + kind] = int(np.argmax(direction_masks[kind - 1]))
    return action


def run_scripted(env, key, params=None):
    step = jax.jit(env.step)
    state, ts = env.reset(key, params)
    rewards = []
    for t in range(env.max_steps):
        action = jnp.asarray(fill_unread_directions(env, scripted_action(env, state), ts.action_mask), jnp.int32)
        assert env.spec.action_space.respects(action, ts.action_mask), "the scripted action should follow the mask"
        state, ts = step(jax.random.key(t), state, action, params)
        assert not ts.info[INVALID_ACTION]
        rewards.append(float(ts.reward))
        if ts.terminated or ts.truncated:
            break
    return np.array(rewards), ts


def test_mining_scripted_policy_harvests_and_delivers():
    env = Mining(size=6)
    rewards, ts = run_scripted(env, jax.random.key(2))
    assert ts.truncated and not ts.terminated and len(rewards) == env.max_steps
    assert rewards.sum() >= 6, "a worker that knows the way completes several trips"


def test_mining_terminates_when_all_resources_are_delivered():
    env = Mining(size=5, num_resources=1)
    params = MiningParams(resource_amount=2)
    rewards, ts = run_scripted(env, jax.random.key(4), params)
    assert ts.terminated and not ts.truncated and rewards.sum() == 4 and len(rewards) < env.max_steps


def test_mining_carrying_plane_follows_harvest():
    env = Mining(size=5)
    state, ts = env.reset(jax.random.key(4))
    step = jax.jit(env.step)
    for t in range(env.max_steps):
        action = scripted_action(env, state)
        state, ts = step(jax.random.key(t), state, jnp.asarray(action, jnp.int32))
        if action[1] == HARVEST:
            break
    obs = np.asarray(ts.obs)
    assert action[1] == HARVEST and ts.reward == 1 and bool(state.carrying)
    np.testing.assert_array_equal(obs[..., 1], obs[..., 0])  # carrying marks the worker's cell


def test_mining_invalid_share_grows_with_size():
    fractions = [float(mean_uniform_invalid_fraction(Mining(size=s), jax.random.key(0), 32)) for s in (4, 10, 24)]
    assert fractions[0] < fractions[1] < fractions[2], fractions
    assert all(f >= 1 - 1 / s**2 for f, s in zip(fractions, (4, 10, 24)))


def test_uniform_invalid_fraction_matches_sampling():
    env = Mining(size=4, num_resources=3)
    state, _ = env.reset(jax.random.key(7))
    state = state.replace(carrying=jnp.bool_(False))

    @jax.jit
    def valid_share(key):
        actions = jax.vmap(env.spec.action_space.sample)(jax.random.split(key, 20_000))
        return jnp.mean(jax.vmap(env.is_valid, in_axes=(None, 0))(state, actions))

    empirical = 1 - float(valid_share(jax.random.key(8)))
    np.testing.assert_allclose(empirical, float(env.uniform_invalid_fraction(state)), atol=0.005)


def test_scripted_beats_uniform_masked_policy():
    """A learner has room to improve: the masked random policy earns clearly less than
    a policy that knows the way (here on the default 10x10 map)."""
    env = Mining()
    space = env.spec.action_space

    def episode_return(key):
        state, ts = env.reset(key)

        def body(carry, k):
            state, ts = carry
            state, ts = env.step(k, state, space.sample(k, ts.action_mask))
            return (state, ts), ts.reward

        return jax.lax.scan(body, (state, ts), jax.random.split(key, env.max_steps))[1].sum()

    random_return = float(jnp.mean(jax.jit(jax.vmap(episode_return))(jax.random.split(jax.random.key(0), 64))))
    scripted_return = run_scripted(env, jax.random.key(1))[0].sum()
    assert random_return < 0.5 * scripted_return, (random_return, scripted_return)


# ----------------------------------------------------------------------------- probes

def one_step_reward(env, action, key=jax.random.key(0)):
    state, ts = env.reset(key)
    return env.step(key, state, action)[1]


def test_probe_bandit_pays_by_action():
    env = envs.make("probe_bandit")
    rewards = [float(one_step_reward(env, jnp.int32(a)).reward) for a in range(env.spec.action_space.n)]
    assert max(rewards) == env.optimal_return and rewards.index(max(rewards)) == env.best_action
    assert len(set(rewards)) == len(rewards) and bool(one_step_reward(env, jnp.int32(0)).terminated)


def test_probe_masked_bandit_best_valid_action():
    env = envs.make("probe_masked_bandit")
    best_valid = []
    for seed in range(30):
        key = jax.random.key(seed)
        state, ts = env.reset(key)
        mask = np.asarray(ts.action_mask)
        np.testing.assert_array_equal(ts.obs, mask.astype(np.float32))
        assert not mask[env.forbidden_best] and mask.sum() == len(mask) - 2
        rewards = np.array([float(env.step(key, state, jnp.int32(a))[1].reward) for a in range(len(mask))])
        flags = [bool(env.step(key, state, jnp.int32(a))[1].info[INVALID_ACTION]) for a in range(len(mask))]
        np.testing.assert_array_equal(flags, ~mask)
        assert (rewards[~mask] == 0).all()
        best_valid.append(rewards[mask].max())
    np.testing.assert_allclose(np.mean(best_valid), env.optimal_return, atol=0.1)


def test_probe_two_step_needs_credit_assignment():
    env = envs.make("probe_two_step")

    def rewards(first):
        state, ts = env.reset(jax.random.key(0))
        state, ts1 = env.step(jax.random.key(0), state, jnp.int32(first))
        state, ts2 = env.step(jax.random.key(0), state, jnp.int32(0))
        assert not ts1.terminated and ts2.terminated
        return float(ts1.reward), float(ts2.reward)

    assert rewards(0) == (env.small, 0.0) and rewards(1) == (0.0, 1.0)
    assert env.optimal_return == 1.0


def test_probe_continuous_rewards_closeness_to_target():
    env = envs.make("probe_continuous")
    state, ts = env.reset(jax.random.key(3))
    target = ts.obs
    assert float(env.step(jax.random.key(0), state, target)[1].reward) == 0.0
    assert float(env.step(jax.random.key(0), state, target + 0.3)[1].reward) == pytest.approx(-0.09, rel=1e-4)


def test_probe_fast_episode_length_and_reward():
    env = envs.make("probe_fast", episode_length=8)
    state, ts = env.reset(jax.random.key(0))
    total, step = 0.0, jax.jit(env.step)
    for t in range(8):
        state, ts = step(jax.random.key(t), state, jnp.argmax(ts.obs).astype(jnp.int32))
        total += float(ts.reward)
        assert bool(ts.truncated) == (t == 7) and not ts.terminated
    assert total == env.optimal_return == 8.0


def test_env_module_loading_skips_only_missing_modules(tmp_path, monkeypatch):
    (tmp_path / "broken_dependency.py").write_text("import not_a_real_package_for_this_test\n")
    monkeypatch.setattr(envs, "__path__", [*envs.__path__, str(tmp_path)])
    monkeypatch.setattr(envs, "ENV_MODULES", ("module_not_written_yet",))
    envs._import_env_modules()  # a module that does not exist is skipped
    monkeypatch.setattr(envs, "ENV_MODULES", ("broken_dependency",))
    with pytest.raises(ModuleNotFoundError, match="not_a_real_package_for_this_test"):
        envs._import_env_modules()  # a module whose own import fails is reported
