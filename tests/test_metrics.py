"""One metrics contract for every loop (training.common.episode_metrics), learner metrics
under `learn/`, and one loop-family registry that names what to call for agents without
a make_train loop."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from jaxrl_actions.actions import invalid_penalty, transform_actions
from jaxrl_actions.agents import factorised, ppo, restless
from jaxrl_actions.training import FAMILIES, make_train
from jaxrl_actions.training.common import LEARN_PREFIX, EpisodeTally, episode_metrics
from jaxrl_actions.types import EPISODE_DONE, EPISODE_LENGTH, EPISODE_RETURN, INVALID_ACTION


def _info(done, returns, lengths, invalid=None):
    info = {EPISODE_DONE: jnp.asarray(done), EPISODE_RETURN: jnp.asarray(returns, jnp.float32),
            EPISODE_LENGTH: jnp.asarray(lengths, jnp.int32)}
    if invalid is not None:
        info[INVALID_ACTION] = jnp.asarray(invalid)
    return info


def test_episode_metrics_average_the_finished_episodes_and_carry_forward():
    tally = EpisodeTally.zeros()
    # [T=2, B=3]: two episodes end (returns 4 and 10, lengths 2 and 6); the others are mid-episode
    info = _info([[False, True, False], [False, False, True]], [[9.0, 4.0, 7.0], [9.0, 4.0, 10.0]],
                 [[1, 2, 3], [1, 2, 6]], invalid=[[True, False, False], [True, True, False]])
    tally, m = episode_metrics(tally, info)
    assert float(m["episode_return"]) == 7.0 and float(m["episode_length"]) == 4.0
    assert int(m["episodes"]) == 2 and int(m["invalid_actions"]) == 3
    # nothing finishes: the last values are carried forward, invalid actions accumulate
    tally, m = episode_metrics(tally, _info([False, False], [1.0, 2.0], [3, 4], invalid=[True, False]))
    assert float(m["episode_return"]) == 7.0 and float(m["episode_length"]) == 4.0
    assert int(m["episodes"]) == 0 and int(m["invalid_actions"]) == 4


def test_off_policy_loop_reports_invalid_actions_on_mining_and_learner_metrics_apart():
    env = transform_actions(envs.make("mining_grid", size=4), invalid_penalty(-0.1))
    config = factorised.DecQNConfig(total_steps=120, num_envs=2, batch_size=8, buffer_size=200, warmup_steps=20,
                                    hidden_sizes=(8,), n_step=1)
    _, metrics = jax.jit(make_train(env, factorised.DECQN, config))(jax.random.PRNGKey(0))
    invalid = np.asarray(metrics["invalid_actions"])
    assert invalid[-1] > 0 and np.all(np.diff(invalid) >= 0)  # random unmasked actions are often invalid
    learner = [k for k in metrics if k.startswith(LEARN_PREFIX)]
    assert learner and not {"loss", "q_loss", "critic_loss"} & set(metrics)
    assert {"episode_return", "episode_length", "episodes", "invalid_actions"} <= set(metrics)


def test_on_policy_loop_reports_the_same_metric_names():
    config = ppo.PPOConfig(total_steps=256, num_envs=2, rollout_len=32, hidden_sizes=(8,))
    _, metrics = jax.jit(make_train(envs.make("cartpole"), ppo.AGENT, config))(jax.random.PRNGKey(0))
    assert {"episode_return", "episode_length", "episodes", "invalid_actions"} <= set(metrics)
    assert f"{LEARN_PREFIX}policy_loss" in metrics and "policy_loss" not in metrics


def test_every_registered_family_trains_or_names_what_to_call():
    assert set(FAMILIES.names()) == {"on_policy", "off_policy", "bandit", "online", "restless"}
    agent = restless.AGENTS[-1]
    with pytest.raises(ValueError, match=rf"agent '{agent.name}'.*train_restless"):
        make_train(envs.make("restless_path"), agent, agent.config_cls())


def test_unknown_family_names_the_agent():
    from dataclasses import replace

    with pytest.raises(ValueError, match=r"agent 'ppo' has loop family 'nope'; known families: bandit"):
        make_train(envs.make("cartpole"), replace(ppo.AGENT, family="nope"), ppo.PPOConfig())
