"""MBMA: the model buffer keeps steps FIFO (next observations where known), an imagined
action's advantage is the model's reward plus the discounted value of the model's next state minus the value (horizon 1, against a
hand computation), the policy term averages the real and the counted imagined actions, N and H
ramp as configured, the logged gradient variance agrees with numpy, and on a probe the
many-actions gradient varies less than the real actions' alone (the two coincide before the
model's warm-up) while the agent learns."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from jaxrl_actions.agents import mbma, ppo
from jaxrl_actions.agents.continuous import critic_action
from jaxrl_actions.buffers.rollout import Rollout, flatten_time_env
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.spaces import Box, Discrete
from jaxrl_actions.training import on_policy
from jaxrl_actions.training.common import fused_train
from jaxrl_actions.wrappers import wrap_for_training

SPEC = EnvSpec(Box(-np.inf, np.inf, (3,)), Box(-2 * np.ones(2), 2 * np.ones(2)), 50)
CONFIG = mbma.MBMAConfig(total_steps=64 * 10, num_envs=2, rollout_len=32, num_minibatches=4, update_epochs=1,
                         hidden_sizes=(8,), critic_hidden_sizes=(8,), model_hidden=(8,), model_buffer=100, model_steps=3,
                         model_batch=16, model_warmup_steps=64, action_samples=3, horizon=4, variance_minibatches=4)


@pytest.fixture(scope="module")
def state():
    return jax.jit(lambda key: mbma.init(key, SPEC, CONFIG))(jax.random.PRNGKey(0))


def rollout(key, t=32, b=2):
    k = jax.random.split(key, 4)
    done = jax.random.bernoulli(k[2], 0.1, (t, b))
    return Rollout(jax.random.normal(k[0], (t, b, 3)), jax.random.uniform(k[1], (t, b, 2), minval=-2, maxval=2),
                   jnp.zeros((t, b, 2)), jnp.zeros((t, b)), jnp.zeros((t, b)), jax.random.normal(k[3], (t, b)), done,
                   jnp.zeros((t, b), bool), jnp.zeros((t, b)), None, jnp.zeros((b,)))


def test_model_buffer_is_fifo_and_keeps_only_stored_pairs(state):
    data = rollout(jax.random.PRNGKey(1))
    buffer = mbma.add_rollout(state.buffer, data, SPEC.action_space)
    assert int(buffer.position) == 64
    obs = np.asarray(data.obs)
    np.testing.assert_allclose(buffer.obs[:64], obs.reshape(64, 3))
    np.testing.assert_allclose(buffer.next_obs[:62], obs[1:].reshape(62, 3))  # row t*B+b -> obs[t+1, b]
    np.testing.assert_allclose(buffer.action[:64], np.asarray(data.action).reshape(64, 2) / 2.0)
    has_next = ~np.asarray(data.terminated)
    has_next[-1] = False
    np.testing.assert_array_equal(buffer.has_next[:64], has_next.reshape(-1))
    assert np.asarray(buffer.valid[:64]).all() and not np.asarray(buffer.valid[64:]).any()
    buffer = mbma.add_rollout(buffer, rollout(jax.random.PRNGKey(2)), SPEC.action_space)  # wraps: 128 % 100
    assert int(buffer.position) == 28


def test_imagined_advantage_at_horizon_one_is_the_models_td_error(state):
    obs = jax.random.normal(jax.random.PRNGKey(3), (5, 3))
    imagine = jax.jit(lambda h: mbma.imagine(state, state.model_params, obs, h, jax.random.PRNGKey(4)))
    imagined = imagine(jnp.int32(1))
    policy = state.policy

    @jax.jit
    def reference(o, raw):
        dist = ppo._dist(policy, policy.params, o, None)
        next_obs, reward = mbma.predict(CONFIG, state.model_params, o, critic_action(SPEC.action_space, dist.to_action(raw)))
        return dist.log_prob(raw), reward + 0.99 * ppo.value(policy, next_obs) - ppo.value(policy, o)

    for i in range(5):
        for n in range(3):
            log_prob, expected = reference(obs[i], imagined.raw_action[i, n])
            assert float(imagined.log_prob[i, n]) == pytest.approx(float(log_prob), rel=1e-5)
            assert float(imagined.advantage[i, n]) == pytest.approx(float(expected), rel=1e-4, abs=1e-5)
    longer = imagine(jnp.int32(4))
    assert not np.allclose(longer.advantage, imagined.advantage)


def test_policy_term_averages_real_and_counted_imagined_actions(state):
    data = rollout(jax.random.PRNGKey(5))
    policy = state.policy
    adv, targets = ppo.advantage_targets(data, CONFIG)
    real = flatten_time_env(ppo.PPOBatch(data.obs, data.raw_action, None, data.log_prob, data.value, adv, targets))
    imagined = jax.jit(mbma.imagine)(state, state.model_params, real.obs, jnp.int32(2), jax.random.PRNGKey(6))
    imagined = imagined._replace(log_prob=imagined.log_prob - 0.3)  # ratios away from 1: clipping matters
    total_ppo, metrics = jax.jit(ppo.loss)(policy.params, policy, real)
    mbma_loss = jax.jit(lambda w: mbma.loss(policy.params, policy, mbma.MBMABatch(real, imagined, w))[0])
    total = mbma_loss(jnp.array([1.0, 1.0, 0.0]))
    new_log_probs = jax.jit(jax.vmap(jax.vmap(lambda o, r: ppo._dist(policy, policy.params, o, None).log_prob(r),
                                              in_axes=(None, 0))))(real.obs, imagined.raw_action)

    def clipped(n):
        dist_lp = new_log_probs[:, n]
        ratio = np.exp(np.asarray(dist_lp - imagined.log_prob[:, n]))
        a = np.asarray(imagined.advantage[:, n])
        return np.mean(np.maximum(-a * ratio, -a * np.clip(ratio, 0.8, 1.2)))

    many = (float(metrics["policy_loss"]) + clipped(0) + clipped(1)) / 3.0
    assert float(total) == pytest.approx(float(total_ppo) - float(metrics["policy_loss"]) + many, rel=1e-5)
    zero = mbma_loss(jnp.zeros(3))
    assert float(zero) == pytest.approx(float(total_ppo), rel=1e-6)


def test_samples_and_horizon_ramp_after_the_model_warm_up():
    config = CONFIG.replace(total_steps=64 * 100, ramp_fraction=0.1)  # 100 updates: 10 to ramp
    assert [int(v) for v in mbma.ramp(config, jnp.int32(0))] == [0, 2]
    assert [int(v) for v in mbma.ramp(config, jnp.int32(64))] == [1, 2]  # warm-up done: k = 0
    assert [int(v) for v in mbma.ramp(config, jnp.int32(64 + 64 * 5))] == [2, 4]  # k = 5: 1 + 1.5, 2 + 2
    assert [int(v) for v in mbma.ramp(config, jnp.int32(64 * 50))] == [3, 4]


def test_relative_variance_agrees_with_numpy():
    grads = {"w": jnp.array([[1.0, 2.0], [3.0, 2.0], [2.0, 5.0]]), "b": jnp.array([0.5, 1.5, 1.0])}
    flat = np.c_[np.asarray(grads["b"]), np.asarray(grads["w"])]
    expected = flat.var(0).sum() / np.square(flat.mean(0)).sum()
    assert float(mbma.relative_variance(grads)) == pytest.approx(expected, rel=1e-6)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="variance_minibatches=8"):
        mbma.init(jax.random.PRNGKey(0), SPEC, CONFIG.replace(variance_minibatches=8))
    with pytest.raises(ValueError, match="Box action space"):
        mbma.init(jax.random.PRNGKey(0), EnvSpec(SPEC.obs_space, Discrete(3), 5), CONFIG)


def test_mbma_learns_a_probe_with_lower_gradient_variance_than_single_actions():
    """A contextual bandit (no terminations inside the model's horizon): after the model's
    warm-up, the many-actions policy gradient varies less than the real actions' alone on the
    same data in every update, and the policy improves on its untrained start."""
    env = envs.make("probe_continuous", dim=2)
    config = mbma.MBMAConfig(total_steps=8192, num_envs=8, rollout_len=32, num_minibatches=4, update_epochs=4,
                             hidden_sizes=(32,), critic_hidden_sizes=(32,), model_hidden=(64, 64), model_buffer=1024,
                             model_steps=32, model_warmup_steps=1024, action_samples=4, horizon=1,
                             variance_minibatches=4, lr=3e-3, gamma=0.0)
    venv = wrap_for_training(env, config.num_envs)
    _, metrics = jax.jit(fused_train(on_policy.make_trainer(venv, mbma.AGENT, config)))(jax.random.key(0))
    returns = np.asarray(metrics["episode_return"])
    after_warm_up = np.asarray(metrics["learn/imagined_actions"]) > 0
    single = np.asarray(metrics["learn/pg_variance_single"])[after_warm_up]
    many = np.asarray(metrics["learn/pg_variance_many"])[after_warm_up]
    assert after_warm_up.sum() >= 20 and np.all(many < single), (single, many)
    before = ~after_warm_up  # no imagined action: the two estimators are one
    np.testing.assert_allclose(np.asarray(metrics["learn/pg_variance_many"])[before],
                               np.asarray(metrics["learn/pg_variance_single"])[before], rtol=1e-6)
    assert returns[-5:].mean() > 0.5 * returns[:3].mean(), returns  # rewards are negative: halfway to 0
