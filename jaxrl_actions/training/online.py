"""The online training loop: act in `num_envs` envs, then update the agent on the
transitions of that one step (no replay buffer, no rollout), as the online Q actor-critic
of Akkerman et al. (DNC) learns: their `QAC_C2DMapping.update` optimises on every env
step with batch_size 1 (tumBAIS/dynamicNeighborhoodConstruction, Src/parser.py).

    trainer = make_trainer(env, agent, config)      # Trainer protocol (training/common.py)
    carry, metrics = trainer.update(carry)          # one env step of every env + one update

Scan nesting of a fused run (`common.fused_train`):

    scan over iterations (num_updates = total_steps // num_envs)      update(carry)
      |- agent.policy_step (vmap over num_envs) -> PolicyOutput(action, raw_action, ...)
      |- env.step (vmap over num_envs)
      |- agent.update(state, Transition[num_envs], key)

The agent's `raw_action` (for DNC: the continuous proxy its Gaussian actor sampled, which
its policy-gradient loss scores) travels in `Transition.behaviour`. Bootstrapping: a
truncated step stores AutoReset's `final_obs` as `next_obs`; whether truncation stops the
bootstrap is the agent's choice (it sees `terminated` and `truncated`).

Config: an agent config that subclasses `OnlineConfig` (these fields are static).
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions.agents.base import Agent
from jaxrl_actions.training.common import (
    ACTION_OUT_OF_RANGE,
    EpisodeTally,
    ErrorFlag,
    Trainer,
    episode_metrics,
    learner_metrics,
    out_of_range,
)
from jaxrl_actions.training.config import OnlineConfig, check_online_config
from jaxrl_actions.types import TimeStep, Transition
from jaxrl_actions.wrappers import training_env


@struct.dataclass
class OnlineCarry:
    step: jax.Array  # int32[] iterations done
    error: ErrorFlag
    agent_state: Any
    env_state: Any  # batched [num_envs]
    timestep: TimeStep  # [num_envs] the latest TimeStep: what the agent acts on next
    key: jax.Array
    episodes: EpisodeTally


def make_trainer(env, agent: Agent, config: OnlineConfig) -> Trainer:
    """The online Trainer for an unbatched `env` and an `online` agent (policy_step and
    update(state, Transition[num_envs], key) -> (state, metrics))."""
    if agent.family != "online":
        raise ValueError(f"agent {agent.name!r} is {agent.family!r}; the online loop needs an online agent")
    check_online_config(config)
    if agent.check_config is not None:
        agent.check_config(config)
    venv = training_env(env, config.num_envs)
    space = env.spec.action_space
    num_envs = config.num_envs
    policy_step = jax.vmap(agent.policy_step, in_axes=(None, 0, 0, 0))

    def init(key) -> OnlineCarry:
        k_env, k_agent, key = jax.random.split(key, 3)
        env_state, ts = venv.reset(k_env)
        return OnlineCarry(jnp.int32(0), ErrorFlag.clear(), agent.init(k_agent, env.spec, config), env_state, ts, key,
                           EpisodeTally.zeros())

    def update(carry: OnlineCarry) -> tuple[OnlineCarry, dict]:
        key, k_act, k_env, k_learn = jax.random.split(carry.key, 4)
        ts = carry.timestep
        error = carry.error
        if ts.action_mask is not None:
            error = error.record(~jax.vmap(space.mask_has_valid)(ts.action_mask), carry.step)
        out = policy_step(carry.agent_state, ts.obs, ts.action_mask, jax.random.split(k_act, num_envs))
        error = error.record(out_of_range(space, out.action), carry.step, ACTION_OUT_OF_RANGE)
        env_state, next_ts = venv.step(k_env, carry.env_state, out.action)
        transition = Transition(
            obs=ts.obs, action=out.action, reward=next_ts.reward, terminated=next_ts.terminated,
            truncated=next_ts.truncated, next_obs=next_ts.final_obs, action_mask=ts.action_mask,
            next_action_mask=next_ts.final_action_mask, behaviour=out.raw_action)
        agent_state, learn = agent.update(carry.agent_state, transition, k_learn)
        step = carry.step + 1
        episodes, episode_stats = episode_metrics(carry.episodes, next_ts.info)
        metrics = {"env_steps": step * num_envs, **episode_stats, **learner_metrics(learn)}
        return OnlineCarry(step, error, agent_state, env_state, next_ts, key, episodes), metrics

    return Trainer(init=init, update=update, num_updates=config.num_updates, steps_per_update=num_envs)
