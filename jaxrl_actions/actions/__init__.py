"""Action-space transforms (optax style) and the wrapper that puts them on an env."""
from jaxrl_actions.actions.library import (
    bang_bang,
    clip,
    discretize,
    first_valid_action,
    flatten,
    flatten_index,
    interval_mask,
    invalid_penalty,
    is_valid_action,
    joint_mask,
    repeat,
    rescale,
    sticky,
    unflatten_index,
)
from jaxrl_actions.actions.transform import ActionTransform, chain, process, run_reset, run_step
from jaxrl_actions.actions.wrapper import TransformedEnv, TransformState, transform_actions

__all__ = [
    "ActionTransform",
    "TransformState",
    "TransformedEnv",
    "bang_bang",
    "chain",
    "clip",
    "discretize",
    "first_valid_action",
    "flatten",
    "flatten_index",
    "interval_mask",
    "invalid_penalty",
    "is_valid_action",
    "joint_mask",
    "process",
    "repeat",
    "rescale",
    "run_reset",
    "run_step",
    "sticky",
    "transform_actions",
    "unflatten_index",
]
