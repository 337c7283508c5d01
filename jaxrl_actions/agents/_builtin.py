"""Imports every built-in agent module once so each registers itself."""
import importlib

for _module in ["ppo", "bandits", "restless", "sac", "td3", "redq", "dnc", "wolpertinger", "dqn", "sac_discrete", "factorised", "cqn"]:
    try:
        importlib.import_module(f"jaxrl_actions.agents.{_module}")
    except ModuleNotFoundError as err:  # a module still being written
        if err.name != f"jaxrl_actions.agents.{_module}":
            raise
