"""The bandit loop: an agent plays one bandit instance step by step, learning from each
step's feedback; the metric is (pseudo-)regret against the instance's oracle.

    bandit_episode(env, agent, config, key, params, horizon) -> BanditTrace  (one instance)
    run_bandit(env, agent, config, keys, params, horizon)    -> regret float32[I, T]
        (sequential=True: lax.map over instances instead of vmap, so an agent's lax.cond
        stays a branch: CN-UCB/CN-TS train every `period` rounds instead of every round)
    make_trainer(env, agent, BanditTrainConfig(...))         -> Trainer (the runner drives it)
    restless_episode / evaluate_restless / train_restless      coupled restless bandits

Scan nesting (`run_bandit`): jit( vmap over I instances ( lax.scan over T steps ( act ->
env.step -> update ) ) ). The per-step regret is `oracle_reward(context) -
expected_reward(context, action)`, the expected shortfall of the chosen action (no reward
noise), so it is 0 exactly when the agent picks an optimal action.

The env must be a bandit from `envs/bandits.py` (or anything offering `sample_params`,
`expected_reward(context, action, params)` and `oracle_reward(context, params)`, with
`types.BanditObs` observations).
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions.agents.base import Agent
from jaxrl_actions.training.common import Trainer
from jaxrl_actions.types import Array, BanditFeedback, Metrics, PRNGKey, TimeStep, Transition


class BanditTrace(NamedTuple):
    regret: Array  # float32[T] expected regret of each step
    reward: Array  # float32[T] reward received


@struct.dataclass
class BanditCarry:
    """One instance's loop state."""

    agent_state: Any
    env_state: Any
    timestep: TimeStep  # the last TimeStep (its obs is the context of the coming choice)
    params: Any  # the instance
    key: PRNGKey


def _require_bandit(env, agent: Agent) -> None:
    missing = [m for m in ("sample_params", "expected_reward", "oracle_reward") if not hasattr(env, m)]
    if missing:
        raise TypeError(f"the bandit loop needs a bandit env; {env!r} lacks {', '.join(missing)}")
    if agent.family != "bandit":
        raise ValueError(f"the bandit loop needs an agent of family 'bandit', got {agent.name!r} ({agent.family!r})")


def init_carry(env, agent: Agent, config: Any, key: PRNGKey, params: Any) -> BanditCarry:
    k_agent, k_env, key = jax.random.split(key, 3)
    env_state, timestep = env.reset(k_env, params)
    return BanditCarry(agent.init(k_agent, env.spec, config), env_state, timestep, params, key)


def bandit_step(env, agent: Agent, carry: BanditCarry) -> tuple[BanditCarry, BanditTrace]:
    """act on the current context, step the env, learn from the per-arm feedback."""
    key, k_act, k_env = jax.random.split(carry.key, 3)
    obs = carry.timestep.obs
    action = agent.act(carry.agent_state, obs, carry.timestep.action_mask, k_act)
    env_state, timestep = env.step(k_env, carry.env_state, action, carry.params)
    feedback = BanditFeedback(obs.context, timestep.obs.arm_rewards, timestep.reward)
    agent_state = agent.update(carry.agent_state, action, feedback)
    regret = env.oracle_reward(obs.context, carry.params) - env.expected_reward(obs.context, action, carry.params)
    carry = BanditCarry(agent_state, env_state, timestep, carry.params, key)
    return carry, BanditTrace(regret, timestep.reward)


def bandit_episode(env, agent: Agent, config: Any, key: PRNGKey, params: Any, horizon: int) -> BanditTrace:
    """One instance, `horizon` steps: BanditTrace of float32[horizon] arrays."""
    carry = init_carry(env, agent, config, key, params)
    _, trace = jax.lax.scan(lambda c, _: bandit_step(env, agent, c), carry, None, length=int(horizon))
    return trace


_COMPILED: dict = {}  # (id(env), id(agent), horizon, sequential) -> (env, agent, fn); holding env and agent keeps the ids unique


