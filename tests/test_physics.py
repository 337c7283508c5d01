"""The brax/MJX adapter (`jaxrl_actions.adapters.brax`, `envs/physics.py`).

MJX compiles slowly on CPU, so each test compiles one small program: hopper parity and
shapes share one `jit(vmap(scan))`; the flag test steps two inverted pendulums together.
"""
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from jaxrl_actions.spaces import Box

HOPPER_STEPS = 50
PENDULUM_LIMIT = 12


@pytest.fixture(scope="module")
def hopper():
    return envs.make("hopper")


def test_registered_with_brax_shapes(hopper):
    from envs.physics import TASKS

    assert set(TASKS) <= set(envs.names()) and set(TASKS) <= envs.HEAVY
    built = {"hopper": hopper, "inverted_pendulum": envs.make("inverted_pendulum"), "swimmer": envs.make("swimmer")}
    for name, env in built.items():
        task = TASKS[name]
        assert env.spec.obs_space == Box(-np.inf, np.inf, (task.obs_size,)), name
        assert env.spec.action_space == Box(-1.0, 1.0, (task.action_size,)), name
        assert env.spec.max_episode_steps == 1000
    assert hopper.brax_env.backend == "mjx" and built["swimmer"].brax_env.backend == "generalized"


def test_kwargs_reach_brax_and_bad_names_fail():
    env = envs.make("hopper", backend="positional", max_steps=7, reset_noise_scale=0.0)
    assert env.brax_env.backend == "positional" and env.max_steps == 7
    assert env.brax_env._reset_noise_scale == 0.0  # passed through to brax's constructor
    with pytest.raises(ValueError, match="max_steps"):
        envs.make("hopper", max_steps=0)
    from jaxrl_actions.adapters.brax import BraxEnv

    with pytest.raises(KeyError, match="hoper"):
        BraxEnv.from_name("hoper")


def test_hopper_matches_brax_and_has_declared_shapes(hopper):
    """Same reset key and actions: our obs/rewards equal brax's unwrapped env for 50 steps,
    under jit(vmap) with the declared shapes and no NaN."""
    brax_env = hopper.brax_env
    spec = hopper.spec

    def rollout(key):
        k_reset, k_actions = jax.random.split(key)
        actions = jax.random.uniform(k_actions, (HOPPER_STEPS,) + spec.action_space.shape, minval=-1, maxval=1)
        ours, ts0 = hopper.reset(k_reset)
        theirs = brax_env.reset(k_reset)

        def step(carry, action):
            ours, theirs = carry
            ours, ts = hopper.step(jax.random.key(0), ours, action)
            theirs = brax_env.step(theirs, action)
            return (ours, theirs), (ts, theirs.obs, theirs.reward, theirs.done)

        _, out = jax.lax.scan(step, (ours, theirs), actions)
        return ts0, theirs.obs, out

    ts0, brax_obs0, (ts, brax_obs, brax_reward, brax_done) = jax.jit(jax.vmap(rollout))(
        jax.random.split(jax.random.key(3), 2))
    np.testing.assert_allclose(ts0.obs, brax_obs0, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ts.obs, brax_obs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ts.reward, brax_reward, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ts.terminated, np.asarray(brax_done) > 0.5)
    assert not np.asarray(ts.truncated).any()

    assert ts.obs.shape == (2, HOPPER_STEPS, 11) and ts.obs.dtype == jnp.float32
    assert ts.reward.shape == (2, HOPPER_STEPS) and ts.reward.dtype == jnp.float32
    assert ts.terminated.dtype == jnp.bool_ and ts.truncated.dtype == jnp.bool_
    assert ts.action_mask is None and ts.info == {}
    assert np.isfinite(np.asarray(ts.obs)).all() and np.isfinite(np.asarray(ts.reward)).all()


def test_truncation_and_termination_flags():
    """Two pendulums: one held still is truncated exactly at the limit; one pushed hard
    falls first and is terminated (not truncated), matching brax's done."""
    env = envs.make("inverted_pendulum", max_steps=PENDULUM_LIMIT)

    def run(key, push):
        state, _ = env.reset(key)

        def step(state, _):
            state, ts = env.step(key, state, jnp.full((1,), push))
            return state, (ts.terminated, ts.truncated, state.brax_state.done, state.time)

        return jax.lax.scan(step, state, None, length=PENDULUM_LIMIT)[1]

    terminated, truncated, brax_done, time = jax.jit(jax.vmap(run))(
        jax.random.split(jax.random.key(0), 2), jnp.array([0.0, 1.0]))
    terminated, truncated = np.asarray(terminated), np.asarray(truncated)
    np.testing.assert_array_equal(terminated, np.asarray(brax_done) > 0.5)
    np.testing.assert_array_equal(np.asarray(time[0]), np.arange(1, PENDULUM_LIMIT + 1))
    # held still: upright for the whole episode, truncated only at the last step
    assert not terminated[0].any()
    assert truncated[0].tolist() == [False] * (PENDULUM_LIMIT - 1) + [True]
    # pushed: falls before the limit, never flagged truncated on a terminal step
    first_fall = int(np.argmax(terminated[1]))
    assert terminated[1].any() and first_fall < PENDULUM_LIMIT - 1
    assert not (terminated[1] & truncated[1]).any()


def test_brax_import_noise_is_filtered():
    code = "import envs; env = envs.make('halfcheetah'); print('built', env.spec.action_space)"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-W", "default", "-c", code], cwd=root, capture_output=True, text=True,
                         env={**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": root}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "built Box(-1, 1, (6,))" in out.stdout
    for noise in ("Failed to import warp", "not actively being", "settotalmass"):
        assert noise not in out.stdout + out.stderr, noise
