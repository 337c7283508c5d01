"""PPO end to end on probe envs: it learns the fact each probe checks, respects masks,
sweeps seeds x learning rates in one compiled call, and is reproducible."""
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from jaxrl_actions.actions import bang_bang, transform_actions
from jaxrl_actions.agents import ppo
from jaxrl_actions.training import make_train

TINY = dict(num_envs=8, rollout_len=16, update_epochs=4, num_minibatches=2, hidden_sizes=(16,), lr=3e-2,
            ent_coef=0.0, gamma=0.9)


@functools.lru_cache(maxsize=None)
def sweep_program(env_name, total_steps):
    """jit(vmap over (key, lr)) of the fused train; compiled once per env."""
    env = envs.make(env_name)
    base = ppo.PPOConfig(total_steps=total_steps, **TINY)

    @jax.jit
    def run(keys, lrs):
        chex.assert_max_traces(n=1)  # noqa: the sweep must trace once
        return jax.vmap(lambda k, lr: make_train(env, ppo.AGENT, base.replace(lr=lr))(k))(keys, lrs)

    return env, run


def test_masked_probe_learns_the_best_valid_action_and_never_an_invalid_one():
    env, run = sweep_program("probe_masked_bandit", 6_000)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    _, metrics = run(keys, jnp.full(2, 3e-2))
    final = np.asarray(metrics["episode_return"][:, -5:]).mean()
    assert final > 0.9 * env.optimal_return
    assert int(np.asarray(metrics["invalid_actions"]).max()) == 0


def test_four_seeds_by_two_learning_rates_in_one_compiled_call():
    _, run = sweep_program("probe_bandit", 4_000)
    keys = jnp.tile(jax.random.split(jax.random.PRNGKey(1), 4), (2, 1))
    lrs = jnp.repeat(jnp.array([3e-2, 1e-3]), 4)
    carry, metrics = run(keys, lrs)
    again_carry, again = run(keys, lrs)  # same compiled program, same seeds: same numbers
    first_layer = jax.tree.leaves(carry.agent_state.params.actor)[0]
    rows = np.asarray(first_layer.reshape(8, -1).sum(axis=1))
    assert len(set(rows.tolist())) == 8  # 8 distinct runs
    chex.assert_trees_all_equal(metrics, again)
    chex.assert_trees_all_equal(carry.agent_state.params, again_carry.agent_state.params)
    returns = np.asarray(metrics["episode_return"][:, -5:]).mean(axis=1)
    assert returns[:4].mean() > returns[4:].mean()  # the larger lr learns faster here


@pytest.mark.parametrize("transform", [None, "bang_bang"])
def test_continuous_probe_improves_with_tanh_gaussian_and_bang_bang(transform):
    env = envs.make("probe_continuous")
    if transform:
        env = transform_actions(env, bang_bang())
    config = ppo.PPOConfig(total_steps=8_000, **{**TINY, "lr": 1e-2})
    _, metrics = jax.jit(make_train(env, ppo.AGENT, config))(jax.random.PRNGKey(0))
    returns = np.asarray(metrics["episode_return"])
    assert returns[-5:].mean() > returns[1:4].mean() + 0.05


