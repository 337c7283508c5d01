"""Agent registry: `agents.make(name)` returns the `Agent` record; one module per algorithm."""
from jaxrl_actions.registry import Registry

AGENTS = Registry("agent")


def register(agent) -> None:
    AGENTS.register(agent.name, lambda: agent, agent.description)


def get(name: str):
    return AGENTS.make(name)


def names() -> list[str]:
    return AGENTS.names()


from jaxrl_actions.agents import _builtin  # noqa: E402,F401  (registers the built-in agents)
