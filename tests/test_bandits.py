"""Stochastic bandits, bandit agents and the bandit loop (envs/bandits.py,
agents/bandits.py, training/bandit.py)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.bandits import ArmParams
from jaxrl_actions import agents
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