def _compiled_runs(env, agent: Agent, horizon: int, sequential: bool = False):
    """jit(vmap(bandit_episode)) (or jit(lax.map(...)) when `sequential`) per (env, agent,
    horizon), built once and reused (Agent records hold a dict, so they are not hashable:
    keyed by identity)."""
    cache_key = (id(env), id(agent), horizon, sequential)
    if cache_key not in _COMPILED:
        episode = functools.partial(bandit_episode, env, agent, horizon=horizon)
        if sequential:
            fn = jax.jit(lambda config, key, params: jax.lax.map(lambda kp: episode(config, *kp), (key, params)))
        else:
            fn = jax.jit(jax.vmap(lambda config, key, params: episode(config, key, params), in_axes=(None, 0, 0)))
        _COMPILED[cache_key] = (env, agent, fn)
    return _COMPILED[cache_key][2]


def run_bandit(env, agent: Agent, config: Any, key: PRNGKey, params: Any, horizon: int,
               sequential: bool = False) -> Array:
    """Per-step expected regret float32[I, horizon] of `agent` on I instances.

    key: I keys (`jax.random.split(k, I)`), one per instance; params: the instances stacked
    on a leading axis (`jax.vmap(env.sample_params)(keys)`). `config` is shared.
    `sequential`: play the instances one after another (`lax.map`) instead of `vmap`; the
    same numbers, but a `lax.cond` inside the agent (periodic training) stays a branch
    instead of running both sides every step."""
    _require_bandit(env, agent)
    num = jax.tree_util.tree_leaves(params)[0].shape[0] if jax.tree_util.tree_leaves(params) else None
    if jnp.shape(key)[:1] != (num,):
        raise ValueError(f"run_bandit needs one key per instance: {num} instances, keys of shape {jnp.shape(key)}")
    return _compiled_runs(env, agent, int(horizon), bool(sequential))(config, key, params).regret


# --- an oracle agent (for checks): it is handed the instance ------------------------------
@struct.dataclass
class OracleConfig:
    params: Any  # the instance the oracle knows


@struct.dataclass
class OracleState:
    params: Any


def oracle_agent(env) -> Agent:
    """An agent that always takes `env.oracle_action` (its config carries the instance);
    its regret is 0 by construction, which checks the loop and the env's regret."""
    return Agent(
        name="oracle",
        family="bandit",
        config_cls=OracleConfig,
        init=lambda key, spec, config: OracleState(config.params),
        act=lambda state, obs, mask, key, deterministic=False: env.oracle_action(obs.context, state.params),
        update=lambda state, action, feedback: state,
        description="Knows the instance; picks the best expected action",
    )


# --- the Trainer the runner drives ------------------------------------------------------
@struct.dataclass
class BanditTrainConfig:
    agent: Any  # the agent's config (numeric leaves: vmap sweeps them)
    num_instances: int = struct.field(pytree_node=False, default=64)  # random instances played at once
    horizon: int = struct.field(pytree_node=False, default=1000)  # steps per instance
    steps_per_update: int = struct.field(pytree_node=False, default=100)  # steps per `update` call


@struct.dataclass
class BanditTrainCarry:
    instances: BanditCarry  # [I]
    cumulative_regret: Array  # float32[I]
    step: Array  # int32[] updates done


