"""The off-policy training loop (SAC, TD3/DDPG, REDQ, the DQN family): act in `num_envs`
parallel envs, store transitions in a replay buffer inside `jit`, and take `utd` gradient
steps on sampled batches every `update_every` iterations.

    trainer = make_trainer(env, agent, config)      # Trainer protocol (training/common.py)
    carry = trainer.init(key)
    carry, metrics = trainer.update(carry)          # one iteration

Scan nesting of a fused run (`common.fused_train`):

    scan over iterations (num_updates = total_steps // num_envs)      update(carry)
      |- act: all envs step once (random actions from the space, respecting masks, for
      |       the first warmup_steps env steps unless random_warmup=False; then
      |       agent.act, or extras["act_batch"])                     [num_envs]
      |- replay.add(Transition[num_envs])   (n_step > 1: the n-step transition that
      |       starts n - 1 iterations back, built from a window of the last n steps)
      |- if learning (after warm-up and once a batch fits, then every update_every-th
      |  iteration):
           scan over utd gradient steps:  sample Transition[batch_size] -> agent.update
               (replay="prioritised": sample with importance weights ->
                extras["prioritised_update"] -> new priorities into the sum tree)

The loop knows nothing about the action space beyond `space.sample(key, mask)` and
`space.mask_has_valid(mask)`; agents plug in with `act(state, obs, mask, key,
deterministic)` and `update(state, batch, key) -> (state, metrics)`, and keep their own
target networks. Bootstrapping: a `terminated` transition stops it; a truncated one stores
`final_obs` and `final_action_mask` (AutoReset's last observation of the old episode and
its mask) as `next_obs` and `next_action_mask`.

n-step returns (`n_step > 1`): each stored transition sums up to n discounted rewards of
one env, stops at the first episode end, and carries its bootstrap discount gamma^m
(`Transition.discount`, read by `td.transition_target`); gamma is the agent config's.

Agent hooks (`Agent.extras`), each optional:
- `act_batch(state, obs [N], mask [N], key) -> (actions [N], state)`: acting that updates the
  agent state (REValueD's epsilon decays with every exploratory action); used instead of
  `vmap(agent.act)` after warm-up.
- `prioritised_update(state, batch, weights [B], key) -> (state, metrics, priorities [B])`:
  the update with importance weights, returning each item's new raw priority; needed for
  `replay="prioritised"`.

Behaviour records: an agent with `extras["behaviour"](state, obs, mask, uniform) -> pytree`
(e.g. discrete SAC: the acting policy's entropy) has it stored with each transition
(`Transition.behaviour`); `uniform` is True while warm-up actions are uniformly random.

Config: an agent config that subclasses `OffPolicyConfig` (these fields are static).
"""
from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions import td
from jaxrl_actions.agents.base import Agent
from jaxrl_actions.buffers.replay import make_prioritised_replay_buffer, make_replay_buffer
from jaxrl_actions.training.common import (
    ACTION_OUT_OF_RANGE,
    EpisodeTally,
    ErrorFlag,
    Trainer,
    episode_metrics,
    learner_metrics,
    LEARNED,
    out_of_range,
    shared_across_runs,
)
from jaxrl_actions.training.config import OffPolicyConfig, check_off_policy_config, learning_starts
from jaxrl_actions.types import TimeStep, Transition
from jaxrl_actions.wrappers import training_env


@struct.dataclass
class OffPolicyCarry:
    step: jax.Array  # int32[] iterations done
    error: ErrorFlag
    agent_state: Any
    env_state: Any  # batched [num_envs]
    timestep: TimeStep  # [num_envs] the latest TimeStep: what the agent acts on next
    buffer_state: Any
    key: jax.Array
    episodes: EpisodeTally  # what the episode metrics carry between reports
    window: Any = None  # Transition[n_step, num_envs]: the latest steps (n_step > 1 only)


