"""Training loops: pure, jit-able, no files and no argparse.

`make_train(env, agent, config) -> train(key)` picks the loop of `agent.family` from one
registry, `FAMILIES` (used by `make_train`, the runner and `jaxrl-actions list`):

    on_policy   training/on_policy.py   PPO and every agent with policy_step/value/update
    off_policy  training/off_policy.py  replay-based agents (SAC, TD3, DQN, DecQN, CQN, ...)
    bandit      training/bandit.py      bandit agents, regret against the oracle
    online      training/online.py      one update per env step on that step alone (DNC's QAC)
    restless    (no Trainer)            coupled restless bandits: `bandit.train_restless`
"""
from __future__ import annotations

from typing import Any, Callable

from jaxrl_actions.registry import Registry
from jaxrl_actions.training import bandit, off_policy, on_policy, online
from jaxrl_actions.training.common import RUN_AXIS, Trainer, fused_train
from jaxrl_actions.types import Metrics

FAMILIES = Registry("loop family")
FAMILIES.register("on_policy", on_policy.make_trainer, "rollouts of num_envs x rollout_len, then agent.update")
FAMILIES.register("off_policy", off_policy.make_trainer, "replay buffer; utd gradient steps per env step")
FAMILIES.register("bandit", bandit.make_trainer, "one bandit instance per run; regret against its oracle")
FAMILIES.register("online", online.make_trainer, "one update per env step on that step's transitions, no replay")
FAMILIES.register("restless", bandit.reject_restless, "coupled restless bandits: train with training.bandit.train_restless")


def make_trainer(env, agent, config) -> Trainer:
    """The Trainer of `agent.family`'s loop; an unknown family names the agent and the known ones."""
    if agent.family not in FAMILIES:
        raise ValueError(f"agent {agent.name!r} has loop family {agent.family!r}; known families: {', '.join(FAMILIES.names())}")
    return FAMILIES.get(agent.family).factory(env, agent, config)


def make_train(env, agent, config) -> Callable[[Any], tuple[Any, Metrics]]:
    """train(key) -> (final carry, metrics stacked over updates): pure and jit-able;
    `jax.vmap(lambda k, c: make_train(env, agent, c)(k))(keys, configs)` sweeps seeds and
    numeric hyper-parameters in one compiled call. Pass `axis_name=training.RUN_AXIS` to that
    vmap (as the runner does) so that the loop's conds on the iteration count stay branches
    instead of selects (`common.shared_across_runs`): the same numbers, less work."""
    return fused_train(make_trainer(env, agent, config))