def test_unroll_len_bootstraps_every_unroll_like_separate_rollouts():
    """Brax's unroll_length: GAE over a rollout of T = 3 * U steps equals GAE over three
    separate U-step rollouts, each bootstrapped from the value of the step after it."""
    from jaxrl_actions.buffers.rollout import Rollout
    from jaxrl_actions.losses import gae_advantages

    T, B, U = 12, 3, 4
    k = jax.random.split(jax.random.key(7), 6)
    value, reward, final_value = (jax.random.normal(key, (T, B)) for key in k[:3])
    terminated, truncated = jax.random.bernoulli(k[3], 0.1, (T, B)), jax.random.bernoulli(k[4], 0.1, (T, B))
    last_value = jax.random.normal(k[5], (B,))
    rollout = Rollout(None, None, None, None, value, reward, terminated, truncated, final_value, None, last_value)
    config = ppo.PPOConfig(rollout_len=T, num_envs=B, unroll_len=U, gamma=0.9, gae_lambda=0.8, reward_scale=2.0)
    advantages, targets = ppo.advantage_targets(rollout, config)
    for start in range(0, T, U):
        part = slice(start, start + U)
        bootstrap = value[start + U] if start + U < T else last_value
        ref_adv, ref_targets = gae_advantages(2.0 * reward[part], value[part], terminated[part], truncated[part],
                                              final_value[part], bootstrap, 0.9, 0.8)
        np.testing.assert_allclose(advantages[part], ref_adv, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(targets[part], ref_targets, rtol=1e-5, atol=1e-6)
    whole, _ = ppo.advantage_targets(rollout, config.replace(unroll_len=0))
    assert not np.allclose(whole, advantages)  # the cut matters
    with pytest.raises(ValueError, match="unroll_len=5"):
        ppo.init(jax.random.key(0), envs.make("pendulum").spec, config.replace(unroll_len=5))


def _sample_at_reset(config, N=6):
    """A PPO state on mining_grid 4x4, its first timestep and N policy outputs sampled there."""
    env = envs.make("mining_grid", size=4)
    state = ppo.init(jax.random.key(0), env.spec, config)
    _, ts = env.reset(jax.random.key(1))
    out = jax.vmap(lambda k: ppo.policy_step(state, ts.obs, ts.action_mask, k))(jax.random.split(jax.random.key(2), N))
    return state, ts, out


def _minibatch_at(ts, out, old_log_prob, advantages, targets) -> ppo.PPOBatch:
    """The sampled outputs as a PPO minibatch, every sample at the timestep `ts`."""
    N = len(advantages)
    obs = jnp.broadcast_to(ts.obs, (N,) + ts.obs.shape)
    masks = jax.tree.map(lambda m: jnp.broadcast_to(m, (N,) + m.shape), ts.action_mask)
    return ppo.PPOBatch(obs, out.raw_action, masks, old_log_prob, out.value, advantages, targets)


def test_ratio_per_component_clips_each_component_and_averages_them():
    """The invalid-action-masking scripts' surrogate: one ratio per MultiDiscrete component,
    mean over samples and components of min(r_c A, clip(r_c) A), checked against numpy."""
    config = ppo.PPOConfig(hidden_sizes=(8,), ratio_per_component=True)
    N = 6
    state, ts, out = _sample_at_reset(config, N)
    C = len(state.nets.space.nvec)
    assert out.log_prob.shape == (N, C)
    np.testing.assert_allclose(out.log_prob.sum(-1), jax.vmap(
        lambda r: ppo._dist(state, state.params, ppo._obs(state, ts.obs), ts.action_mask).log_prob(r))(out.raw_action),
        rtol=1e-5)
    shift = jax.random.uniform(jax.random.key(3), (N, C), minval=-0.5, maxval=0.5)
    advantages = jnp.array([1.0, -2.0, 0.5, 3.0, -1.0, 0.25])
    batch = _minibatch_at(ts, out, out.log_prob + shift, advantages, out.value)
    config = config.replace(normalize_advantages=False)
    state = state.replace(config=config)
    _, metrics = ppo.loss(state.params, state, batch)
    ratio = np.exp(-np.asarray(shift))  # new = old - shift
    adv = np.asarray(advantages)[:, None]
    expected = -np.mean(np.minimum(ratio * adv, np.clip(ratio, 0.8, 1.2) * adv))
    np.testing.assert_allclose(metrics["policy_loss"], expected, rtol=1e-5)
    np.testing.assert_allclose(metrics["approx_kl_k1"], np.mean(np.asarray(shift)), rtol=1e-4)
    with pytest.raises(ValueError, match="ratio_per_component=True needs a MultiDiscrete"):
        ppo.init(jax.random.key(0), envs.make("cartpole").spec, config)


def _mining_batch(config, N=6):
    """A PPO state on mining_grid 4x4 and a minibatch of N actions sampled at its first state,
    whose rollout log-probs are the current ones minus 0.1."""
    state, ts, out = _sample_at_reset(config, N)
    return state, _minibatch_at(ts, out, out.log_prob - 0.1, jnp.linspace(-2.0, 3.0, N), out.value + 1.0)


def test_sampled_entropy_penalty_adds_the_scripts_term_and_exact_subtracts_the_entropy():
    """entropy_term='sampled_penalty' adds ent_coef x mean(-p log p) of the batch's actions per
    component (the masking scripts' term); 'exact' subtracts ent_coef x the entropy."""
    config = ppo.PPOConfig(hidden_sizes=(8,), ratio_per_component=True, ent_coef=0.0)
    state, batch = _mining_batch(config)
    total_without, metrics = ppo.loss(state.params, state, batch)
    log_p = np.asarray(batch.old_log_prob) + 0.1  # the current policy's per-component log-probs
    expected_term = 0.01 * np.mean(-np.exp(log_p) * log_p)
    assert expected_term > 1e-4
    with_penalty = state.replace(config=config.replace(ent_coef=0.01, entropy_term="sampled_penalty"))
    np.testing.assert_allclose(ppo.loss(state.params, with_penalty, batch)[0] - total_without, expected_term, rtol=1e-4)
    with_bonus = state.replace(config=config.replace(ent_coef=0.01))
    np.testing.assert_allclose(ppo.loss(state.params, with_bonus, batch)[0] - total_without,
                               -0.01 * metrics["entropy"], rtol=1e-4)
    with pytest.raises(ValueError, match="entropy_term='bonus'"):
        ppo.init(jax.random.key(0), envs.make("cartpole").spec, ppo.PPOConfig(entropy_term="bonus"))


def test_separate_optimizers_keep_the_policy_step_independent_of_the_value_gradient():
    """With one clip over both networks a large value gradient shrinks the actor's step; with
    one Adam and clip per network (the masking scripts) the actor's step does not change."""
    def actor_step(separate: bool, vf_coef: float):
        config = ppo.PPOConfig(hidden_sizes=(8,), separate_optimizers=separate, vf_coef=vf_coef, anneal_lr=False)
        state, batch = _mining_batch(config)  # ppo.init gives the opt_state of make_optimizer(config)
        grads, _ = jax.grad(ppo.loss, has_aux=True)(state.params, state, batch)
        updates, _ = ppo.make_optimizer(config).update(grads, state.opt_state, state.params)
        return np.concatenate([np.ravel(x) for x in jax.tree.leaves(updates.actor)])

    np.testing.assert_allclose(actor_step(True, 1.0), actor_step(True, 1000.0), rtol=1e-6, atol=1e-10)
    assert not np.allclose(actor_step(False, 1.0), actor_step(False, 1000.0), rtol=1e-3)
