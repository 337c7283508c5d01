"""The reference heuristics of the CVRP, BinPack and JobShop experiments
(envs/jumanji_heuristics.py): over batches of whole episodes, each takes only actions that
Jumanji's own rules allow (read from the Jumanji state, not from the adapter's mask) and the
adapter's mask, and beats the random valid policy on the same instances.

Each env's two policies run in one jitted program that traces the env once (episodes and
policies vmapped together, steps scanned), so each test compiles one env step.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

jumanji = pytest.importorskip("jumanji", reason="needs the jumanji extra")

import envs  # noqa: E402
from envs.jumanji_heuristics import (  # noqa: E402
    binpack_largest_first_fit,
    cvrp_nearest_neighbour,
    jobshop_shortest_processing_time,
)
from jaxrl_actions.run.references import random_valid  # noqa: E402
from jaxrl_actions.types import INVALID_ACTION  # noqa: E402


# Jumanji's own validity test of an action, from its state (the `is_valid` of each env's step).
def cvrp_valid(env, jstate, action):
    return ~jstate.visited_mask[action] & (jstate.capacity >= jstate.demands[action])


def binpack_valid(env, jstate, action):
    return jstate.action_mask[tuple(env.to_jumanji_action(action))]


def jobshop_valid(env, jstate, action):
    machines = jnp.arange(jstate.action_mask.shape[0])
    return jnp.all(jstate.action_mask[machines, env.to_jumanji_action(action)])


def play(env, policies, episodes, steps, seed=0):
    """For each policy on the same `episodes` instances, `steps` steps each: the return (the
    rewards up to the first done), whether the episode ended, and the live steps whose action
    Jumanji's rules forbid, the mask forbids, or the adapter flags as invalid."""
    valid_fn = {"jumanji/CVRP-v1": cvrp_valid, "jumanji/BinPack-v2": binpack_valid,
                "jumanji/JobShop-v0": jobshop_valid}[env.name]
    space = env.spec.action_space

    acts = [make(env) for make in policies]

    def episode(policy, key):
        act = lambda obs, mask, key: jnp.stack([a(obs, mask, key) for a in acts])[policy]  # noqa: E731
        reset_key, key = jax.random.split(key)
        state, ts = env.reset(reset_key)

        def step(carry, key):
            state, ts, ret, done, bad = carry
            act_key, step_key = jax.random.split(key)
            action = act(ts.obs, ts.action_mask, act_key)
            illegal = jnp.stack([~valid_fn(env, state.jumanji_state, action), ~space.respects(action, ts.action_mask)])
            state, ts = env.step(step_key, state, action)
            illegal = jnp.concatenate([illegal, ts.info[INVALID_ACTION][None]])
            bad = bad + (illegal & ~done)
            return (state, ts, ret + jnp.where(done, 0.0, ts.reward), done | ts.done, bad), None

        init = (state, ts, jnp.float32(0.0), jnp.bool_(False), jnp.zeros(3, jnp.int32))
        (_, _, ret, done, bad), _ = jax.lax.scan(step, init, jax.random.split(key, steps))
        return ret, done, bad

    @jax.jit
    def run(keys):
        policy = jnp.repeat(jnp.arange(len(acts)), len(keys))  # every policy on the same keys
        return jax.vmap(episode)(policy, jnp.tile(keys, len(acts)))

    out = run(jax.random.split(jax.random.key(seed), episodes))
    return [tuple(np.asarray(x).reshape(len(acts), episodes, *x.shape[1:])[i] for x in out) for i in range(len(acts))]


CASES = {
    # name: (heuristic, episodes, steps); steps cover the heuristic's whole episodes
    "jumanji/CVRP-v1": (cvrp_nearest_neighbour, 16, 40),  # <= 40 steps (20 customers, 20 depot returns)
    "jumanji/BinPack-v2": (binpack_largest_first_fit, 16, 20),  # <= 20 items
    "jumanji/JobShop-v0": (jobshop_shortest_processing_time, 8, 120),  # SPT makespans are about 60
}


@pytest.mark.parametrize("name", list(CASES))
def test_heuristic_takes_valid_actions_and_beats_random_valid(name):
    heuristic, episodes, steps = CASES[name]
    env = envs.make(name)
    (h_ret, h_done, h_bad), (r_ret, _, r_bad) = play(env, [heuristic, random_valid], episodes, steps)
    assert h_done.all(), f"{name}: {heuristic.__name__} left {(~h_done).sum()} episodes unfinished in {steps} steps"
    # per policy: live steps that Jumanji's rules / the mask / the adapter's flag call invalid
    np.testing.assert_array_equal(h_bad.sum(0), 0)
    np.testing.assert_array_equal(r_bad.sum(0), 0)  # and the checks agree with the random valid policy's sampling
    # Rewards are <= 0 in CVRP and JobShop, so an unfinished random episode's return only
    # overstates its final one; in BinPack every random episode ends within the 20 steps.
    assert h_ret.mean() > r_ret.mean() + 0.1 * abs(r_ret.mean()), (name, h_ret.mean(), r_ret.mean())
