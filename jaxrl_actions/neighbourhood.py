"""Searching a MultiDiscrete grid around a continuous proxy action, inside `jit`, without
ever enumerating the K^M joint actions.

A grid action is `int32[M]` with entry i in [0, nvec[i]). A continuous *proxy* is a point
`float32[M]` in the box [0, nvec - 1]; the actor-critic agents produce it from a unit action
u in [-1, 1]^M (`unit_to_proxy`), and critics see grid actions in the same units
(`grid_to_unit`), so a proxy and the grid points near it are close in the critic's input.

    unit_to_proxy(u, nvec) -> float32[M]         grid_to_unit(a, nvec) -> float32[M]
    round_to_grid(proxy, nvec) -> int32[M]
    unit_neighbours(action, nvec, max_distance) -> (int32[2 d M, M], bool[2 d M])
        every action that moves one dimension by +-1..d (and whether it stays on the grid)
    random_neighbours(key, action, nvec, num, max_distance, move_prob) -> int32[num, M]
        several dimensions moved at once, each with probability move_prob
    k_nearest(proxy, nvec, k) -> (int32[k, M], bool[k])
        the exact k grid points nearest the proxy in L2 (a beam over dimensions)
    anneal(key, start, score_fn, nvec, ...) -> (int32[M], float32[])
        simulated annealing over neighbourhoods scored by `score_fn` (a critic); returns the
        best action seen, so never one scoring below `start`

All functions work on one action; `vmap` them over a batch. `nvec` is a static tuple.
"""
from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_actions.types import Array

ScoreFn = Callable[[Array], Array]  # int32[N, M] candidate actions -> float32[N] scores


def _top(nvec: Sequence[int]) -> Array:
    return jnp.asarray(np.asarray(nvec) - 1, jnp.float32)


def unit_to_proxy(unit: Array, nvec: Sequence[int]) -> Array:
    """[-1, 1]^M -> the box [0, nvec - 1]: float32[M]."""
    return (jnp.clip(unit, -1.0, 1.0) + 1.0) * 0.5 * _top(nvec)


def grid_to_unit(action: Array, nvec: Sequence[int]) -> Array:
    """Grid (or proxy) points -> [-1, 1]^M, the critic's action units ([..., M]); a
    dimension with one value maps to 0."""
    top = _top(nvec)
    return jnp.where(top > 0, 2.0 * jnp.asarray(action, jnp.float32) / jnp.maximum(top, 1.0) - 1.0, 0.0)


def round_to_grid(proxy: Array, nvec: Sequence[int]) -> Array:
    """Nearest grid point: int32[M] (each entry rounded and clipped into range)."""
    return jnp.clip(jnp.round(proxy), 0.0, _top(nvec)).astype(jnp.int32)


def unit_neighbours(action: Array, nvec: Sequence[int], max_distance: int = 1) -> tuple[Array, Array]:
    """(int32[2 d M, M] candidates, bool[2 d M] on the grid): `action` with one dimension
    moved by +-1..d. Off-grid candidates are clipped back (duplicates of others) and
    flagged False."""
    m = len(nvec)
    steps = np.concatenate([np.arange(1, max_distance + 1), -np.arange(1, max_distance + 1)])  # [2d]
    dims = np.repeat(np.arange(m), len(steps))  # [2dM]
    deltas = np.tile(steps, m)  # [2dM]
    moves = jnp.asarray(np.eye(m, dtype=np.int32)[dims] * deltas[:, None])  # [2dM, M]
    moved = action[None, :] + moves
    valid = jnp.all((moved >= 0) & (moved <= _top(nvec).astype(jnp.int32)), axis=-1)
    return jnp.clip(moved, 0, _top(nvec).astype(jnp.int32)), valid


def random_neighbours(key: Array, action: Array, nvec: Sequence[int], num: int, max_distance: int = 1,
                      move_prob: float = 0.1) -> Array:
    """int32[num, M]: copies of `action` in which each dimension moves, with probability
    `move_prob`, by a uniform +-1..d (clipped to the grid)."""
    m = len(nvec)
    k_move, k_size, k_sign = jax.random.split(key, 3)
    moves = jax.random.bernoulli(k_move, move_prob, (num, m))
    size = jax.random.randint(k_size, (num, m), 1, max_distance + 1)
    sign = jnp.where(jax.random.bernoulli(k_sign, 0.5, (num, m)), 1, -1)
    moved = action[None, :] + jnp.where(moves, size * sign, 0)
    return jnp.clip(moved, 0, _top(nvec).astype(jnp.int32)).astype(jnp.int32)


