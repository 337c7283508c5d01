"""Coarse-to-fine intervals of a unit action space [-1, 1]^D (CQN's cqn_utils.zoom_in /
encode_action / decode_action), shared by CQN and ARSQ.

Each dimension's interval is split into `bins` equal parts, the chosen part split again, for
`levels` levels; choices are int[..., L, D], the action is the centre of the last interval.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def refine(low: jax.Array, width: jax.Array, choice: jax.Array, bins: int) -> tuple[jax.Array, jax.Array]:
    """The `choice`-th of `bins` equal parts of [low, low + width] (per dimension)."""
    width = width / bins
    return low + choice * width, width


def levels_to_action(choices: jax.Array, bins: int) -> jax.Array:
    """int[..., L, D] level choices -> float32[..., D] centre of the final unit interval."""
    low = jnp.full(choices.shape[:-2] + choices.shape[-1:], -1.0)
    width = jnp.full_like(low, 2.0)
    for level in range(choices.shape[-2]):
        low, width = refine(low, width, choices[..., level, :], bins)
    return low + 0.5 * width


def action_to_levels(unit: jax.Array, levels: int, bins: int) -> jax.Array:
    """float32[..., D] unit action -> int32[..., L, D]: the intervals that contain it."""
    low = jnp.full_like(unit, -1.0)
    width = jnp.full_like(unit, 2.0)
    choices = []
    for _ in range(levels):
        choice = jnp.clip(jnp.floor((unit - low) / (width / bins)), 0, bins - 1).astype(jnp.int32)
        choices.append(choice)
        low, width = refine(low, width, choice, bins)
    return jnp.stack(choices, axis=-2)


def snap(unit: jax.Array, levels: int, bins: int) -> jax.Array:
    """float32[..., D]: the centre of the finest interval containing each unit action."""
    return levels_to_action(action_to_levels(unit, levels, bins), bins)


def level_centres(choices: jax.Array, bins: int) -> jax.Array:
    """int[..., L, D] -> float32[..., L, D]: the interval centre each level refines."""
    low = jnp.full(choices.shape[:-2] + choices.shape[-1:], -1.0)
    width = jnp.full_like(low, 2.0)
    centres = []
    for level in range(choices.shape[-2]):
        centres.append(low + 0.5 * width)
        low, width = refine(low, width, choices[..., level, :], bins)
    return jnp.stack(centres, axis=-2)