def empty_mask(space, mask) -> jax.Array:
    """bool[num_envs]: the env offers no valid action (False everywhere without masks)."""
    if mask is None:
        return jnp.zeros((1,), bool)
    return ~jax.vmap(space.mask_has_valid)(mask)


def make_trainer(env, agent: Agent, config: OffPolicyConfig) -> Trainer:
    """The off-policy Trainer for an unbatched `env` (batched/wrapped here) and an
    off-policy `agent`. Only structural config fields are read outside traced code."""
    if agent.family != "off_policy":
        raise ValueError(f"agent {agent.name!r} is {agent.family!r}; the off-policy loop needs an off_policy agent")
    check_off_policy_config(config)
    if agent.check_config is not None:
        agent.check_config(config)
    spec = env.spec
    space = spec.action_space
    venv = training_env(env, config.num_envs)
    num_envs = config.num_envs
    prioritised = config.replay == "prioritised"
    prioritised_update = agent.extras.get("prioritised_update")
    if prioritised and prioritised_update is None:
        raise ValueError(f"replay='prioritised' needs an agent with extras['prioritised_update']; "
                         f"agent {agent.name!r} has none (use replay='uniform')")
    if prioritised:
        buffer = make_prioritised_replay_buffer(config.buffer_size, config.batch_size, config.priority_exponent,
                                                config.importance_exponent)
    else:
        buffer = make_replay_buffer(config.buffer_size, config.batch_size)
    start = learning_starts(config)
    n_step = config.n_step
    behaviour_fn = agent.extras.get("behaviour")
    act_batch = agent.extras.get("act_batch")
    warmup_iters = math.ceil(config.warmup_steps / num_envs) if config.random_warmup else 0

    def random_actions(key, mask):
        keys = jax.random.split(key, num_envs)
        return jax.vmap(space.sample)(keys, mask)

    def policy_actions(agent_state, key, obs, mask):
        """(actions [num_envs], agent_state): the agent's exploring actions."""
        if act_batch is not None:
            return act_batch(agent_state, obs, mask, key)
        keys = jax.random.split(key, num_envs)
        return jax.vmap(agent.act, in_axes=(None, 0, 0, 0, None))(agent_state, obs, mask, keys, False), agent_state

    def behaviour(agent_state, ts: TimeStep, uniform) -> Any:
        """The agent's behaviour record for each env's step, or None."""
        if behaviour_fn is None:
            return None
        return jax.vmap(behaviour_fn, in_axes=(None, 0, 0, None))(agent_state, ts.obs, ts.action_mask, uniform)

    def example_transition(ts: TimeStep, agent_state, key) -> Transition:
        """One transition as the buffer stores it (shapes and dtypes only)."""
        obs, mask = jax.tree_util.tree_map(lambda x: x[0], (ts.obs, ts.action_mask))
        discount = jnp.float32(1.0) if n_step > 1 else None
        record = jax.eval_shape(behaviour, agent_state, ts, jnp.bool_(True))
        record = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape[1:], s.dtype), record)
        return Transition(obs, space.sample(key, None), jnp.float32(0.0), jnp.bool_(False), jnp.bool_(False),
                          obs, mask, mask, discount, record)

    def empty_window(example: Transition):
        """Transition[n_step, num_envs] of placeholders, replaced before any is stored."""
        if n_step == 1:
            return None
        one = example._replace(discount=None)
        return jax.tree_util.tree_map(lambda x: jnp.zeros((n_step, num_envs) + jnp.shape(x), jnp.asarray(x).dtype), one)

    def store(carry: OffPolicyCarry, transition: Transition, shared_step: jax.Array):
        """Adds this step's transition (n_step == 1) or the n-step one that the window
        completes (once n_step steps have been taken); returns (buffer_state, window).
        `shared_step`: the iteration count shared by all runs (see `update`)."""
        if n_step == 1:
            return buffer.add(carry.buffer_state, transition), None
        window = jax.tree_util.tree_map(lambda w, x: jnp.concatenate([w[1:], x[None]]), carry.window, transition)
        completed = td.n_step_transition(window, carry.agent_state.config.gamma)
        buffer_state = jax.lax.cond(shared_step >= n_step - 1, buffer.add, lambda b, _: b, carry.buffer_state, completed)
        return buffer_state, window

    def init(key) -> OffPolicyCarry:
        k_env, k_agent, k_example, key = jax.random.split(key, 4)
        env_state, ts = venv.reset(k_env)
        agent_state = agent.init(k_agent, spec, config)
        example = example_transition(ts, agent_state, k_example)
        return OffPolicyCarry(jnp.int32(0), ErrorFlag.clear(), agent_state, env_state, ts, buffer.init(example), key,
                              EpisodeTally.zeros(), empty_window(example))

    def one_update(carry, k):
        agent_state, buffer_state = carry
        k_sample, k_update = jax.random.split(k)
        if not prioritised:
            agent_state, metrics = agent.update(agent_state, buffer.sample(buffer_state, k_sample), k_update)
            return (agent_state, buffer_state), metrics
        sample = buffer.sample(buffer_state, k_sample)
        agent_state, metrics, priorities = prioritised_update(agent_state, sample.batch, sample.weights, k_update)
        return (agent_state, buffer.set_priorities(buffer_state, sample.indices, priorities)), metrics

    def learn(agent_state, buffer_state, key):
        (agent_state, buffer_state), metrics = jax.lax.scan(
            one_update, (agent_state, buffer_state), jax.random.split(key, config.utd))
        return agent_state, buffer_state, jax.tree_util.tree_map(jnp.mean, metrics)

    def skip_learning(agent_state, buffer_state, key):
        shapes = jax.eval_shape(learn, agent_state, buffer_state, key)[2]
        return agent_state, buffer_state, jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    def update(carry: OffPolicyCarry) -> tuple[OffPolicyCarry, dict]:
        key, k_random, k_policy, k_env, k_learn = jax.random.split(carry.key, 5)
        ts = carry.timestep
        error = carry.error.record(empty_mask(space, ts.action_mask), carry.step)
        shared_step = shared_across_runs(carry.step)  # unbatched under the runner's vmap: conds stay conds

        uniform = shared_step < warmup_iters
        actions, acted_state = jax.lax.cond(
            uniform,
            lambda: (random_actions(k_random, ts.action_mask), carry.agent_state),
            lambda: policy_actions(carry.agent_state, k_policy, ts.obs, ts.action_mask),
        )
        error = error.record(out_of_range(space, actions), carry.step, ACTION_OUT_OF_RANGE)
        env_state, next_ts = venv.step(k_env, carry.env_state, actions)
        transition = Transition(
            obs=ts.obs,
            action=actions,
            reward=next_ts.reward,
            terminated=next_ts.terminated,
            truncated=next_ts.truncated,
            next_obs=next_ts.final_obs,
            action_mask=ts.action_mask,
            next_action_mask=next_ts.final_action_mask,
            behaviour=behaviour(carry.agent_state, ts, uniform),
        )
        buffer_state, window = store(carry, transition, shared_step)

        if config.utd > 0:
            learning = (shared_step >= start) & ((shared_step - start) % config.update_every == 0)
            agent_state, buffer_state, learn_metrics = jax.lax.cond(
                learning, learn, skip_learning, acted_state, buffer_state, k_learn
            )
        else:
            agent_state, learn_metrics, learning = acted_state, {}, jnp.bool_(False)
        step = carry.step + 1
        episodes, episode_stats = episode_metrics(carry.episodes, next_ts.info)
        metrics = {"env_steps": step * num_envs, **episode_stats,
                   "learning": (carry.step >= start).astype(jnp.float32), LEARNED: learning.astype(jnp.float32),
                   **learner_metrics(learn_metrics)}
        new_carry = OffPolicyCarry(step, error, agent_state, env_state, next_ts, buffer_state, key, episodes, window)
        return new_carry, metrics

    return Trainer(init=init, update=update, num_updates=config.total_steps // num_envs, steps_per_update=num_envs)
