"""Stochastic bandits, bandit agents and the bandit loop (envs/bandits.py,
agents/bandits.py, agents/neural_bandits.py, training/bandit.py)."""
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.bandits import ArmParams
from jaxrl_actions import agents
from jaxrl_actions.agents import neural_bandits
from jaxrl_actions.agents.bandits import LinearStats, sherman_morrison_rows
from jaxrl_actions.spaces import Subset
from jaxrl_actions.training.bandit import (
    BanditTrainConfig,
    OracleConfig,
    bandit_episode,
    make_trainer,
    oracle_agent,
    run_bandit,
)
from jaxrl_actions.training.common import fused_train, run_chunk
from jaxrl_actions.types import BanditFeedback

MEANS = (0.1, 0.3, 0.5, 0.6, 0.8)  # a fixed Bernoulli instance; best arm 4
HORIZON = 4000
INSTANCES = 16


@pytest.fixture(scope="module")
def bernoulli():
    return envs.make("bandit_bernoulli", num_arms=len(MEANS), horizon=HORIZON)


def fixed_instances(n):
    means = jnp.broadcast_to(jnp.asarray(MEANS, jnp.float32), (n, len(MEANS)))
    return ArmParams(means, jnp.zeros(n))


@pytest.mark.parametrize("name", ["ucb1", "ts_beta"])
def test_regret_is_sublinear(bernoulli, name):
    agent = agents.get(name)
    regret = run_bandit(bernoulli, agent, agent.config_cls(), jax.random.split(jax.random.key(7), INSTANCES),
                        fixed_instances(INSTANCES), HORIZON)
    cumulative = np.asarray(regret).cumsum(axis=1).mean(axis=0)
    # A policy that never learns (uniform) loses the mean gap every step: linear regret.
    linear = HORIZON * (max(MEANS) - np.mean(MEANS))
    assert cumulative[-1] < 0.1 * linear, f"{name}: regret {cumulative[-1]:.1f} vs linear {linear:.1f}"
    # Sublinear: the second half adds much less regret than the first.
    half = HORIZON // 2
    assert cumulative[-1] - cumulative[half - 1] < 0.6 * cumulative[half - 1]
    assert (np.asarray(regret) >= -1e-6).all()  # pseudo-regret is never negative


@pytest.mark.parametrize("name", ["bandit_bernoulli", "bandit_semi", "bandit_linear"])
def test_oracle_agent_has_zero_regret(name):
    env = envs.make(name)
    oracle = oracle_agent(env)
    keys = jax.random.split(jax.random.key(3), 4)
    params = jax.vmap(env.sample_params)(keys)
    trace = jax.jit(jax.vmap(lambda k, p: bandit_episode(env, oracle, OracleConfig(p), k, p, 25)))(keys, params)
    np.testing.assert_allclose(np.asarray(trace.regret), 0.0, atol=1e-5)
    # and a random-ish learner does have regret on the same instances
    agent = agents.get("epsilon_greedy")
    regret = run_bandit(env, agent, agent.config_cls(epsilon=1.0), keys, params, 25)
    assert float(regret.sum()) > 0.1


def test_cucb_picks_k_distinct_allowed_arms():
    env = envs.make("bandit_semi", num_arms=8, k=3)
    agent = agents.get("cucb")
    space = env.spec.action_space
    state = agent.init(jax.random.key(0), env.spec, agent.config_cls())
    _, ts = env.reset(jax.random.key(1))

    @jax.jit
    def act_and_learn(state, key, mask):
        action = agent.act(state, ts.obs, mask, key)
        rewards = jax.random.bernoulli(key, 0.5, (3,)).astype(jnp.float32)
        return action, agent.update(state, action, BanditFeedback(ts.obs.context, rewards, rewards.sum()))

    key = jax.random.key(2)
    for step in range(40):
        key, k_act, k_mask = jax.random.split(key, 3)
        mask = jnp.arange(8) != (step % 8)  # one arm forbidden, in turn
        action, state = act_and_learn(state, k_act, mask)
        assert action.shape == (3,) and len(set(np.asarray(action).tolist())) == 3
        assert bool(space.contains(action)) and bool(space.respects(action, mask))
    np.testing.assert_allclose(float(state.counts.sum()), 40 * 3)


def test_linear_agents_learn_theta():
    env = envs.make("bandit_linear")
    keys = jax.random.split(jax.random.key(5), 8)
    params = jax.vmap(env.sample_params)(keys)
    for name in ("linucb",):
        agent = agents.get(name)
        regret = np.asarray(run_bandit(env, agent, agent.config_cls(), keys, params, 300))
        early, late = regret[:, :50].mean(), regret[:, -50:].mean()
        assert late < 0.35 * early, f"{name}: per-step regret {early:.3f} -> {late:.3f}"
    # Epsilon-greedy uses the contexts here (a ridge estimate): once learnt, its regret is
    # a fraction of a uniform policy's (its own with epsilon = 1), which is all an
    # estimate of per-arm means can reach when contexts are fresh each step.
    agent = agents.get("epsilon_greedy")
    assert isinstance(agent.init(jax.random.key(0), env.spec, agent.config_cls()), LinearStats)
    greedy = np.asarray(run_bandit(env, agent, agent.config_cls(), keys, params, 300))[:, -50:].mean()
    uniform = np.asarray(run_bandit(env, agent, agent.config_cls(epsilon=1.0), keys, params, 300))[:, -50:].mean()
    assert greedy < 0.25 * uniform, f"epsilon_greedy: late per-step regret {greedy:.3f}, uniform {uniform:.3f}"


