"""jaxrl_actions: JAX-native RL about action spaces.

    import jaxrl_actions as jra
    env = jra.transform_actions(envs.make("pendulum"), jra.discretize(7))
    train = jra.make_train(env, jra.agents.ppo.AGENT, jra.agents.ppo.PPOConfig(num_envs=8))

Curated re-exports of what the README uses; no logic here. Environments come from the
separate `envs` package (`envs.make`).
"""
from jaxrl_actions import agents
from jaxrl_actions.actions import (
    ActionTransform,
    EpsilonMasking,
    Zonotope,
    bang_bang,
    chain,
    clip,
    discretize,
    flatten,
    generator_mask,
    interval_mask,
    invalid_penalty,
    ray_mask,
    repeat,
    rescale,
    sticky,
    transform_actions,
)
from jaxrl_actions.run import Experiment, RunOptions, evaluate_run, resume_run, run_experiment
from jaxrl_actions.spaces import Box, Discrete, MultiBinary, MultiDiscrete, Space, Subset, Tuple
from jaxrl_actions.training import FAMILIES, make_train, make_trainer
from jaxrl_actions.training.evaluate import evaluate
from jaxrl_actions.types import TimeStep, Transition

__all__ = [
    "ActionTransform", "Box", "Discrete", "EpsilonMasking", "Experiment", "FAMILIES", "MultiBinary", "MultiDiscrete", "RunOptions",
    "Space", "Subset", "TimeStep", "Transition", "Tuple", "Zonotope", "agents", "bang_bang", "chain", "clip", "discretize",
    "evaluate", "evaluate_run", "flatten", "generator_mask", "interval_mask", "invalid_penalty", "make_train", "make_trainer",
    "ray_mask", "repeat", "rescale", "resume_run", "run_experiment", "sticky", "transform_actions",
]
