"""ARSQ: the soft advantages are normalised, Q is V plus the advantages of each position given
the positions before it (checked against a position-by-position reference), greedy acting
takes each position's argmax in turn, the target is the twins' min target value, and the agent
learns to balance cartpole_continuous."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import LEARNED_FACTOR, LEARNED_FLOOR, balance_learning
from jaxrl_actions.agents import arsq
from jaxrl_actions.agents.coarse_to_fine import levels_to_action, refine
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.spaces import Box
from jaxrl_actions.types import Transition

SPEC = EnvSpec(Box(-np.inf, np.inf, (4,)), Box(-2 * np.ones(3), 2 * np.ones(3)), 10)
CONFIG = arsq.ARSQConfig(levels=2, bins=3, hidden_sizes=(16,), alpha=0.5)


@pytest.fixture(scope="module")
def state():
    init = jax.jit(lambda key: arsq.init(key, SPEC, CONFIG))
    # a non-trivial target: the online net of another seed
    return init(jax.random.PRNGKey(0)).replace(target_params=init(jax.random.PRNGKey(1)).q.params)


def reference_q(state, obs, choices):
    """Q_i by deciding the positions one at a time, as acting does."""
    apply = jax.jit(arsq._network(state).apply)
    low, width = np.full(3, -1.0), np.full(3, 2.0)
    values, logits = apply(state.q.params, obs, jnp.zeros(3))
    total = np.asarray(values, np.float64).copy()
    for level in range(2):
        for d in range(3):
            _, logits = apply(state.q.params, obs, jnp.asarray(low + width / 2, jnp.float32))
            u = np.asarray(logits, np.float64).reshape(2, 6, 3)[:, level * 3 + d]  # [twin, bins]
            adv = u - 0.5 * np.log(np.sum(np.exp(u / 0.5), axis=-1, keepdims=True))
            total += adv[:, choices[level, d]]
            low[d], width[d] = low[d] + choices[level, d] * width[d] / 3, width[d] / 3
    return total


def test_soft_advantages_are_normalised_and_q_sums_them_in_order(state):
    obs = jax.random.normal(jax.random.PRNGKey(2), (5, 4))
    choices = jax.random.randint(jax.random.PRNGKey(3), (5, 2, 3), 0, 3)
    adv = arsq.advantages(state, state.q.params, obs, jnp.zeros((5, 3)))
    np.testing.assert_allclose(np.sum(np.exp(np.asarray(adv) / 0.5), axis=-1), 1.0, rtol=1e-5)
    q = np.asarray(jax.jit(lambda o, c: arsq.soft_q(state, state.q.params, o, c))(obs, choices))
    for i in range(5):
        np.testing.assert_allclose(q[i], reference_q(state, obs[i], np.asarray(choices[i])), rtol=1e-5, atol=1e-5)


def test_greedy_act_takes_each_positions_argmax_and_maps_to_the_bounds(state):
    obs = jnp.array([0.3, -1.0, 0.5, 2.0])
    act = jax.jit(lambda mask, key, deterministic: arsq.act(state, obs, mask, key, deterministic), static_argnums=2)
    action = np.asarray(act(None, jax.random.PRNGKey(0), True))
    outputs = jax.jit(lambda centres: arsq.advantages(state, state.q.params, obs, centres))
    low, width, choices = np.full(3, -1.0), np.full(3, 2.0), np.zeros((2, 3), int)
    for level in range(2):
        for d in range(3):
            adv = outputs(jnp.asarray(low + width / 2, jnp.float32))
            k = int(np.argmax(np.min(np.asarray(adv)[:, level * 3 + d], axis=0)))
            choices[level, d] = k
            low[d], width[d] = low[d] + k * width[d] / 3, width[d] / 3
    np.testing.assert_allclose(action, 2.0 * np.asarray(levels_to_action(jnp.asarray(choices), 3)), atol=1e-6)
    # Sampling stays on the grid of finest centres and inside a mask.
    mask = (jnp.array([-0.5, -2.0, 0.0]), jnp.array([0.5, 2.0, 0.1]))
    keys = jax.random.split(jax.random.PRNGKey(4), 64)
    sampled = np.asarray(jax.jit(jax.vmap(lambda k: act(mask, k, False)))(keys))
    assert np.all(sampled >= np.asarray(mask[0])) and np.all(sampled <= np.asarray(mask[1]))
    assert len(np.unique(sampled[:, 1])) > 1  # alpha 0.5: not deterministic


def test_target_is_the_min_of_the_twin_target_values(state):
    b = 4
    next_obs = jax.random.normal(jax.random.PRNGKey(5), (b, 4))
    batch = Transition(next_obs, jnp.zeros((b, 3)), jnp.arange(b, dtype=jnp.float32), jnp.array([0, 1, 0, 0], bool),
                       jnp.zeros(b, bool), next_obs, None, None)
    values, _ = arsq._network(state).apply(state.target_params, next_obs, jnp.zeros((b, 3)))
    expected = np.arange(b) + 0.99 * np.array([1, 0, 1, 1]) * np.min(np.asarray(values), axis=-1)
    np.testing.assert_allclose(arsq.targets(state, batch), expected, rtol=1e-5)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="bins=1"):
        arsq.init(jax.random.PRNGKey(0), SPEC, arsq.ARSQConfig(bins=1))
    with pytest.raises(ValueError, match="alpha"):
        arsq.init(jax.random.PRNGKey(0), SPEC, arsq.ARSQConfig(alpha=0.0))


def test_arsq_learns_to_balance(cartpole_continuous):
    config = arsq.ARSQConfig(total_steps=10_000, num_envs=4, batch_size=128, buffer_size=20_000, warmup_steps=1_000,
                             hidden_sizes=(64, 64), levels=2, bins=5, lr=1e-3)
    untrained, trained = balance_learning(cartpole_continuous, arsq.AGENT, config)
    assert trained > LEARNED_FACTOR * untrained and trained > LEARNED_FLOOR, (untrained, trained)
