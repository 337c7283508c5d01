"""Imports every built-in agent module once so each registers itself."""
import importlib

BUILTIN_AGENT_MODULES = ("ppo", "bandits", "restless", "sac", "td3", "redq", "dnc", "wolpertinger", "dqn",
                         "sac_discrete", "factorised", "cqn", "sac_bernoulli")

for _module in BUILTIN_AGENT_MODULES:
    importlib.import_module(f"jaxrl_actions.agents.{_module}")
