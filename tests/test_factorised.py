"""The pieces of DecQN and REValueD that follow their authors' code, each against a
hand-computed reference: DecQN's two-critic target, loss and replay priorities, its
per-dimension exploration probability; REValueD's joint exploration and epsilon decay
(statistics over many keys) and its regulariser; prioritised replay's sampling
probabilities, importance weights and new-item priority; and the loop's `update_every`,
policy warm-up and prioritised replay in one small run on a probe env."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import envs
from jaxrl_actions.actions import discretize, transform_actions
from jaxrl_actions.agents import dqn, factorised
from jaxrl_actions.buffers.replay import importance_weights, make_prioritised_replay_buffer, replace_empty_draws
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.networks import q_heads
from jaxrl_actions.spaces import Box, MultiDiscrete
from jaxrl_actions.training.common import fused_train
from jaxrl_actions.training.config import learning_starts
from jaxrl_actions.training.off_policy import make_trainer
from jaxrl_actions.types import Transition

OBS = Box(-1.0, 1.0, (3,))
SMALL = dict(total_steps=1_000, batch_size=8, buffer_size=64, warmup_steps=16, hidden_sizes=(16,))


# ---------------------------------------------------------------------------------------
# DecQN


def test_decqn_two_critic_target_by_hand():
    # B=1, E=2 critics, D=2 dims, K=2 bins. Online utilities pick per critic and dimension.
    select = jnp.array([[[[1.0, 0.0], [0.0, 2.0]],      # critic 1 picks (0, 1)
                         [[0.0, 3.0], [5.0, 1.0]]]])    # critic 2 picks (1, 0)
    target = jnp.array([[[[10.0, 20.0], [30.0, 40.0]],
                         [[50.0, 80.0], [70.0, 60.0]]]])
    # Mean target net: [[30, 50], [50, 50]]; critic 1: (30 + 50) / 2, critic 2: (50 + 50) / 2.
    np.testing.assert_allclose(q_heads.per_critic_double_q(select, target, None), [[40.0, 50.0]])
    # Forbid bin 1 of dimension 0: critic 2 falls back to bin 0 there, (30 + 50) / 2.
    mask = jnp.array([[True, False], [True, True]])
    np.testing.assert_allclose(q_heads.per_critic_double_q(select, target, mask), [[40.0, 40.0]])
    np.testing.assert_allclose(q_heads.per_critic_double_q(select, target, mask[None]), [[40.0, 40.0]])


def _decqn_state(seed=0):
    spec = EnvSpec(OBS, MultiDiscrete([3, 3]), 10)
    config = factorised.DecQNConfig(**SMALL)
    state = factorised.DECQN.init(jax.random.PRNGKey(seed), spec, config)
    # A target network distinct from the online one, so selection and evaluation differ.
    return state.replace(target_params=factorised.DECQN.init(jax.random.PRNGKey(seed + 7), spec, config).q.params)


def test_decqn_update_matches_the_authors_loss_and_priorities():
    state = _decqn_state()
    k_obs, k_next, k_act, k_rew = jax.random.split(jax.random.PRNGKey(1), 4)
    b = 6
    obs, next_obs = jax.random.normal(k_obs, (b, 3)), jax.random.normal(k_next, (b, 3))
    action = jax.random.randint(k_act, (b, 2), 0, 3)
    reward = jax.random.normal(k_rew, (b,))
    terminated = jnp.arange(b) == 2
    discount = jnp.full((b,), 0.99 ** 3)
    batch = Transition(obs, action, reward, terminated, jnp.zeros(b, bool), next_obs, None, None, discount)
    weights = jnp.linspace(0.2, 1.0, b)

    # Reference in numpy, following tseyde/decqn learning.py:162-223.
    u = np.asarray(dqn.utilities(state, state.q.params, obs))  # [B, 2, D, K]
    u_next = np.asarray(dqn.utilities(state, state.q.params, next_obs))
    u_next_target = np.asarray(dqn.utilities(state, state.target_params, next_obs)).mean(axis=1)  # [B, D, K]
    a = np.asarray(action)
    td = np.zeros((b, 2))
    for i in range(b):
        for e in range(2):
            best = u_next[i, e].argmax(-1)  # critic e's own online argmax per dimension
            boot = u_next_target[i, np.arange(2), best]  # mean of the two target nets, [D]
            y = reward[i] + discount[i] * (1.0 - terminated[i]) * boot
            td[i, e] = np.mean(y - u[i, e, np.arange(2), a[i]])  # dimension mean before the loss
    huber = np.where(np.abs(td) <= 1, 0.5 * td ** 2, np.abs(td) - 0.5)
    loss = np.mean(np.asarray(weights) * huber.sum(axis=1))  # sum over critics, weighted mean over batch

    _, metrics, priorities = dqn.update_weighted(state, batch, weights, None)
    np.testing.assert_allclose(metrics["q_loss"], loss, rtol=1e-5)
    np.testing.assert_allclose(priorities, 0.5 * (np.abs(td[:, 0]) + np.abs(td[:, 1])), rtol=1e-5, atol=1e-6)


def test_decqn_acts_on_the_larger_critic_and_copies_targets_every_100_updates():
    state = _decqn_state()
    obs = jax.random.normal(jax.random.PRNGKey(3), (32, 3))
    u = np.asarray(dqn.utilities(state, state.q.params, obs))  # [32, 2, D, K]
    greedy = jax.vmap(lambda o: factorised.DECQN.act(state, o, None, None, True))(obs)
    np.testing.assert_array_equal(greedy, u.max(axis=1).argmax(-1))
    assert not np.array_equal(u.max(axis=1).argmax(-1), u.mean(axis=1).argmax(-1))  # max != mean here
    # Hard copies: the target changes only at updates 100, 200, ... to the online params.
    zero = jax.tree_util.tree_map(jnp.zeros_like, state.q.params)
    before = state.target_params
    for updates, copied in ((98, False), (99, True), (100, False)):
        stepped, _ = dqn.apply_step(state.replace(updates=jnp.int32(updates)), zero, {})
        same = jax.tree_util.tree_map(lambda x, y: bool(jnp.all(x == y)), stepped.target_params,
                                      stepped.q.params if copied else before)
        assert all(jax.tree_util.tree_leaves(same)), updates


def test_decqn_dimension_epsilon_follows_the_authors_renormalisation():
    # probs = eps / (D K) per bin + (1 - eps) on the greedy bin, renormalised (misc/utils.py:159-176).
    for eps, d in ((0.1, 1), (0.1, 6), (0.5, 3), (1.0, 4)):
        k = 3
        probs = np.full(k, eps / (d * k))
        probs[0] += 1 - eps
        probs /= probs.sum()
        uniform_share = (probs[1] * k)  # the off-greedy bins hold uniform_share / k each
        np.testing.assert_allclose(q_heads.decqn_dimension_epsilon(eps, d), uniform_share, rtol=1e-6)
    # Sampled: a DecQN agent on 6 dimensions of 3 bins leaves its greedy choice with
    # probability eps_eff * 2/3 per dimension.
    spec = EnvSpec(OBS, MultiDiscrete([3] * 6), 10)
    state = factorised.DECQN.init(jax.random.PRNGKey(0), spec, factorised.DecQNConfig(**SMALL))
    obs = jnp.zeros(3)
    greedy = np.asarray(factorised.DECQN.act(state, obs, None, None, True))
    n = 20_000
    actions = jax.jit(jax.vmap(lambda k: factorised.DECQN.act(state, obs, None, k)))(
        jax.random.split(jax.random.PRNGKey(1), n))
    p = float(q_heads.decqn_dimension_epsilon(0.1, 6)) * 2 / 3
    observed = float(np.mean(np.asarray(actions) != greedy))
    assert abs(observed - p) < 4 * np.sqrt(p * (1 - p) / (6 * n)), (observed, p)


# ---------------------------------------------------------------------------------------
# REValueD


def test_revalued_exploration_statistics():
    members, nvec = 4, (3, 3, 3)
    spec = EnvSpec(OBS, MultiDiscrete(list(nvec)), 10)
    config = factorised.REValueDConfig(**SMALL, num_critics=members)
    state = factorised.REVALUED.init(jax.random.PRNGKey(0), spec, config)
    obs = jnp.array([0.3, -0.2, 0.5])
    u = np.asarray(dqn.utilities(state, state.q.params, obs))  # [E, D, K]
    member_greedy = [tuple(g) for g in u.argmax(-1)]

    # epsilon after n exploratory actions: max(0.999^n, 0.05) (revalued.py:77-84).
    for n_explored in (0, 1, 700, 2_994, 2_995, 10_000):
        eps = dqn.epsilon(state.replace(explorations=jnp.int32(n_explored)))
        np.testing.assert_allclose(eps, max(0.999 ** n_explored, 0.05), rtol=1e-4)

    n = 30_000
    state = state.replace(explorations=jnp.int32(700))  # eps = 0.999^700 ~ 0.496
    eps = 0.999 ** 700
    keys = jax.random.split(jax.random.PRNGKey(1), n)
    actions, explored = jax.jit(jax.vmap(lambda k: dqn.explore(state, obs, None, k)))(keys)
    actions, explored = np.asarray(actions), np.asarray(explored)
    assert abs(explored.mean() - eps) < 4 * np.sqrt(eps * (1 - eps) / n)
    # Exploratory actions: uniform over all 27 joint actions.
    codes = actions[explored] @ np.array([9, 3, 1])
    freq = np.bincount(codes, minlength=27) / len(codes)
    assert np.abs(freq - 1 / 27).max() < 4 * np.sqrt((1 / 27) / len(codes))
    # Greedy actions: one member's greedy action, each member drawn with probability 1/E.
    greedy_actions = [tuple(a) for a in actions[~explored]]
    for action in set(member_greedy):
        expected = member_greedy.count(action) / members
        observed = greedy_actions.count(action) / len(greedy_actions)
        assert abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / len(greedy_actions)), action
    assert set(greedy_actions) <= set(member_greedy)
    # The loop's act_batch hook counts the exploratory actions of all envs.
    obs_batch = jnp.broadcast_to(obs, (n, 3))
    _, counted = jax.jit(lambda s, k: dqn.act_batch(s, obs_batch, None, k))(state, jax.random.PRNGKey(2))
    new = int(counted.explorations) - 700
    assert abs(new / n - eps) < 4 * np.sqrt(eps * (1 - eps) / n)
    # Greedy evaluation uses the ensemble mean (revalued.py:96-113).
    np.testing.assert_array_equal(factorised.REVALUED.act(state, obs, None, None, True), u.mean(0).argmax(-1))


def test_revalued_regulariser_by_hand():
    chosen = jnp.array([[[1.0, 2.0], [0.5, 0.0]]])  # [B=1, E=2, D=2]
    target = jnp.array([5.0])
    np.testing.assert_allclose(dqn.utility_regulariser(chosen, chosen, target), [0.0])  # online == target network
    anchor = chosen - jnp.array([[[1.0, 2.0], [0.0, 1.0]]])  # U - U' per entry
    # w = 1 - exp(-|5 - U|): the larger the error, the stronger the hold.
    w = 1.0 - np.exp(-np.array([[4.0, 3.0], [4.5, 5.0]]))
    sq = np.array([[1.0, 4.0], [0.0, 1.0]])
    expected = np.mean(w * sq)  # mean over members and dimensions
    np.testing.assert_allclose(dqn.utility_regulariser(chosen, anchor, target), [expected], rtol=1e-6)
    # No gradient through w or U': d/dU = 2 w (U - U') / (E D).
    grad = jax.grad(lambda c: dqn.utility_regulariser(c, anchor, target)[0])(chosen)
    np.testing.assert_allclose(grad[0], 2.0 * w * np.sqrt(sq) / 4, rtol=1e-6)
    # Per-critic targets [B, E] weight each member by its own error.
    per_member = jnp.array([[5.0, 0.5]])
    w2 = 1.0 - np.exp(-np.abs(np.array([[5.0], [0.5]]) - np.asarray(chosen[0])))
    np.testing.assert_allclose(dqn.utility_regulariser(chosen, anchor, per_member), [np.mean(w2 * sq)], rtol=1e-6)


def test_revalued_loss_is_the_member_mean_plus_half_the_regulariser():
    spec = EnvSpec(OBS, MultiDiscrete([3, 2]), 10)
    config = factorised.REValueDConfig(**SMALL, num_critics=3)
    state = factorised.REVALUED.init(jax.random.PRNGKey(0), spec, config)
    state = state.replace(target_params=factorised.REVALUED.init(jax.random.PRNGKey(5), spec, config).q.params)
    b = 5
    obs = jax.random.normal(jax.random.PRNGKey(1), (b, 3))
    action = jnp.stack([jnp.arange(b) % 3, jnp.arange(b) % 2], axis=1)
    reward = jnp.arange(b, dtype=jnp.float32)
    batch = Transition(obs, action, reward, jnp.zeros(b, bool), jnp.zeros(b, bool), obs + 1.0, None, None,
                       jnp.full((b,), 0.99 ** 3))
    u = np.asarray(dqn.utilities(state, state.q.params, obs))  # [B, E, D, K]
    u_old = np.asarray(dqn.utilities(state, state.target_params, obs))
    u_next = np.array(dqn.utilities(state, state.target_params, obs + 1.0))
    u_next[..., 1, 2] = -np.inf  # dimension 1 has 2 choices: its third (padded) entry is never the max
    # 'Mean' target: mean_d max_k mean_E U' (revalued.py:196-204), shared by the members.
    y = np.asarray(reward) + 0.99 ** 3 * u_next.mean(1).max(-1).mean(-1)  # [B]
    a = np.asarray(action)
    chosen = np.stack([u[i, :, np.arange(2), a[i]].T for i in range(b)])  # [B, E, D]
    chosen_old = np.stack([u_old[i, :, np.arange(2), a[i]].T for i in range(b)])
    td = y[:, None] - chosen.mean(-1)
    td_loss = np.mean(np.where(np.abs(td) <= 1, 0.5 * td ** 2, np.abs(td) - 0.5))  # mean over B and E
    w = 1.0 - np.exp(-np.abs(y[:, None, None] - chosen))
    reg = np.mean(w * (chosen - chosen_old) ** 2)
    _, metrics = jax.jit(factorised.REVALUED.update)(state, batch, None)
    np.testing.assert_allclose(metrics["q_loss"], td_loss, rtol=1e-5)
    np.testing.assert_allclose(metrics["reg_loss"], reg, rtol=1e-5)


# ---------------------------------------------------------------------------------------
# Prioritised replay


def _items(start, n):
    ids = jnp.arange(start, start + n, dtype=jnp.float32)
    return Transition(ids[:, None], ids, ids, ids > 1e9, ids > 1e9, ids[:, None], None, None)


def test_prioritised_replay_probabilities_weights_and_new_items():
    alpha, beta = 0.5, 0.2
    buffer = make_prioritised_replay_buffer(capacity=8, batch_size=8, priority_exponent=alpha,
                                            importance_exponent=beta)
    state = buffer.init(jax.tree_util.tree_map(lambda x: x[0], _items(0, 1)))
    state = jax.jit(buffer.add)(state, _items(0, 4))
    raw = jnp.array([1.0, 4.0, 9.0, 16.0])
    state = jax.jit(buffer.set_priorities)(state, jnp.arange(4), raw)
    probs = np.sqrt([1.0, 4.0, 9.0, 16.0]) / np.sum(np.sqrt([1.0, 4.0, 9.0, 16.0]))  # p^alpha / sum

    samples = jax.jit(jax.vmap(buffer.sample, in_axes=(None, 0)))(state, jax.random.split(jax.random.PRNGKey(0), 1600))
    drawn = np.asarray(samples.batch.reward).ravel().astype(int)
    freq = np.bincount(drawn, minlength=4) / drawn.size
    np.testing.assert_allclose(freq, probs, atol=4 * np.sqrt(probs.max() / drawn.size))
    # Importance weights: (1/P)^beta over the batch max (tseyde/decqn learning.py:190-192).
    sampled_p = probs[np.asarray(samples.indices)]  # [1600, 8]
    expected = (1 / sampled_p) ** beta / ((1 / sampled_p) ** beta).max(axis=1, keepdims=True)
    np.testing.assert_allclose(samples.weights, expected, rtol=1e-5)
    np.testing.assert_allclose(importance_weights(jnp.array([0.5, 0.25, 0.125]), 1.0), [0.25, 0.5, 1.0])
    # A new item enters at raw priority 1 (reverb's default), not the max recorded (16).
    state = jax.jit(buffer.add)(state, _items(4, 1))
    leaves = np.asarray(state.sum_tree_state.nodes[-8:])
    np.testing.assert_allclose(leaves[:5], [1.0, 2.0, 3.0, 4.0, 1.0])
    # td_priorities: the mean over critics of |td| (0.5 (|td_1| + |td_2|) for two critics).
    np.testing.assert_allclose(dqn.td_priorities(jnp.array([[1.0, -3.0], [0.5, 0.5]])), [2.0, 0.5])


def test_prioritised_sampling_never_returns_an_empty_slot():
    """flashbax's float32 sum tree, 10k items in a buffer of capacity 1M: at these seeds one
    of 512k raw draws lands past the written items (probability 0, weight 1/0, a transition
    of zeros); every draw we return is a written item with a finite weight."""
    n = 10_000
    buffer = make_prioritised_replay_buffer(capacity=1_000_000, batch_size=256, priority_exponent=0.6,
                                            importance_exponent=0.2)
    state = buffer.init(jax.tree_util.tree_map(lambda x: x[0], _items(0, 1)))
    state = jax.jit(buffer.add)(state, _items(1, n))  # rewards 1..n: a zero reward is an empty slot
    state = jax.jit(buffer.set_priorities)(state, jnp.arange(n), jax.random.uniform(jax.random.key(0), (n,), maxval=3.0))
    samples = jax.jit(jax.vmap(buffer.sample, in_axes=(None, 0)))(state, jax.random.split(jax.random.key(1), 2000))
    assert int(np.max(samples.indices)) < n and float(np.min(samples.batch.reward)) >= 1.0
    assert np.isfinite(np.asarray(samples.weights)).all()
    np.testing.assert_array_equal(np.asarray(samples.batch.reward), np.asarray(samples.indices) + 1)

    experience = jnp.arange(4.0)
    fixed = replace_empty_draws(experience, jnp.array([7, 3, 9, 5]), jnp.array([0.0, 0.2, 0.0, 0.1]))
    np.testing.assert_array_equal(fixed[0], [1.0, 1.0, 1.0, 3.0])  # the first positive draw stands in
    np.testing.assert_array_equal(fixed[1], [3, 3, 3, 5])
    np.testing.assert_array_equal(fixed[2], np.float32([0.2, 0.2, 0.2, 0.1]))


# ---------------------------------------------------------------------------------------
# The loop: update_every, policy warm-up, prioritised replay


def test_loop_learns_every_nth_iteration_with_prioritised_replay():
    env = transform_actions(envs.make("probe_continuous", dim=2), discretize(2))
    config = factorised.DecQNConfig(total_steps=90, num_envs=2, batch_size=8, buffer_size=64, warmup_steps=20,
                                    hidden_sizes=(8,), update_every=3)
    carry, metrics = jax.jit(fused_train(make_trainer(env, factorised.DECQN, config)))(jax.random.PRNGKey(0))
    start, iterations = learning_starts(config), 90 // 2
    learned = np.asarray(metrics["learn/q_loss"]) != 0
    expected = (np.arange(iterations) >= start) & ((np.arange(iterations) - start) % 3 == 0)
    np.testing.assert_array_equal(learned, expected)
    assert int(carry.agent_state.updates) == expected.sum()
    # The policy acted from the start (no uniform warm-up), and the sum tree holds TD priorities.
    assert int(carry.agent_state.explorations) == 0  # DecQN's exploration is per dimension (not counted)
    leaves = np.asarray(carry.buffer_state.sum_tree_state.nodes[-64:])  # the buffer has wrapped: all filled
    assert bool(carry.buffer_state.is_full) and np.all(leaves > 0) and np.any(np.abs(leaves - 1.0) > 1e-3)


def test_bad_factorised_settings_raise_before_compiling():
    spec = EnvSpec(OBS, MultiDiscrete([2, 2]), 5)
    with pytest.raises(ValueError, match="hidden_sizes"):
        factorised.DECQN.init(jax.random.PRNGKey(0), spec, factorised.DecQNConfig(hidden_sizes=(64, 64)))
    with pytest.raises(ValueError, match="exploration"):
        dqn.check(factorised.DecQNConfig(exploration="softmax"))
    with pytest.raises(ValueError, match="per_exploration"):
        dqn.check(factorised.REValueDConfig(exploration="per_dimension"))
    with pytest.raises(ValueError, match="double"):
        dqn.check(factorised.DecQNConfig(double=False))
    env = transform_actions(envs.make("probe_continuous", dim=2), discretize(2))
    with pytest.raises(ValueError, match="update_every=0"):
        make_trainer(env, factorised.DECQN, factorised.DecQNConfig(update_every=0))
    with pytest.raises(ValueError, match="replay='ranked'"):
        make_trainer(env, factorised.DECQN, factorised.DecQNConfig(replay="ranked"))
    from jaxrl_actions.agents import sac

    with pytest.raises(ValueError, match="prioritised_update"):
        make_trainer(envs.make("probe_continuous", dim=2), sac.AGENT, sac.SACConfig(replay="prioritised"))
