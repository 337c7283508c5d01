"""The MuJoCo Playground adapter (`jaxrl_actions.adapters.playground`, `envs/dmc.py`).

MJX compiles slowly on CPU, so one test compiles one program: cartpole_balance's reset and
its step with and without action repeat, on a 5-task-step episode. The conformance test
checks dmc/cartpole_swingup under jit(vmap) (every dmc task with JAXRL_ALL_ENVS=1).
"""
import importlib.util
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.dmc import TASKS
from jaxrl_actions.adapters.playground import PlaygroundEnv, dmc_task_names
from jaxrl_actions.spaces import Box

needs_playground = pytest.mark.skipif(importlib.util.find_spec("mujoco_playground") is None,
                                      reason='MuJoCo Playground is not installed (pip install -e ".[dmc]")')
LIMIT = 5  # task steps per episode in the compiled test
REPEAT = 2


def test_missing_playground_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mujoco_playground", None)  # `import mujoco_playground` now fails
    with pytest.raises(ImportError, match=r'pip install -e "\.\[dmc\]"'):
        envs.make("dmc/cartpole_swingup")


@needs_playground
def test_registered_tasks_match_playground():
    """Every playground DMC task is registered as dmc/<snake_case> with the declared action
    size and control step, a 1000-task-step limit and actuators whose ctrlrange is the action
    space's [-1, 1]. The observation sizes need a trace of each task's reset (minutes for all
    on CPU), so by default only cartpole_balance's is checked (in the compiled test below);
    JAXRL_ALL_ENVS=1 checks every spec."""
    assert sorted(t.playground_name for t in TASKS.values()) == dmc_task_names()
    registered = {f"dmc/{name}" for name in TASKS}
    assert registered <= set(envs.names()) and registered <= envs.HEAVY
    for name, task in TASKS.items():
        env = envs.make(f"dmc/{name}")
        assert env.name == f"dmc/{name}" and env.impl == "jax"
        assert env.pg_env.action_size == task.action_size and env.episode_length == 1000, name
        assert env.pg_env.dt == pytest.approx(task.control_dt), name
        model = env.pg_env.mj_model
        assert model.actuator_ctrllimited.all() and (np.abs(model.actuator_ctrlrange) == 1).all(), name
        if os.environ.get("JAXRL_ALL_ENVS") == "1":
            assert env.spec.obs_space == Box(-np.inf, np.inf, (task.obs_size,)), name
            assert env.spec.action_space == Box(-1.0, 1.0, (task.action_size,)), name
            assert env.spec.max_episode_steps == 1000, name


@needs_playground
def test_bad_names_and_arguments_fail_before_compiling():
    with pytest.raises(KeyError, match="cartpole_swingupp.*known: .*cartpole_swingup.*walker_walk"):
        PlaygroundEnv.from_name("cartpole_swingupp")
    with pytest.raises(KeyError, match="dmc/cartpole_swingup"):
        envs.make("dmc/cartpole_swingupp")
    with pytest.raises(ValueError, match="'mjx'"):
        envs.make("dmc/cartpole_swingup", impl="mjx")
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match=f"action_repeat={bad}"):
            envs.make("dmc/cartpole_swingup", action_repeat=bad)
    env = envs.make("dmc/pendulum_swingup", action_repeat=3, episode_length=10)
    assert env.spec.max_episode_steps == 4  # ceil(10 / 3): the last env step runs one task step
    assert repr(PlaygroundEnv.from_name("PendulumSwingup")) == repr(PlaygroundEnv.from_name("pendulum_swingup"))


@needs_playground
def test_truncation_action_repeat_and_shapes():
    """Same reset, same actions: the repeated env's rewards are sums of the plain env's over
    consecutive pairs, its observations are every second one, both truncate exactly at the
    5-task-step limit (the repeated env after ceil(5 / 2) = 3 steps, the last one a single
    task step) and neither ever terminates."""
    plain = envs.make("dmc/cartpole_balance", episode_length=LIMIT)
    repeated = PlaygroundEnv(plain.pg_env, action_repeat=REPEAT)
    assert plain.spec.max_episode_steps == LIMIT and repeated.spec.max_episode_steps == 3
    obs_size = TASKS["cartpole_balance"].obs_size
    assert plain.spec.obs_space == Box(-np.inf, np.inf, (obs_size,))

    def rollouts(key, actions):  # actions: float32[3, 1], one per repeated step
        state, first = plain.reset(key)
        step = lambda env: (lambda s, a: env.step(key, s, a))
        _, ts_plain = jax.lax.scan(step(plain), state, jnp.repeat(actions, REPEAT, axis=0)[:LIMIT])
        _, ts_repeated = jax.lax.scan(step(repeated), state, actions)
        return first, ts_plain, ts_repeated

    actions = jax.random.uniform(jax.random.key(1), (3, 1), minval=-1, maxval=1)
    first, ts_plain, ts_repeated = jax.jit(rollouts)(jax.random.key(0), actions)

    for ts, length in ((first, ()), (ts_plain, (LIMIT,)), (ts_repeated, (3,))):
        assert ts.obs.shape == length + (obs_size,) and ts.obs.dtype == jnp.float32
        assert ts.reward.shape == length and ts.reward.dtype == jnp.float32
        assert ts.terminated.dtype == jnp.bool_ and not np.asarray(ts.terminated).any()
        assert np.isfinite(np.asarray(ts.obs)).all() and ts.action_mask is None
    assert not bool(first.truncated)
    np.testing.assert_array_equal(ts_plain.truncated, [False] * (LIMIT - 1) + [True])
    np.testing.assert_array_equal(ts_repeated.truncated, [False, False, True])

    r = np.asarray(ts_plain.reward)
    assert r.min() > 0.5 and np.ptp(r) > 0  # upright start: rewards near 1 that change step to step
    np.testing.assert_allclose(ts_repeated.reward, [r[0] + r[1], r[2] + r[3], r[4]], rtol=1e-6)
    np.testing.assert_allclose(ts_repeated.obs, np.asarray(ts_plain.obs)[[1, 3, 4]], rtol=1e-6, atol=1e-6)
