"""Every registered env keeps the Environment contract (parametrised over `envs.names()`, so
it grows as envs are registered).

For each env, a batch of `BATCH` copies runs under `jit(vmap(...))` (compiled once, checked
with `chex.assert_max_traces`) for a number of steps with random actions drawn from the
mask. Each step checks: obs in the obs space, mask shape and at least one valid action, the
sampled action respects the mask and never reports INVALID_ACTION, finite reward, bool
scalar flags, reset and step TimeSteps of one structure (so AutoReset can select between
them and scan can carry them), the env's own time limit, and reset is deterministic given its key. Envs in `envs.HEAVY` (physics)
run fewer steps.

Adapted envs (`jumanji/<Id>`, `gymnax/<Id>`) are skipped when their package is missing; by
default five of them run (ADAPTER_SAMPLE), all with JAXRL_ALL_ENVS=1.
"""
import chex
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from jaxrl_actions.spaces import Box, Tuple
from jaxrl_actions.types import INVALID_ACTION

BATCH = 2
STEPS = 120
HEAVY_STEPS = 4


@pytest.fixture(autouse=True)
def fresh_trace_counter():
    # chex keys trace counts by the wrapped function's source, shared by every parameter.
    chex.clear_trace_counter()
    yield
    chex.clear_trace_counter()


def leaves_spec(tree):
    return jax.tree_util.tree_structure(tree), [(np.shape(x), jnp.result_type(x)) for x in jax.tree_util.tree_leaves(tree)]


def space_checks(env, ts, action=None, prev_mask=None):
    """Bools computed inside jit for one env (the caller vmaps)."""
    spec = env.spec
    checks = {
        "obs_in_space": spec.obs_space.contains(ts.obs),
        "reward_finite": jnp.isfinite(ts.reward),
    }
    if ts.action_mask is not None:
        checks["mask_has_valid"] = spec.action_space.mask_has_valid(ts.action_mask)
    if action is not None:
        checks["action_in_space"] = spec.action_space.contains(action)
        if prev_mask is not None:
            checks["action_respects_mask"] = spec.action_space.respects(action, prev_mask)
            if INVALID_ACTION in ts.info and env.mask_is_complete:
                checks["masked_action_not_invalid"] = ~ts.info[INVALID_ACTION]
    return checks


def make_batched_fns(env):
    space = env.spec.action_space

    @chex.assert_max_traces(n=1)
    def reset_one(key):
        state, ts = env.reset(key)
        return state, ts, space_checks(env, ts)

    @chex.assert_max_traces(n=1)
    def step_one(key, state, mask):
        k_action, k_step = jax.random.split(key)
        action = space.sample(k_action, mask)
        state, ts = env.step(k_step, state, action)
        return state, ts, action, space_checks(env, ts, action, mask)

    return jax.jit(jax.vmap(reset_one)), jax.jit(jax.vmap(step_one))


def assert_checks(name, checks, where):
    for check, values in checks.items():
        values = np.asarray(values)
        assert values.all(), f"{name}: {check} failed at {where} (per env: {values.tolist()})"


def assert_static_timestep(name, env, ts):
    """Shapes and dtypes of one batched TimeStep (they cannot change between calls)."""
    spec = env.spec
    obs_leaves = jax.tree_util.tree_leaves(ts.obs)
    if not isinstance(spec.obs_space, Tuple):
        (obs,) = obs_leaves
        assert obs.shape == (BATCH,) + spec.obs_space.shape, f"{name}: obs shape {obs.shape[1:]} != {spec.obs_space.shape}"
        assert obs.dtype == spec.obs_space.dtype, f"{name}: obs dtype {obs.dtype} != {spec.obs_space.dtype}"
    for flag in ("terminated", "truncated"):
        value = getattr(ts, flag)
        assert value.shape == (BATCH,) and value.dtype == jnp.bool_, f"{name}: {flag} must be bool[], got {value.dtype}{list(value.shape[1:])}"
    assert ts.reward.shape == (BATCH,) and ts.reward.dtype == jnp.float32, f"{name}: reward must be float32[], got {ts.reward.dtype}"
    assert ts.final_obs is None, f"{name}: bare envs leave final_obs None (AutoReset fills it)"
    mask, mask_shape = ts.action_mask, spec.action_space.mask_shape
    if mask is not None and not isinstance(spec.action_space, (Box, Tuple)):
        assert mask.shape == (BATCH,) + tuple(mask_shape), f"{name}: mask shape {mask.shape[1:]} != {mask_shape}"
        assert mask.dtype == jnp.bool_, f"{name}: mask dtype {mask.dtype} != bool"
    if mask is not None:
        spec.action_space.check_mask_shape(mask)


