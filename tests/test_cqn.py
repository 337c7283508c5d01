"""CQN (agents/cqn.py) against hand-computed references: the interval zoom, the per-level
per-dimension double-Q targets, exploration snapped to interval centres, AdamW's decoupled
weight decay, hard target copies and the learning start; plus a probe and the
cartpole_continuous learning check with small explicit configs (the authors' defaults are sized for
1M-step DMC runs)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from jaxrl_actions.agents import cqn
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.spaces import Box, Discrete
from jaxrl_actions.training.common import fused_train
from jaxrl_actions.training.evaluate import evaluate
from jaxrl_actions.training.off_policy import make_trainer
from jaxrl_actions.types import Transition
from conftest import LEARNED_FACTOR, LEARNED_FLOOR, balance_learning

OBS = Box(-1.0, 1.0, (3,))
SMALL = dict(total_steps=1_000, batch_size=4, buffer_size=1_000, warmup_steps=10, learning_starts=10,
             hidden_sizes=(16,))


def _state(action_dim=2, seed=0, **overrides):
    spec = EnvSpec(OBS, Box(-1.0, 1.0, (action_dim,)), 10)
    config = cqn.CQNConfig(**{**SMALL, **overrides})
    return jax.jit(lambda key: cqn.init(key, spec, config))(jax.random.PRNGKey(seed))


def _with_head_bias(params, bias):
    """The level network with a zero head kernel and head bias `bias` [D * bins]: every
    level then has Q[d, k] = bias[d * bins + k] whatever its input."""
    head = f"Dense_{len(params['params']) - 2}"  # hidden Dense layers, then the head (LayerNorms aside)
    layer = params["params"][head]
    new = {"kernel": jnp.zeros_like(layer["kernel"]), "bias": jnp.asarray(bias, jnp.float32)}
    return {"params": {**params["params"], head: new}}


def _batch(obs, action, reward, terminated, next_obs, discount=None):
    b = obs.shape[0]
    return Transition(obs, action, reward, terminated, jnp.zeros(b, bool), next_obs, None, None, discount)


def test_level_choices_and_the_interval_zoom_by_hand():
    # a = 0.3 with 3 levels x 5 bins: [-1, 1] -> bin 3 = [0.2, 0.6] -> bin 1 = [0.28, 0.36]
    # -> bin 1 = [0.296, 0.312], centre 0.304; each level refines the previous interval's centre.
    choices = cqn.action_to_levels(jnp.array([0.3, -1.0]), 3, 5)
    np.testing.assert_array_equal(choices, [[3, 0], [1, 0], [1, 0]])
    np.testing.assert_allclose(cqn.levels_to_action(choices, 5), [0.304, -1 + 0.008], atol=1e-6)
    np.testing.assert_allclose(cqn.level_centres(choices, 5), [[0.0, 0.0], [0.4, -0.8], [0.32, -0.96]], atol=1e-6)
    # Random choices round-trip through their centre.
    many = jax.random.randint(jax.random.PRNGKey(0), (200, 3, 2), 0, 5)
    np.testing.assert_array_equal(cqn.action_to_levels(cqn.levels_to_action(many, 5), 3, 5), many)


def test_cqn_level_choices_map_to_their_interval():
    levels, bins = 3, 5
    # Middle bin at every level is the centre 0; bin 0 at every level is the leftmost cell.
    np.testing.assert_allclose(cqn.levels_to_action(jnp.full((levels, 1), 2), bins), [0.0], atol=1e-6)
    np.testing.assert_allclose(cqn.levels_to_action(jnp.zeros((levels, 1), int), bins), [-1 + 1 / 125], atol=1e-6)
    choices = jax.random.randint(jax.random.PRNGKey(0), (200, levels, 2), 0, bins)
    action = cqn.levels_to_action(choices, bins)
    width = 2.0 / bins ** np.arange(1, levels + 1)
    low = -1 + np.sum(np.asarray(choices) * width[:, None], axis=1)
    np.testing.assert_allclose(action, low + width[-1] / 2, atol=1e-5)
    np.testing.assert_array_equal(cqn.action_to_levels(action, levels, bins), choices)
    # The interval each level refines is centred on its previous choices.
    centres = cqn.level_centres(choices, bins)
    np.testing.assert_allclose(centres[:, 0], 0.0)
    np.testing.assert_allclose(centres[:, 1], -1 + np.asarray(choices[:, 0]) * width[0] + width[0] / 2, atol=1e-5)


def test_cqn_acts_on_the_space_bounds():
    spec = EnvSpec(OBS, Box(-2.0, 4.0, (2,)), 10)
    state = jax.jit(lambda key: cqn.init(key, spec, cqn.CQNConfig(**SMALL)))(jax.random.PRNGKey(0))
    keys = jax.random.split(jax.random.PRNGKey(1), 100)
    actions = jax.jit(jax.vmap(lambda k: cqn.act(state, jnp.zeros(3), None, k)))(keys)
    assert bool(jnp.all((actions >= -2) & (actions <= 4)))
    unit = (actions - 1.0) / 3.0  # the centres `act` returns are recovered exactly
    np.testing.assert_allclose(cqn.levels_to_action(cqn.action_to_levels(unit, 3, 5), 5), unit, atol=1e-5)


def test_greedy_zoom_feeds_each_level_the_current_interval(monkeypatch):
    """With Q_l[d, k] = -|x*_d - centre of bin k of the interval around the centre the level
    is given|, the coarse-to-fine argmax lands in the finest interval containing x*; wrong
    centres (or levels) would land elsewhere."""
    state = _state(action_dim=3)
    x_star = jnp.array([0.3, -0.77, 0.91])
    bins = 5

    def fake_q(state, params, obs, centres, level=None):
        width = 2.0 / bins ** level  # the interval level `level` splits
        low = centres - width / 2
        bin_centres = low[..., None] + (jnp.arange(bins) + 0.5) * width / bins  # [..., D, bins]
        return -jnp.abs(x_star[:, None] - bin_centres)

    monkeypatch.setattr(cqn, "q_values", fake_q)
    got = jax.jit(cqn.greedy_levels)(state, state.q.params, jnp.zeros(3))
    np.testing.assert_array_equal(got, cqn.action_to_levels(x_star, 3, bins))


def test_targets_are_per_level_and_dimension_online_argmax_target_value():
    state = _state(action_dim=2, n_step=1)
    # Online head: dim 0 prefers bin 4, dim 1 bin 0. Target head: its own argmax differs.
    online = np.zeros(10)
    online[4], online[5 + 0] = 1.0, 1.0
    target = np.arange(10, dtype=np.float32) * 0.5  # target's own argmax: bin 4 in both dims
    target[5 + 0] = -3.0
    state = state.replace(q=state.q.replace(params=_with_head_bias(state.q.params, online)),
                          target_params=_with_head_bias(state.target_params, target))
    b = 3
    reward = jnp.array([1.0, -2.0, 0.5])
    terminated = jnp.array([False, False, True])
    batch = _batch(jnp.zeros((b, 3)), jnp.zeros((b, 2)), reward, terminated, jnp.ones((b, 3)))
    targets = jax.jit(cqn.level_targets)
    y = targets(state, batch)
    assert y.shape == (b, 3, 2)  # [B, L, D]: no mean over dimensions or levels
    # y_{l,d} = r + 0.99 (1 - terminated) Q'_d(k*_d), k* = (4, 0) from the online head.
    next_value = np.array([target[4], target[5]])  # 2.0 and -3.0 (the target's own max would give 2.0, 4.5)
    expected = np.asarray(reward)[:, None, None] + 0.99 * (1 - np.asarray(terminated))[:, None, None] * next_value
    np.testing.assert_allclose(y, np.broadcast_to(expected, (b, 3, 2)), rtol=1e-6)
    # n-step transitions bootstrap with their own gamma^m.
    y3 = targets(state, batch._replace(discount=jnp.full(b, 0.99 ** 3)))
    np.testing.assert_allclose(y3[0, 0], 1.0 + 0.99 ** 3 * next_value, rtol=1e-6)


def test_targets_match_a_loop_over_levels_with_random_networks():
    state = _state(action_dim=2, n_step=1)
    perturb = lambda p, k: jax.tree_util.tree_map(  # noqa: E731  non-zero, distinct heads
        lambda x: x + 0.3 * jax.random.normal(k, x.shape), p)
    state = state.replace(q=state.q.replace(params=perturb(state.q.params, jax.random.PRNGKey(1))),
                          target_params=perturb(state.target_params, jax.random.PRNGKey(2)))
    next_obs = jax.random.normal(jax.random.PRNGKey(3), (4, 3))
    batch = _batch(next_obs, jnp.zeros((4, 2)), jnp.arange(4.0), jnp.zeros(4, bool), next_obs)
    y = np.asarray(jax.jit(cqn.level_targets)(state, batch))
    q_at = jax.jit(cqn.q_values, static_argnums=4)
    for b in range(4):
        low, width = np.full(2, -1.0), np.full(2, 2.0)
        for level in range(3):
            centre = jnp.asarray(low + width / 2, jnp.float32)
            k = np.asarray(q_at(state, state.q.params, next_obs[b], centre, level)).argmax(-1)
            value = np.asarray(q_at(state, state.target_params, next_obs[b], centre, level))
            np.testing.assert_allclose(y[b, level], b + 0.99 * value[np.arange(2), k], rtol=1e-5, atol=1e-6)
            width = width / 5
            low = low + k * width


def test_exploration_snaps_noisy_actions_to_interval_centres():
    unit = jnp.array([0.304, -0.992])
    keys = jax.random.split(jax.random.PRNGKey(0), 500)
    noisy = jax.jit(jax.vmap(lambda k: cqn.explore(unit, k, 0.1, 3, 5)))(keys)
    np.testing.assert_allclose(cqn.snap(noisy, 3, 5), noisy, atol=1e-6)  # every action is a centre
    assert float(jnp.min(noisy)) >= -1 and float(jnp.max(noisy)) <= 1
    assert 0.08 < float(jnp.std(noisy[:, 0])) < 0.12  # std 0.1 (up to the 0.016 grid)
    np.testing.assert_allclose(cqn.explore(unit, keys[0], 0.0, 3, 5), unit, atol=1e-6)  # no noise: greedy
    # The untrained (all-zero) net picks bin 0 at every level: -1 + 1/125 (the authors' steps 2k-8k).
    state = _state()
    np.testing.assert_allclose(cqn.act(state, jnp.zeros(3), None, keys[0], True), [-0.992, -0.992], atol=1e-6)


def test_adamw_decays_every_parameter_by_lr_times_weight_decay():
    state = _state(lr=1e-2, weight_decay=0.1)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, state.q.params)
    moved = jax.jit(cqn.apply_gradients)(state.q, zeros).params  # zero gradient: only the decay moves
    for new, old in zip(jax.tree_util.tree_leaves(moved), jax.tree_util.tree_leaves(state.q.params)):
        np.testing.assert_allclose(new, old * (1 - 1e-2 * 0.1), rtol=1e-6)


def test_no_update_before_learning_starts_then_hard_copies_every_period():
    # Loop learning start: warm-up 10 env steps; the agent waits until 16.
    state = _state(learning_starts=16, target_period=3, utd=1)
    assert int(cqn.env_steps_at_call(state.config, jnp.int32(0))) == 11
    # utd 2 every 4th iteration from iteration 10 (4 envs: warm-up 40 steps): calls 0-1 after
    # iteration 10, calls 2-3 after iteration 14.
    phased = cqn.CQNConfig(**{**SMALL, "warmup_steps": 40, "num_envs": 4, "utd": 2, "update_every": 4})
    steps = [int(cqn.env_steps_at_call(phased, jnp.int32(c))) for c in range(4)]
    assert steps == [44, 44, 60, 60]
    batch = _batch(jax.random.normal(jax.random.PRNGKey(0), (4, 3)), jnp.full((4, 2), 0.5), jnp.ones(4),
                   jnp.zeros(4, bool), jax.random.normal(jax.random.PRNGKey(1), (4, 3)))
    update = jax.jit(cqn.update)
    first = state.q.params
    for call in range(5):  # env steps 11..15: nothing moves
        state, metrics = update(state, batch, jax.random.PRNGKey(call))
        assert float(metrics["active"]) == 0.0
    assert int(state.updates) == 0 and int(state.calls) == 5
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(first),
                                                    jax.tree_util.tree_leaves(state.q.params)))
    for n in (1, 2, 3):
        state, metrics = update(state, batch, jax.random.PRNGKey(10 + n))
        assert float(metrics["active"]) == 1.0 and int(state.updates) == n
        same = [np.array_equal(t, o) for t, o in zip(jax.tree_util.tree_leaves(state.target_params),
                                                    jax.tree_util.tree_leaves(state.q.params))]
        assert all(same) == (n == 3), n  # a hard copy after update 3, not before
    assert float(metrics["q_loss"]) > 0


def test_bad_config_and_space_raise_before_compiling():
    with pytest.raises(ValueError, match="Box"):
        cqn.AGENT.init(jax.random.PRNGKey(0), EnvSpec(OBS, Discrete(3), 5), cqn.CQNConfig())
    with pytest.raises(ValueError, match="bins"):
        cqn.check(cqn.CQNConfig(bins=1))
    with pytest.raises(ValueError, match="weight_init"):
        cqn.check(cqn.CQNConfig(weight_init="glorot"))
    with pytest.raises(ValueError, match="weight_decay"):
        cqn.check(cqn.CQNConfig(weight_decay=-0.1))


def test_cqn_learns_a_continuous_probe():
    env = envs.make("probe_continuous", dim=1)
    config = cqn.CQNConfig(total_steps=2_000, batch_size=64, buffer_size=2_000, warmup_steps=300, learning_starts=300,
                           hidden_sizes=(64,), n_step=1, lr=3e-3, gamma=0.0, target_period=1)
    carry, _ = jax.jit(fused_train(make_trainer(env, cqn.AGENT, config)))(jax.random.PRNGKey(0))
    returns = evaluate(env, cqn.AGENT, carry.agent_state, jax.random.PRNGKey(1), episodes=128, deterministic=True)
    # Uniform actions score about -0.42; the midpoint 0 about -0.083.
    assert float(returns.mean()) > -0.03


def test_cqn_learns_to_balance(cartpole_continuous):
    config = cqn.CQNConfig(total_steps=10_000, num_envs=4, batch_size=128, buffer_size=20_000, warmup_steps=1_000,
                           learning_starts=1_000, hidden_sizes=(64, 64), lr=1e-3)
    untrained, trained = balance_learning(cartpole_continuous, cqn.AGENT, config)
    assert trained > LEARNED_FACTOR * untrained and trained > LEARNED_FLOOR, (untrained, trained)