def test_bad_inputs_raise_clear_errors(bernoulli):
    semi = envs.make("bandit_semi")
    with pytest.raises(ValueError, match="ucb1 needs a Discrete"):
        agents.get("ucb1").init(jax.random.key(0), semi.spec, agents.get("ucb1").config_cls())
    with pytest.raises(ValueError, match="cucb needs a Subset"):
        agents.get("cucb").init(jax.random.key(0), bernoulli.spec, agents.get("cucb").config_cls())
    with pytest.raises(ValueError, match="epsilon"):
        agent = agents.get("epsilon_greedy")
        agent.init(jax.random.key(0), bernoulli.spec, agent.config_cls(epsilon=1.5))
    with pytest.raises(ValueError, match="one key per instance"):
        agent = agents.get("ucb1")
        run_bandit(bernoulli, agent, agent.config_cls(), jax.random.split(jax.random.key(0), 3), fixed_instances(2), 10)
    with pytest.raises(ValueError, match="k"):
        envs.make("bandit_semi", num_arms=4, k=5)
    assert isinstance(semi.spec.action_space, Subset)


def test_trainer_chunked_equals_fused():
    env = envs.make("bandit_semi", horizon=40)
    agent = agents.get("cucb")
    trainer = make_trainer(env, agent, BanditTrainConfig(agent.config_cls(), num_instances=4, horizon=40, steps_per_update=10))
    assert trainer.num_updates == 4 and trainer.steps_per_update == 40
    _, fused = jax.jit(fused_train(trainer))(jax.random.key(0))
    carry = trainer.init(jax.random.key(0))
    chunk = jax.jit(run_chunk, static_argnums=(0, 2))
    carry, first = chunk(trainer, carry, 2)
    carry, second = chunk(trainer, carry, 2)
    np.testing.assert_allclose(np.concatenate([first["cumulative_regret"], second["cumulative_regret"]]),
                               fused["cumulative_regret"], rtol=1e-6)
    assert np.all(np.diff(np.asarray(fused["cumulative_regret"])) >= -1e-6)


def test_sherman_morrison_matches_the_inverse():
    rows = jax.random.normal(jax.random.key(0), (3, 4))
    got = sherman_morrison_rows(jnp.eye(4) / 2.0, rows)
    want = np.linalg.inv(2.0 * np.eye(4) + np.asarray(rows).T @ np.asarray(rows))  # host-side reference
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)


# --- CN-UCB / CN-TS -----------------------------------------------------------------------
def tiny_neural_state(config):
    """d = 2, m = 2, one arm chosen of 3: theta = W1 [[1, -1], [0.5, 2]] (row-major), w2 [2, -1]."""
    env = envs.make("bandit_nonlinear", num_arms=3, k=1, dim=2, horizon=10)
    agent = agents.get("cn_ucb")
    state = agent.init(jax.random.key(0), env.spec, config)
    return state.replace(theta=jnp.array([1.0, -1.0, 0.5, 2.0, 2.0, -1.0]))