def make_trainer(env, agent: Agent, config: BanditTrainConfig) -> Trainer:
    """Trainer over `num_instances` instances sampled from the key; each `update` plays
    `steps_per_update` steps on all of them. Metrics: mean per-step `regret` and `reward`
    over the chunk, and mean `cumulative_regret` so far."""
    _require_bandit(env, agent)
    if config.horizon % config.steps_per_update or config.steps_per_update < 1:
        raise ValueError(
            f"BanditTrainConfig: horizon={config.horizon} must be a positive multiple of steps_per_update={config.steps_per_update}"
        )
    if config.num_instances < 1:
        raise ValueError(f"BanditTrainConfig: num_instances must be >= 1, got {config.num_instances}")

    def init(key):
        k_params, k_run = jax.random.split(key)
        params = jax.vmap(env.sample_params)(jax.random.split(k_params, config.num_instances))
        keys = jax.random.split(k_run, config.num_instances)
        instances = jax.vmap(functools.partial(init_carry, env, agent, config.agent))(keys, params)
        return BanditTrainCarry(instances, jnp.zeros(config.num_instances), jnp.int32(0))

    step_all = jax.vmap(functools.partial(bandit_step, env, agent))

    def update(carry: BanditTrainCarry) -> tuple[BanditTrainCarry, Metrics]:
        instances, trace = jax.lax.scan(lambda c, _: step_all(c), carry.instances, None, length=config.steps_per_update)
        cumulative = carry.cumulative_regret + trace.regret.sum(axis=0)
        metrics = {
            "regret": trace.regret.mean(),
            "reward": trace.reward.mean(),
            "cumulative_regret": cumulative.mean(),
        }
        return BanditTrainCarry(instances, cumulative, carry.step + 1), metrics

    return Trainer(init, update, config.horizon // config.steps_per_update, config.steps_per_update * config.num_instances)


# --- restless bandits: episodes and a learning loop ---------------------------------------
# Scan nesting (`train_restless`): lax.scan over iterations ( vmap over E envs ( lax.scan
# over the horizon ( act -> env.step ) ) -> agent.update on the E * T transitions ).


def restless_episode(env, agent: Agent, agent_state: Any, params: Any, key: PRNGKey, deterministic: bool = False):
    """One episode of `env.spec.max_episode_steps` steps: (Transition[T], return float32[])."""
    k_reset, key = jax.random.split(key)
    env_state, timestep = env.reset(k_reset, params)

    def one_step(carry, step_key):
        env_state, timestep = carry
        k_act, k_env = jax.random.split(step_key)
        action = agent.act(agent_state, timestep.obs, timestep.action_mask, k_act, deterministic)
        env_state, next_ts = env.step(k_env, env_state, action, params)
        transition = Transition(timestep.obs, action, next_ts.reward, next_ts.terminated, next_ts.truncated,
                                next_ts.obs, timestep.action_mask, next_ts.action_mask)
        return (env_state, next_ts), transition

    steps = jax.random.split(key, env.spec.max_episode_steps)
    _, transitions = jax.lax.scan(one_step, (env_state, timestep), steps)
    return transitions, transitions.reward.sum()


def evaluate_restless(env, agent: Agent, agent_state: Any, params: Any, key: PRNGKey, num_episodes: int, deterministic: bool = True) -> Array:
    """Mean undiscounted return float32[] over `num_episodes` episodes."""
    keys = jax.random.split(key, num_episodes)
    _, returns = jax.vmap(lambda k: restless_episode(env, agent, agent_state, params, k, deterministic))(keys)
    return returns.mean()


def train_restless(env, agent: Agent, config: Any, key: PRNGKey, params: Any, num_iterations: int, num_envs: int):
    """Learns on one instance: each iteration plays `num_envs` episodes with the current
    state (exploring) and updates on all their transitions. Returns (agent state, mean
    return per iteration float32[num_iterations])."""
    k_init, key = jax.random.split(key)
    state = agent.init(k_init, env.spec, config)

    def iteration(state, it_key):
        k_play, k_update = jax.random.split(it_key)
        play = lambda k: restless_episode(env, agent, state, params, k)
        transitions, returns = jax.vmap(play)(jax.random.split(k_play, num_envs))
        batch = jax.tree_util.tree_map(lambda x: x.reshape((-1,) + x.shape[2:]), transitions)  # [E * T]
        state, _ = agent.update(state, batch, k_update)
        return state, returns.mean()

    return jax.lax.scan(iteration, state, jax.random.split(key, num_iterations))


def reject_restless(env, agent: Agent, config: Any) -> Trainer:
    """Restless-bandit agents learn per instance with `train_restless`; `make_train` has no
    Trainer for them, so it says what to call instead."""
    raise ValueError(
        f"agent {agent.name!r} (family 'restless') has no make_train loop; train it with "
        "jaxrl_actions.training.bandit.train_restless(env, agent, config, key, params, num_iterations, num_envs) "
        "and score it with evaluate_restless"
    )
