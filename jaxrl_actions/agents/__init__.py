"""Agents: one module per algorithm, each registering its `Agent` record by name.

    agents.get("ppo") -> Agent        agents.names() -> [...]        agents.AGENTS (the registry)
"""
from jaxrl_actions.agents import (  # noqa: F401  (each module registers its agents)
    arsq,
    bandits,
    cqn,
    dnc,
    dqn,
    factorised,
    mbma,
    neural_bandits,
    ppo,
    qac,
    redq,
    restless,
    sac,
    sac_bernoulli,
    sac_discrete,
    td3,
    wolpertinger,
)
from jaxrl_actions.agents.base import AGENTS, Agent, register


def get(name: str) -> Agent:
    return AGENTS.make(name)


def names() -> list[str]:
    return AGENTS.names()