# Compiling an MJX physics step on CPU takes 10-30 s, so the default suite checks every
# light env and the cheapest physics env (hopper runs in test_physics, inverted_pendulum in
# the learning tests too); JAXRL_ALL_ENVS=1 checks all of them.
PHYSICS_SAMPLE = {"inverted_pendulum"}
# Adapted envs (`<package>/<Id>`, 80+ ids, each a few seconds to compile): the default suite
# checks these six (dmc/cartpole_balance also runs in test_dmc); JAXRL_ALL_ENVS=1 checks
# every one whose package is installed.
ADAPTER_SAMPLE = {"jumanji/Knapsack-v1", "jumanji/TSP-v1", "jumanji/BinPack-v2", "jumanji/JobShop-v0",
                  "gymnax/CartPole-v1", "dmc/cartpole_swingup"}
ADAPTER_MODULES = {"jumanji": "jumanji", "gymnax": "gymnax", "dmc": "mujoco_playground"}  # what each needs
# These download data on first make (Sokoban's levels, MNIST); JAXRL_DOWNLOADS=1 checks them too.
NEEDS_DOWNLOAD = {"jumanji/Sokoban-v0", "gymnax/MNISTBandit-bsuite"}
ALL_ENVS = os.environ.get("JAXRL_ALL_ENVS") == "1"


def adapted_package(name):
    """The package an adapted env comes from ('jumanji', 'gymnax', 'dmc'), or None for our own envs."""
    return name.split("/")[0] if "/" in name else None


def checked(name):
    if adapted_package(name):
        return name in ADAPTER_SAMPLE or (ALL_ENVS and (name not in NEEDS_DOWNLOAD
                                                        or os.environ.get("JAXRL_DOWNLOADS") == "1"))
    return name not in envs.HEAVY or name in PHYSICS_SAMPLE or ALL_ENVS


CHECKED_ENVS = [n for n in envs.names() if checked(n)]


@pytest.mark.parametrize("name", CHECKED_ENVS)
def test_env_conformance(name):
    if adapted_package(name):
        package = adapted_package(name)
        pytest.importorskip(ADAPTER_MODULES[package], reason=f"{name} needs the {package} extra")
    env = envs.make(name)
    assert env.name == name
    spec = env.spec
    limit = spec.max_episode_steps
    steps = HEAVY_STEPS if name in envs.HEAVY else STEPS
    reset, step = make_batched_fns(env)

    key = jax.random.key(0)
    key, k_reset = jax.random.split(key)
    state, ts, checks = reset(jax.random.split(k_reset, BATCH))
    assert_checks(name, checks, "reset")
    assert_static_timestep(name, env, ts)
    reset_structure = leaves_spec(ts)
    again = reset(jax.random.split(k_reset, BATCH))[1]
    chex.assert_trees_all_equal((ts.obs, ts.action_mask), (again.obs, again.action_mask))  # deterministic given the key
    assert not np.asarray(ts.terminated | ts.truncated).any(), f"{name}: reset must not end the episode"

    episode_length = np.zeros(BATCH, int)
    for t in range(steps):
        key, k_step, k_reset = jax.random.split(key, 3)
        state, ts, action, checks = step(jax.random.split(k_step, BATCH), state, ts.action_mask)
        where = f"step {t}"
        assert_checks(name, checks, where)
        assert leaves_spec(ts) == reset_structure, f"{name}: step and reset TimeSteps differ in structure/shapes/dtypes"
        episode_length += 1
        done = np.asarray(ts.terminated | ts.truncated)
        truncated = np.asarray(ts.truncated)
        assert not (np.asarray(ts.terminated) & truncated).any(), f"{name}: terminated and truncated together at {where}"
        if limit is not None:
            assert (episode_length <= limit).all(), f"{name}: episode ran past max_episode_steps={limit}"
            assert done[episode_length == limit].all(), f"{name}: no episode end at max_episode_steps={limit}"
            assert (episode_length[truncated] == limit).all(), f"{name}: truncated before the time limit {limit}"
        if done.any():  # bare envs never auto-reset: restart the whole batch
            state, ts, checks = reset(jax.random.split(k_reset, BATCH))
            assert_checks(name, checks, f"reset after {where}")
            episode_length[:] = 0