def test_cn_ucb_score_and_z_inverse_update_match_hand_computation():
    config = neural_bandits.CNUCBConfig(hidden=2, gamma=0.5, reg=1.0, period=10)
    state = tiny_neural_state(config)
    x = jnp.array([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    # hidden pre-activations x W1 = [1.5, 1] (both active): f = 2 * 1.5 - 1 * 1 = 2.
    # df/dW1[i, j] = x_i w2_j -> [2, -1, 2, -1]; df/dw2 = relu(x W1) = [1.5, 1];
    # g = grad / sqrt(m = 2), so |g|^2 = (4 + 1 + 4 + 1 + 2.25 + 1) / 2 = 6.625.
    g = np.array([2.0, -1.0, 2.0, -1.0, 1.5, 1.0]) / np.sqrt(2.0)
    f, feats = neural_bandits.predictions_and_features(state, x)
    np.testing.assert_allclose(np.asarray(f)[0], 2.0, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(feats)[0], g, rtol=1e-6)
    np.testing.assert_allclose(float(neural_bandits.ucb_scores(state, x)[0]), 2.0 + 0.5 * np.sqrt(6.625), rtol=1e-6)
    # One round choosing arm 0 (at time 1: no training, period 10): Z = I + g g^T, so
    # Z^-1 = I - g g^T / (1 + 6.625) and g^T Z^-1 g = 6.625 / 7.625.
    feedback = BanditFeedback(x, jnp.array([0.3]), jnp.float32(0.3))
    after = neural_bandits.neural_update(state.replace(time=jnp.int32(1)), jnp.array([0]), feedback)
    np.testing.assert_allclose(np.asarray(after.z_inv), np.eye(6) - np.outer(g, g) / 7.625, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(after.theta), np.asarray(state.theta))
    np.testing.assert_allclose(float(neural_bandits.ucb_scores(after, x)[0]), 2.0 + 0.5 * np.sqrt(6.625 / 7.625), rtol=1e-5)
    assert int(after.time) == 2 and bool(after.filled[1]) and float(after.rewards[1, 0]) == pytest.approx(0.3)
    # At time 0 (0 % period == 0) the round is trained on: theta moves toward the reward,
    # and Z still takes the pre-training g.
    trained = neural_bandits.neural_update(state, jnp.array([0]), feedback)
    f_after = neural_bandits.predictions_and_features(trained, x)[0][0]
    assert abs(float(f_after) - 0.3) < abs(2.0 - 0.3)
    np.testing.assert_allclose(np.asarray(trained.z_inv), np.asarray(after.z_inv), rtol=1e-6)


@pytest.fixture(scope="module")
def nonlinear_regret():
    """Cumulative regret [I, T] of CN-UCB, CN-TS and CUCB on a small h2 (quadratic) instance
    set: 10 arms, choose 2, d = 5, 300 rounds, 4 instances; authors' default configs."""
    env = envs.make("bandit_nonlinear", num_arms=10, k=2, dim=5, score="h2", horizon=300)
    params = jax.vmap(env.sample_params)(jax.random.split(jax.random.key(1), 4))
    keys = jax.random.split(jax.random.key(2), 4)
    out = {}
    for name in ("cn_ucb", "cn_ts", "cucb"):
        agent = agents.get(name)
        regret = run_bandit(env, agent, agent.config_cls(), keys, params, 300, sequential=name.startswith("cn"))
        out[name] = np.asarray(regret).cumsum(axis=1)
    return out


def test_neural_bandits_have_sublinear_regret_and_beat_cucb(nonlinear_regret):
    half = 150
    for name in ("cn_ucb", "cn_ts"):
        cumulative = nonlinear_regret[name].mean(axis=0)
        # Sub-linear: the second half adds far less regret than the first.
        assert cumulative[-1] - cumulative[half - 1] < 0.5 * cumulative[half - 1], name
        assert cumulative[-1] < 0.3 * nonlinear_regret["cucb"].mean(axis=0)[-1], name
    # CUCB ignores the contexts: its regret grows linearly.
    cucb = nonlinear_regret["cucb"].mean(axis=0)
    assert cucb[-1] - cucb[half - 1] > 0.8 * cucb[half - 1]


def test_sequential_and_vmapped_runs_agree_and_hold_no_lapack_call():
    env = envs.make("bandit_nonlinear", num_arms=4, k=2, dim=3, horizon=12)
    params = jax.vmap(env.sample_params)(jax.random.split(jax.random.key(3), 2))
    keys = jax.random.split(jax.random.key(4), 2)
    agent = agents.get("cn_ts")
    config = agent.config_cls(hidden=4, period=3, window=4, epochs=2)
    a = run_bandit(env, agent, config, keys, params, 12)
    b = run_bandit(env, agent, config, keys, params, 12, sequential=True)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    # Z^-1 and the ridge inverses come from Sherman-Morrison: no LAPACK kernel in the
    # vmapped program (it can deadlock a 2-thread pool, see test_no_deadlock.py).
    for name in ("cn_ucb", "cn_ts", "linucb", "epsilon_greedy"):
        agent = agents.get(name)
        cfg = agent.config_cls(hidden=4) if name.startswith("cn") else agent.config_cls()
        text = jax.jit(jax.vmap(lambda k, p: bandit_episode(env, agent, cfg, k, p, 5))).lower(keys, params).as_text()
        assert not re.findall(r"lapack_\w+", text), name


def test_neural_bandit_bad_inputs_raise():
    spec = envs.make("bandit_nonlinear", dim=3).spec
    with pytest.raises(ValueError, match="hidden=0"):
        agents.get("cn_ucb").init(jax.random.key(0), spec, neural_bandits.CNUCBConfig(hidden=0))
    with pytest.raises(ValueError, match="samples=0"):
        agents.get("cn_ts").init(jax.random.key(0), spec, neural_bandits.CNTSConfig(samples=0))
    with pytest.raises(ValueError, match="gamma"):
        agents.get("cn_ucb").init(jax.random.key(0), spec, neural_bandits.CNUCBConfig(gamma=-1.0))
    with pytest.raises(ValueError, match="score='h9'"):
        envs.make("bandit_nonlinear", score="h9")


def test_nonlinear_bandit_follows_the_score_functions():
    env = envs.make("bandit_nonlinear", num_arms=6, k=2, dim=4, score="h3")
    params = env.sample_params(jax.random.key(0))
    state, ts = env.reset(jax.random.key(1), params)
    x = np.asarray(ts.obs.context)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)  # unit contexts
    z = x @ np.asarray(params.direction)
    np.testing.assert_allclose(np.asarray(env.arm_means(ts.obs.context, params)), np.cos(3.14 * z), rtol=1e-5)
    assert env.spec.action_space == Subset(6, 2)
