"""Wrappers: AutoReset semantics, EpisodeStats counts, TimeLimit, VecEnv shapes,
NormalizeObs moments, RunningStats, wrap_for_training / find_wrapper."""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from jaxrl_actions import running_stats
from jaxrl_actions.environment import EnvSpec, Environment, scalar_timestep
from jaxrl_actions.spaces import Box, Discrete
from jaxrl_actions.types import EPISODE_DONE, EPISODE_LENGTH, EPISODE_RETURN, INVALID_ACTION
from jaxrl_actions.wrappers import (
    AutoReset,
    EpisodeStats,
    NormalizeObs,
    TimeLimit,
    VecEnv,
    find_wrapper,
    wrap_for_training,
)


@struct.dataclass
class CountState:
    t: jax.Array  # int32[] steps taken
    start: jax.Array  # float32[] drawn at reset, identifies the episode


class CountEnv(Environment):
    """Test env. Observation: float32[2] = (t, start) with `start` ~ U(0, 1) drawn at reset.
    Action: Discrete(3). Reward: action + 0.5 * t (t before the step). Terminates when
    action == 2; truncates after `max_steps` steps. Mask: action 1 is valid on even t.
    info[INVALID_ACTION] = action 1 taken on odd t."""

    name = "count"

    def __init__(self, max_steps: int = 4):
        self.max_steps = max_steps

    @property
    def spec(self):
        return EnvSpec(Box(-np.inf, np.inf, (2,)), Discrete(3), self.max_steps)

    def _obs(self, s):
        return jnp.stack([s.t.astype(jnp.float32), s.start])

    def _mask(self, s):
        return jnp.array([True, False, True]).at[1].set(s.t % 2 == 0)

    def reset_env(self, key, params):
        s = CountState(jnp.int32(0), jax.random.uniform(key))
        return s, scalar_timestep(self._obs(s), 0.0, False, False, self._mask(s), {INVALID_ACTION: jnp.bool_(False)})

    def step_env(self, key, state, action, params):
        reward = action.astype(jnp.float32) + 0.5 * state.t
        invalid = (action == 1) & (state.t % 2 == 1)
        s = CountState(state.t + 1, state.start)
        return s, scalar_timestep(
            self._obs(s), reward, action == 2, s.t >= self.max_steps, self._mask(s), {INVALID_ACTION: invalid}
        )


def run_steps(env, actions, key=0):
    """Jitted reset + scan over a fixed action sequence; returns (reset TimeStep, TimeSteps[T])."""

    @jax.jit
    def rollout(key, actions):
        k0, k1 = jax.random.split(key)
        state, ts0 = env.reset(k0)

        def body(state, xs):
            k, a = xs
            state, ts = env.step(k, state, a)
            return state, ts

        keys = jax.random.split(k1, actions.shape[0])
        _, traj = jax.lax.scan(body, state, (keys, actions))
        return ts0, traj

    return jax.tree_util.tree_map(np.asarray, rollout(jax.random.PRNGKey(key), jnp.asarray(actions, jnp.int32)))


ACTIONS = [0, 1, 0, 2, 0, 0, 0, 0, 1, 1, 2, 0, 0, 0, 0, 0]


def python_reference(actions, max_steps=4):
    """Expected (t_obs, reward, terminated, truncated, final_t, done) per step, by hand."""
    t, rows = 0, []
    for a in actions:
        reward = a + 0.5 * t
        t += 1
        term, trunc = a == 2, t >= max_steps
        final_t = t
        if term or trunc:
            t = 0
        rows.append((t, reward, term, trunc, final_t))
    return rows


def test_autoreset_semantics():
    ts0, traj = run_steps(AutoReset(CountEnv(max_steps=4)), ACTIONS)
    np.testing.assert_array_equal(ts0.final_obs, ts0.obs)
    np.testing.assert_array_equal(ts0.final_action_mask, ts0.action_mask)
    ref = python_reference(ACTIONS)
    starts = [ts0.obs[1]]
    for i, (t, reward, term, trunc, final_t) in enumerate(ref):
        assert traj.obs[i, 0] == t, i
        assert traj.reward[i] == pytest.approx(reward)
        assert bool(traj.terminated[i]) == term and bool(traj.truncated[i]) == trunc, i
        assert traj.final_obs[i, 0] == final_t, i
        # final_obs belongs to the finished episode (its start), obs to the new one.
        assert traj.final_obs[i, 1] == starts[-1]
        if term or trunc:
            assert traj.obs[i, 1] != starts[-1]  # a fresh reset with a fresh key
            starts.append(traj.obs[i, 1])
        else:
            np.testing.assert_array_equal(traj.final_obs[i], traj.obs[i])
        # The mask belongs to the new observation's state; final_action_mask to final_obs's.
        assert traj.action_mask[i, 1] == (t % 2 == 0)
        assert traj.final_action_mask[i, 1] == (final_t % 2 == 0), i
    # Both kinds of ending happened in this sequence.
    assert traj.terminated.any() and traj.truncated.any() and len(set(starts)) == len(starts)