def k_nearest(proxy: Array, nvec: Sequence[int], k: int) -> tuple[Array, Array]:
    """The k grid points nearest `proxy` (float32[M]) in L2, nearest first:
    (int32[k, M], bool[k] real — False pads when the grid has fewer than k points).

    Squared L2 is a sum over dimensions, so a beam of width k over the dimensions, each
    extended by its min(k, nvec_i) nearest values, keeps the exact k best partial sums
    (any prefix of a top-k point is itself among the top-k prefixes). O(M k min(k, K))."""
    m, k = len(nvec), int(k)
    width = int(max(nvec))
    options = min(width, k)
    values = jnp.arange(width, dtype=jnp.float32)  # [W]
    off_grid = values[None, :] > _top(nvec)[:, None]  # [M, W]
    costs = jnp.where(off_grid, jnp.inf, jnp.square(proxy[:, None] - values[None, :]))  # [M, W]
    neg_best, best_values = jax.lax.top_k(-costs, options)  # [M, L] nearest values per dim

    def extend(beam, dim):
        beam_cost, beam_actions = beam  # [k], [k, M]
        option_cost, option_value, index = dim  # [L], [L], []
        total = beam_cost[:, None] + option_cost[None, :]  # [k, L]
        neg_total, flat = jax.lax.top_k(-total.reshape(-1), k)
        parent, choice = flat // options, flat % options
        actions = beam_actions[parent].at[:, index].set(option_value[choice])
        return (-neg_total, actions), None

    start_cost = jnp.full((k,), jnp.inf).at[0].set(0.0)
    start = (start_cost, jnp.zeros((k, m), jnp.int32))
    (cost, actions), _ = jax.lax.scan(extend, start, (-neg_best, best_values.astype(jnp.int32), jnp.arange(m)))
    return actions, jnp.isfinite(cost)


def anneal(key: Array, start: Array, score_fn: ScoreFn, nvec: Sequence[int], *, steps: int, max_distance: int = 1,
           num_random: int = 0, move_prob: float = 0.1, temperature: Array = 1.0, cooling: Array = 0.9
           ) -> tuple[Array, Array]:
    """Simulated annealing from `start` (int32[M]) over neighbourhoods, the DNC search.

    Each of `steps` iterations scores, in one batch, every one-dimension move of the current
    action by +-1..max_distance (`unit_neighbours`) and `num_random` multi-dimension moves
    (`random_neighbours`); it moves to the best of them if that improves on the current
    score, else still moves there with probability exp(delta / temperature) (escaping local
    optima); the temperature is multiplied by `cooling` each iteration. Returns the best
    action seen and its score: (int32[M], float32[]), never worse than `start`'s score.
    """
    start = jnp.asarray(start, jnp.int32)
    start_score = score_fn(start[None, :])[0]

    def iteration(carry, k):
        current, current_score, best, best_score, temp = carry
        k_random, k_accept = jax.random.split(k)
        cands, valid = unit_neighbours(current, nvec, max_distance)
        if num_random > 0:
            extra = random_neighbours(k_random, current, nvec, num_random, max_distance, move_prob)
            cands = jnp.concatenate([cands, extra], axis=0)
            valid = jnp.concatenate([valid, jnp.any(extra != current[None, :], axis=-1)])
        scores = jnp.where(valid, score_fn(cands), -jnp.inf)  # [N]
        pick = jnp.argmax(scores)
        cand, cand_score = cands[pick], scores[pick]
        delta = cand_score - current_score
        accept = jnp.isfinite(cand_score) & (
            (delta > 0) | (jax.random.uniform(k_accept) < jnp.exp(delta / jnp.maximum(temp, 1e-8))))
        current = jnp.where(accept, cand, current)
        current_score = jnp.where(accept, cand_score, current_score)
        better = current_score > best_score
        best = jnp.where(better, current, best)
        best_score = jnp.where(better, current_score, best_score)
        return (current, current_score, best, best_score, temp * cooling), None

    init = (start, start_score, start, start_score, jnp.asarray(temperature, jnp.float32))
    (_, _, best, best_score, _), _ = jax.lax.scan(iteration, init, jax.random.split(key, steps))
    return best, best_score
