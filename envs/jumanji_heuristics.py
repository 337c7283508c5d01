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


def cvrp_nearest_neighbour(env: Any) -> Callable:
    """CVRP-v1: go to the nearest customer the mask allows (unvisited, demand within the
    remaining capacity); when the mask allows no customer, go back to the depot (node 0),
    which refills the vehicle (and, after the last customer, ends the tour). The depot is never
    chosen while a customer is feasible, and never from the depot itself (the mask forbids it;
    there a customer is always feasible, since every demand is below the capacity)."""

    def act(obs, mask, key):
        f = env.fields(obs)
        here = f.coordinates[f.position.astype(jnp.int32)]
        distance = jnp.linalg.norm(f.coordinates - here, axis=-1)
        customers = mask.at[0].set(False)
        nearest = jnp.argmin(jnp.where(customers, distance, jnp.inf))
        return jnp.where(jnp.any(customers), nearest, 0).astype(jnp.int32)

    return act


def binpack_largest_first_fit(env: Any) -> Callable:
    """BinPack-v2 (the adapter's Discrete(40 * 20) over (ems, item) pairs, index
    ems * 20 + item, with Jumanji's joint mask flattened): first-fit decreasing. Take the
    largest unpacked item (by volume; ties to the lower item index) that fits in some EMS the
    mask allows, and put it in the first such EMS in the observation's order, which Jumanji
    sorts by decreasing volume (so the largest space that holds it); Jumanji places it at that
    EMS's bottom-left corner."""
    num_ems, num_items = env.layout.nvec

    def act(obs, mask, key):
        f = env.fields(obs)
        volume = f.items.x_len * f.items.y_len * f.items.z_len  # float32[items], container = 1
        pairs = mask.reshape(num_ems, num_items)
        item = jnp.argmax(jnp.where(jnp.any(pairs, axis=0), volume, -jnp.inf))
        ems = jnp.argmax(pairs[:, item])  # the first EMS that holds it
        return (ems * num_items + item).astype(jnp.int32)

    return act


def jobshop_shortest_processing_time(env: Any) -> Callable:
    """JobShop-v0 (the adapter's MultiDiscrete([num_jobs + 1] * num_machines): one job per
    machine, index num_jobs the no-op; the mask is Jumanji's per-machine rows concatenated):
    shortest processing time first. Each machine takes, among the jobs its mask row allows,
    the one whose next operation (the first unscheduled one) is shortest, ties to the lower
    job index; a machine whose row allows only the no-op (busy, or no job's next operation
    needs it) takes the no-op. A job's next operation needs one specific machine, so no two
    machines pick the same job; and a machine never idles while it has a job, so the episode
    never ends with every machine idle (Jumanji's large penalty)."""
    num_machines, num_jobs = len(env.layout.nvec), env.layout.nvec[0] - 1

    def act(obs, mask, key):
        f = env.fields(obs)
        next_op = jnp.argmax(f.ops_mask, axis=-1)  # [jobs]: the first unscheduled operation
        duration = jnp.take_along_axis(f.ops_durations, next_op[:, None], axis=-1)[:, 0]
        jobs = mask.reshape(num_machines, num_jobs + 1)[:, :num_jobs]  # [machines, jobs]
        best = jnp.argmin(jnp.where(jobs, duration[None, :], jnp.inf), axis=-1)
        return jnp.where(jnp.any(jobs, axis=-1), best, num_jobs).astype(jnp.int32)

    return act