def test_autoreset_reuse_initial_state():
    ts0, traj = run_steps(AutoReset(CountEnv(max_steps=4), reuse_initial_state=True), ACTIONS)
    done = traj.terminated | traj.truncated
    np.testing.assert_array_equal(traj.obs[done], np.broadcast_to(ts0.obs, traj.obs[done].shape))


@pytest.mark.parametrize("reuse", [False, True])
def test_vec_env_over_autoreset_equals_vmapped_steps(reuse):
    """VecEnv skips AutoReset's resets in steps where no episode ended (step_batch); every
    state and TimeStep equals stepping each env with vmap(AutoReset.step)."""
    inner = AutoReset(EpisodeStats(CountEnv(max_steps=5)), reuse_initial_state=reuse)
    venv = VecEnv(inner, 3)
    # Column 0 terminates at step 6, column 1 never acts 2 (truncates every 5 steps), column 2 at 2 and 9.
    actions = jnp.zeros((12, 3), jnp.int32).at[6, 0].set(2).at[2, 2].set(2).at[9, 2].set(2)

    @jax.jit
    def both(key):
        state, _ = venv.reset(key)

        def body(carry, xs):
            fast, slow = carry
            k, a = xs
            fast, ts_fast = venv.step(k, fast, a)
            keys = jax.random.split(k, 3)
            slow, ts_slow = jax.vmap(inner.step)(keys, slow, a)
            return (fast, slow), (fast, ts_fast, slow, ts_slow)

        keys = jax.random.split(jax.random.fold_in(key, 1), actions.shape[0])
        return jax.lax.scan(body, (state, state), (keys, actions))[1]

    fast, ts_fast, slow, ts_slow = both(jax.random.PRNGKey(4))
    chex.assert_trees_all_equal((fast, ts_fast), (slow, ts_slow))
    done = np.asarray(ts_fast.terminated | ts_fast.truncated)
    assert done.any(axis=1).sum() >= 3 and (~done.any(axis=1)).sum() >= 3  # both branches taken


def test_episode_stats_match_python_recount():
    ts0, traj = run_steps(AutoReset(EpisodeStats(CountEnv(max_steps=4))), ACTIONS)
    assert ts0.info[EPISODE_RETURN] == 0 and ts0.info[EPISODE_LENGTH] == 0
    ret, length, last_ret, last_len = 0.0, 0, 0.0, 0
    for i, (_, reward, term, trunc, _) in enumerate(python_reference(ACTIONS)):
        ret, length = ret + reward, length + 1
        if term or trunc:
            last_ret, last_len, ret, length = ret, length, 0.0, 0
        assert traj.info[EPISODE_DONE][i] == (term or trunc)
        assert traj.info[EPISODE_RETURN][i] == pytest.approx(last_ret), i
        assert traj.info[EPISODE_LENGTH][i] == last_len, i
    # Inner info passes through.
    np.testing.assert_array_equal(traj.info[INVALID_ACTION], [False, True] + [False] * 6 + [False, True] + [False] * 6)


def test_time_limit_shortens_and_terminated_wins():
    env = TimeLimit(CountEnv(max_steps=4), 2)
    assert env.spec.max_episode_steps == 2
    _, traj = run_steps(AutoReset(env), [0, 0, 0, 2, 0])
    np.testing.assert_array_equal(traj.truncated, [False, True, False, False, False])
    np.testing.assert_array_equal(traj.terminated, [False, False, False, True, False])
    with pytest.raises(ValueError, match="cannot exceed"):
        TimeLimit(CountEnv(max_steps=4), 10)
    with pytest.raises(ValueError, match="max_steps=0"):
        TimeLimit(CountEnv(), 0)


