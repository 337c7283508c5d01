"""Training loops. `make_train(env, agent, config) -> train(key)` picks the loop family
named by `agent.family` (a module `jaxrl_actions.training.<family>` with `make_trainer`)."""
from __future__ import annotations

import importlib
from typing import Any, Callable

from jaxrl_actions.training.common import Trainer, fused_train


def make_trainer(env, agent, config) -> Trainer:
    try:
        module = importlib.import_module(f"jaxrl_actions.training.{agent.family}")
    except ModuleNotFoundError as err:
        raise ValueError(f"agent {agent.name!r} has unknown loop family {agent.family!r}") from err
    return module.make_trainer(env, agent, config)


def make_train(env, agent, config) -> Callable[[Any], tuple[Any, dict]]:
    """train(key) -> (final carry, metrics stacked over updates): pure and jit-able;
    `jax.vmap(lambda k, c: make_train(env, agent, c)(k))(keys, configs)` sweeps seeds and
    numeric hyper-parameters in one compiled call."""
    return fused_train(make_trainer(env, agent, config))
