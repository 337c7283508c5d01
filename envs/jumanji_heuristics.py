"""Simple heuristics for Jumanji's combinatorial tasks, as reference policies
(`make_policy(env) -> act(obs, mask, key) -> action`, see `jaxrl_actions.run.references`).

They read the adapter's observation fields (`env.fields(obs)` unflattens the flat vector), so
they run on the observations the agent sees, flat or structured.
"""
from __future__ import annotations

from typing import Any, Callable

import jax.numpy as jnp


def knapsack_greedy(env: Any) -> Callable:
    """Knapsack-v1: pack the item with the highest value per unit weight among those the mask
    allows (unpacked and fitting the remaining budget): the classic greedy, which goes down
    the items sorted by value/weight and skips those that no longer fit."""

    def act(obs, mask, key):
        f = env.fields(obs)
        ratio = f.values / jnp.maximum(f.weights, 1e-9)
        return jnp.argmax(jnp.where(mask, ratio, -jnp.inf)).astype(jnp.int32)

    return act


def tsp_nearest_neighbour(env: Any) -> Callable:
    """TSP-v1: start at city 0, then always go to the nearest unvisited city (the mask)."""

    def act(obs, mask, key):
        f = env.fields(obs)
        position = f.position.astype(jnp.int32)  # -1 before the first city
        here = f.coordinates[jnp.maximum(position, 0)]
        distance = jnp.linalg.norm(f.coordinates - here, axis=-1)
        nearest = jnp.argmin(jnp.where(mask, distance, jnp.inf))
        return jnp.where(position < 0, 0, nearest).astype(jnp.int32)

    return act