def test_vec_env_shapes_keys_and_checks():
    env = VecEnv(AutoReset(CountEnv()), 3)
    state, ts = env.reset(jax.random.PRNGKey(0))
    assert ts.obs.shape == (3, 2) and ts.action_mask.shape == (3, 3) and ts.reward.shape == (3,)
    assert len(set(np.asarray(ts.obs[:, 1]).tolist())) == 3  # keys split per env
    assert env.spec == CountEnv().spec and env.num_envs == 3
    state, ts = jax.jit(env.step)(jax.random.PRNGKey(1), state, jnp.array([0, 2, 1], jnp.int32))
    np.testing.assert_array_equal(ts.terminated, [False, True, False])
    np.testing.assert_array_equal(ts.obs[:, 0], [1, 0, 1])
    with pytest.raises(ValueError, match="num_envs=3"):
        env.step(jax.random.PRNGKey(1), state, jnp.zeros((2,), jnp.int32))
    with pytest.raises(TypeError, match="integer dtype"):  # per-env check under vmap
        env.step(jax.random.PRNGKey(1), state, jnp.zeros((3,), jnp.float32))


def test_running_stats_match_numpy():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, (n, 4)).astype(np.float32) for n in (5, 1, 17)]
    stats = running_stats.init((4,))
    for b in batches:
        stats = running_stats.update(stats, b)
    allx = np.concatenate(batches)
    np.testing.assert_allclose(stats.mean, allx.mean(0), rtol=1e-5)
    np.testing.assert_allclose(stats.var, allx.var(0), rtol=1e-4)
    assert stats.count == len(allx)
    x = rng.normal(size=(2, 4)).astype(np.float32)
    np.testing.assert_allclose(
        running_stats.normalize(stats, x), (x - allx.mean(0)) / np.sqrt(allx.var(0) + 1e-8), rtol=1e-4, atol=1e-5
    )
    # Two batch axes, and no batch axis.
    s2 = running_stats.update(running_stats.init((4,)), allx[:22].reshape(2, 11, 4))
    np.testing.assert_allclose(s2.mean, allx[:22].mean(0), rtol=1e-5)
    s1 = running_stats.update(running_stats.init(()), jnp.float32(2.0))
    assert s1.count == 1 and s1.mean == 2.0 and s1.var == 0.0
    with pytest.raises(ValueError, match="stats shape"):
        running_stats.update(stats, np.zeros((3, 5)))


def test_normalize_obs_moments_match_numpy():
    env = NormalizeObs(VecEnv(AutoReset(CountEnv(max_steps=3)), 4))
    assert env.num_envs == 4
    state, ts = env.reset(jax.random.PRNGKey(0))
    raw_obs = lambda s: np.stack([np.asarray(s.env_state.env_state.t, np.float32), np.asarray(s.env_state.env_state.start)], -1)
    seen = [raw_obs(state)]  # the raw observations the statistics should have seen
    step = jax.jit(env.step)
    actions = [[0, 0, 2, 0], [0, 1, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0]]
    for i, a in enumerate(actions):
        state, ts = step(jax.random.PRNGKey(i + 1), state, jnp.asarray(a, jnp.int32))
        seen.append(raw_obs(state))
    allobs = np.concatenate(seen)
    np.testing.assert_allclose(state.obs_stats.mean, allobs.mean(0), rtol=1e-5)
    np.testing.assert_allclose(state.obs_stats.var, allobs.var(0), rtol=1e-4)
    expect = np.clip((seen[-1] - allobs.mean(0)) / np.sqrt(allobs.var(0) + 1e-8), -10, 10)
    np.testing.assert_allclose(ts.obs, expect, rtol=1e-4, atol=1e-5)
    # final_obs is normalised with the same statistics. In the last step every env took
    # action 0, so its final observation is (previous t + 1, previous start); env 2 ended.
    assert ts.truncated.tolist() == [False, False, True, False]
    final_raw = seen[-2] + np.array([1.0, 0.0])
    expect_final = (final_raw - allobs.mean(0)) / np.sqrt(allobs.var(0) + 1e-8)
    np.testing.assert_allclose(ts.final_obs, expect_final, rtol=1e-4, atol=1e-5)


def test_wrap_for_training_and_find_wrapper():
    env = wrap_for_training(CountEnv(), 2, normalize_obs=True)
    assert isinstance(env, NormalizeObs)
    assert find_wrapper(env, VecEnv).num_envs == 2
    assert isinstance(find_wrapper(env, AutoReset).env, EpisodeStats)
    assert find_wrapper(env, TimeLimit) is None
    # An EpisodeStats already in the stack is not duplicated.
    inner = TimeLimit(EpisodeStats(CountEnv()), 3)
    env2 = wrap_for_training(inner, 2)
    assert isinstance(env2, VecEnv) and find_wrapper(env2, AutoReset).env is inner
    state, ts = env2.reset(jax.random.PRNGKey(0))
    assert ts.info[EPISODE_RETURN].shape == (2,)
    with pytest.raises(ValueError, match="without AutoReset"):
        wrap_for_training(env2, 2)
