"""The on-policy training loop (PPO and every agent with `family="on_policy"`).

    trainer = make_trainer(env, agent, config)      # Trainer protocol (training/common.py)
    train = common.fused_train(trainer)             # train(key) -> (carry, metrics[num_updates])

Scan nesting of a fused run:

    scan over iterations (num_updates = total_steps // (num_envs * rollout_len))   update(carry)
      |- collect_rollout: scan over rollout_len steps
      |     policy_step (vmap over num_envs) -> env.step (vmap over num_envs)
      |- agent.update(state, rollout, key)
            compute targets (GAE) -> scan over epochs -> scan over minibatches

Everything runs inside one `jit`: no host callbacks in the loop (progress, logging and
checkpoints happen between chunks in the runner). The loop knows nothing about the action
space beyond `space.mask_has_valid`; masks flow from the TimeStep to the policy.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions.agents.base import Agent
from jaxrl_actions.buffers.rollout import Rollout, flatten_time_env
from jaxrl_actions.training.common import (
    ACTION_OUT_OF_RANGE,
    EpisodeTally,
    ErrorFlag,
    Trainer,
    episode_metrics,
    learner_metrics,
    out_of_range,
)
from jaxrl_actions.training.config import OnPolicyConfig, check_on_policy_config
from jaxrl_actions.types import TimeStep
from jaxrl_actions.wrappers import training_env


@struct.dataclass
class OnPolicyCarry:
    step: jax.Array  # int32[] iterations done
    error: ErrorFlag
    agent_state: Any
    env_state: Any  # batched [num_envs]
    timestep: TimeStep  # [num_envs] the latest TimeStep: what the agent acts on next
    key: jax.Array
    episodes: EpisodeTally  # what the episode metrics carry between reports


def make_trainer(env, agent: Agent, config: OnPolicyConfig) -> Trainer:
    check_on_policy_config(config)
    if agent.check_config is not None:
        agent.check_config(config)
    venv = training_env(env, config.num_envs)
    space = env.spec.action_space
    policy_step = jax.vmap(agent.policy_step, in_axes=(None, 0, 0, 0))
    value = jax.vmap(agent.value, in_axes=(None, 0))

    def init(key):
        agent_key, env_key, key = jax.random.split(key, 3)
        env_state, timestep = venv.reset(env_key)
        return OnPolicyCarry(
            step=jnp.int32(0), error=ErrorFlag.clear(),
            agent_state=agent.init(agent_key, env.spec, config),
            env_state=env_state, timestep=timestep, key=key,
            episodes=EpisodeTally.zeros())

    def env_step(carry_and_state, key):
        """One step of every env with the current policy; returns what the rollout keeps."""
        agent_state, env_state, timestep, error, step = carry_and_state
        policy_key, env_key = jax.random.split(key)
        mask = timestep.action_mask
        if mask is not None:
            error = error.record(~jax.vmap(space.mask_has_valid)(mask), step)
        out = policy_step(agent_state, timestep.obs, mask, jax.random.split(policy_key, config.num_envs))
        error = error.record(out_of_range(space, out.action), step, ACTION_OUT_OF_RANGE)
        env_state, next_ts = venv.step(env_key, env_state, out.action)
        record = (timestep.obs, out, next_ts, mask)
        return (agent_state, env_state, next_ts, error, step), record

    def collect_rollout(carry: OnPolicyCarry, key):
        start = (carry.agent_state, carry.env_state, carry.timestep, carry.error, carry.step)
        (_, env_state, timestep, error, _), (obs, out, next_ts, mask) = jax.lax.scan(
            env_step, start, jax.random.split(key, config.rollout_len))
        # Values of the visited observations, of the final observations (they bootstrap
        # truncated episodes) and of the observation after the rollout, in one batched pass
        # over [2 * T * B + B] rather than a small forward pass inside every step (XLA
        # drops the unused per-step value of `policy_step`).
        T, B = config.rollout_len, config.num_envs
        all_obs = jax.tree.map(lambda *x: jnp.concatenate(x), flatten_time_env(obs),
                               flatten_time_env(next_ts.final_obs), timestep.obs)
        values = value(carry.agent_state, all_obs)
        rollout = Rollout(
            obs=obs, action=out.action, raw_action=out.raw_action, log_prob=out.log_prob,
            value=values[:T * B].reshape(T, B),
            reward=next_ts.reward, terminated=next_ts.terminated, truncated=next_ts.truncated,
            final_value=values[T * B:2 * T * B].reshape(T, B), action_mask=mask,
            last_value=values[2 * T * B:])
        return rollout, next_ts.info, carry.replace(env_state=env_state, timestep=timestep, error=error)

    def update(carry: OnPolicyCarry):
        rollout_key, learn_key, key = jax.random.split(carry.key, 3)
        rollout, info, carry = collect_rollout(carry, rollout_key)
        agent_state, learn_metrics = agent.update(carry.agent_state, rollout, learn_key)
        episodes, episode_stats = episode_metrics(carry.episodes, info)
        step = carry.step + 1
        carry = carry.replace(step=step, agent_state=agent_state, key=key, episodes=episodes)
        metrics = {"env_steps": step * config.steps_per_update, **episode_stats, **learner_metrics(learn_metrics)}
        return carry, metrics

    return Trainer(init=init, update=update, num_updates=config.num_updates,
                   steps_per_update=config.steps_per_update)
