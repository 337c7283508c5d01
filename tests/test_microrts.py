"""MicrortsMining against hand-worked µRTS rules (envs/microrts.py)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.microrts import ATTACK, BASE, HARVEST, INVALID_PARAMETER, MOVE, NONE, PRODUCE, RETURN, WORKER
from jaxrl_actions.types import INVALID_ACTION

SIZE = 4


@pytest.fixture(scope="module")
def env():
    env = envs.make(f"microrts_mining_{SIZE}x{SIZE}")
    return env, jax.jit(env.step)


def act(x, y, kind, direction=0, produced=0, target=0):
    """The action vector commanding the unit at (x, y)."""
    a = np.zeros(8, np.int32)
    a[0], a[1], a[6], a[7] = y * SIZE + x, kind, produced, target
    if kind in (MOVE, HARVEST, RETURN, PRODUCE):
        a[{MOVE: 2, HARVEST: 3, RETURN: 4, PRODUCE: 5}[kind]] = direction
    return jnp.asarray(a)


UP, RIGHT, DOWN, LEFT = range(4)


def test_scripted_worker_empties_the_near_resource_for_40(env):
    env, step = env
    key = jax.random.PRNGKey(0)
    s, ts = env.reset(key)
    s, ts = step(key, s, act(1, 1, MOVE, UP))  # worker (1,1) -> (1,0), next to the resource at (0,0)
    total = 0.0
    for _ in range(20):  # harvest left, step right, return down into the base at (2,1), step back
        for a in (act(1, 0, HARVEST, LEFT), act(1, 0, MOVE, RIGHT), act(2, 0, RETURN, DOWN), act(2, 0, MOVE, LEFT)):
            s, ts = step(key, s, a)
            total += float(ts.reward)
            assert not bool(ts.info[INVALID_ACTION]) and not bool(ts.info[INVALID_PARAMETER])
    assert total == 40.0 and int(s.player_resources) == 5 + 20 and int(s.time) == 81
    assert int(s.utype[0]) == 0  # the depleted resource is gone
    s, ts = step(key, s, act(1, 0, HARVEST, LEFT))  # nothing left to harvest: NONE, no reward
    assert float(ts.reward) == 0.0 and bool(ts.info[INVALID_PARAMETER]) and not bool(ts.info[INVALID_ACTION])


def test_invalid_sources_and_the_partial_mask(env):
    env, step = env
    key = jax.random.PRNGKey(0)
    s, ts = env.reset(key)
    for source in ((3, 0), (1, 2), (0, 0)):  # an empty cell, the enemy base, a resource
        _, bad = step(key, s, act(*source, MOVE, UP))
        assert bool(bad.info[INVALID_ACTION]) and float(bad.reward) == 0.0
    mask = np.asarray(ts.action_mask)
    assert np.flatnonzero(mask[:16]).tolist() == [1 * SIZE + 1, 1 * SIZE + 2]  # own worker and base
    assert mask[16:16 + 6 + 16 + 7].all()  # types, directions and produce type are not masked
    assert np.flatnonzero(mask[-16:]).tolist() == [2 * SIZE + 1, 2 * SIZE + 2]  # enemy base and worker
    samples = jax.vmap(lambda k: env.spec.action_space.sample(k, ts.action_mask))(jax.random.split(key, 256))
    assert set(np.asarray(samples[:, 0]).tolist()) <= {5, 6} and set(np.asarray(samples[:, 7]).tolist()) <= {9, 10}


def test_production_keeps_the_base_busy_then_spawns_a_worker(env):
    env, step = env
    key = jax.random.PRNGKey(0)
    s, _ = env.reset(key)
    s, ts = step(key, s, act(2, 1, PRODUCE, RIGHT, produced=WORKER))  # worker: 50 cycles, cost 1
    base = 1 * SIZE + 2
    for _ in range(4):  # busy for 4 observations, not selectable meanwhile
        assert int(s.action[base]) == PRODUCE and not bool(ts.action_mask[base])
        s, ts = step(key, s, act(1, 1, NONE))
    assert int(s.utype[1 * SIZE + 3]) == WORKER and int(s.player_resources) == 4 and bool(ts.action_mask[base])
    # a base cannot produce a base: NONE for the base's produce time, looking idle but busy
    s, ts = step(key, s, act(2, 1, PRODUCE, UP, produced=BASE))
    assert bool(ts.info[INVALID_PARAMETER]) and bool(ts.action_mask[base]) and int(s.busy[base]) > 0
    _, ts = step(key, s, act(2, 1, MOVE, UP))
    assert bool(ts.info[INVALID_ACTION])  # busy with a non-NONE type: an invalid source


def test_attack_adjacent_enemy_worker_and_episode_limit(env):
    env, step = env
    key = jax.random.PRNGKey(0)
    s, _ = env.reset(key)
    s, ts = step(key, s, act(1, 1, ATTACK, target=2 * SIZE + 2))  # enemy worker at (2,2): diagonal, out of range
    assert bool(ts.info[INVALID_PARAMETER]) and int(s.utype[2 * SIZE + 2]) == WORKER
    s, ts = step(key, s, act(1, 1, MOVE, DOWN))  # blocked by the enemy base at (1,2)
    assert bool(ts.info[INVALID_PARAMETER])
    s, ts = step(key, s, act(1, 1, MOVE, LEFT))  # (0,1)
    for _ in range(196):
        s, ts = step(key, s, act(0, 1, NONE))
    assert not bool(ts.truncated)
    s, ts = step(key, s, act(0, 1, NONE))
    assert bool(ts.truncated) and not bool(ts.terminated) and int(s.time) == 200
