"""Searching a MultiDiscrete grid around a continuous proxy action, inside `jit`, without
ever enumerating the K^M joint actions.

A grid action is `int32[M]` with entry i in [0, nvec[i]). A continuous *proxy* is a point
`float32[M]` in the box [0, nvec - 1]; actor-critic agents produce it from a unit action
u in [-1, 1]^M (`unit_to_proxy`).

    unit_to_proxy(u, nvec) -> float32[M]         grid_to_unit(a, nvec) -> float32[M]
    round_to_grid(proxy, nvec) -> int32[M]
    minmax_base(u, nvec, a_clip) -> int32[M]
        DNC's base action: clip u to [-a_clip, a_clip], rescale onto the grid, round
    unit_neighbours(action, nvec, max_distance) -> (int32[2 d M, M], bool[2 d M])
        every action that moves one dimension by +-1..d (and whether it stays on the grid):
        DNC's deterministic neighbourhood with d = perturbation_range
    k_nearest(proxy, nvec, k) -> (int32[k, M], bool[k])
        the exact k grid points nearest the proxy in L2 (a beam over dimensions)
    simulated_annealing(key, base, score_fn, nvec, ...) -> (int32[M], float32[])
        DNC's search (Akkerman et al. 2024) over neighbourhoods scored by `score_fn` (a
        critic), a fixed number of iterations as a `lax.scan`; returns the best action seen

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


def minmax_base(unit: Array, nvec: Sequence[int], a_clip: Array = 1.0) -> Array:
    """DNC's base action (`Dnc.get_baseaction_minmax`): clip the proxy u to [-a_clip, a_clip],
    rescale that interval linearly onto [0, nvec - 1], round to the nearest integer
    (half to even, as torch.round): int32[M]. Alone, this is the MinMax mapping."""
    a_clip = jnp.asarray(a_clip, jnp.float32)
    return round_to_grid(unit_to_proxy(jnp.clip(unit, -a_clip, a_clip) / a_clip, nvec), nvec)


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




def sa_schedule(search_steps: int, cooling: float) -> tuple[int, ...]:
    """The pool sizes k of DNC's annealing iterations (`Dnc.simulatedAnnealing`): k starts at
    search_steps and drops by max(int(cooling * search_steps), 1) while it is positive; ()
    for search_steps = 0 (MinMax)."""
    step = max(int(cooling * search_steps), 1)
    return tuple(range(int(search_steps), 0, -step))


def simulated_annealing(key: Array, base: Array, score_fn: ScoreFn, nvec: Sequence[int], *, search_steps: int = 1,
                        perturbation_range: int = 10, cooling: float = 0.1, initial_acceptance: Array = 0.9,
                        acceptance_cooling: Array = 0.225, training: bool = True) -> tuple[Array, Array]:
    """DNC's neighbourhood search from `base` (int32[M]), as the authors' `Dnc.simulatedAnnealing`:
    (the best action seen int32[M], its score float32[]), never scoring below `base`.

    Iteration t (pool size k_t from `sa_schedule`, a static `lax.scan`) scores the base and
    its neighbourhood (`unit_neighbours` with d = perturbation_range; off-grid duplicates
    are left out, as the authors' torch.unique does) in one batch, adds the k_t best to a
    pool, then
      - a neighbour beats the base: move there (and keep it if it beats the best so far);
      - else, training only, with probability exp(-(Q_base - Q_top) / ratio): move to the
        top-scored candidate and lower the acceptance ratio by `acceptance_cooling`;
      - else, training only: jump to a random pool member and take it out of the pool.
    The base is among the scored candidates, so when no neighbour beats it Q_top == Q_base
    and the acceptance probability is exp(0) = 1: as in the authors' code, the random jump
    happens only if the ratio is exactly 0. Without `training` it is a greedy hill climb.
    """
    schedule = sa_schedule(search_steps, cooling)
    base = jnp.asarray(base, jnp.int32)
    base_score = score_fn(base[None, :])[0]
    if not schedule:
        return base, base_score
    m = len(nvec)
    num_cands = 2 * int(perturbation_range) * m + 1
    width = min(schedule[0], num_cands)  # candidates a single iteration may add to the pool
    capacity = sum(min(k, num_cands) for k in schedule) + width

    def iteration(carry, inputs):
        current, best, best_score, ratio, pool, pool_ok, fill = carry
        k_t, k = inputs
        k_accept, k_jump = jax.random.split(k)
        cands, valid = unit_neighbours(current, nvec, perturbation_range)
        cands = jnp.concatenate([cands, current[None, :]], axis=0)  # the base is scored last
        valid = jnp.concatenate([valid, jnp.ones((1,), bool)])
        scores = jnp.where(valid, score_fn(cands), -jnp.inf)  # [2 d M + 1]
        top_scores, top_index = jax.lax.top_k(scores, width)
        entering = (jnp.arange(width) < k_t) & jnp.isfinite(top_scores)
        pool = jax.lax.dynamic_update_slice(pool, cands[top_index], (fill, 0))
        pool_ok = jax.lax.dynamic_update_slice(pool_ok, entering, (fill,))
        fill = fill + jnp.minimum(k_t, width)
        top, top_score = cands[top_index[0]], top_scores[0]

        improves = top_score > scores[-1]
        new_best = improves & (top_score > best_score)
        best = jnp.where(new_best, top, best)
        best_score = jnp.where(new_best, top_score, best_score)
        if training:
            accept = ~improves & (jax.random.uniform(k_accept) < jnp.exp(-(scores[-1] - top_score) / ratio))
            jump = ~improves & ~accept
            pick = jax.random.categorical(k_jump, jnp.where(pool_ok, 0.0, -jnp.inf))
            jump = jump & pool_ok[pick]
            ratio = jnp.where(accept, ratio - acceptance_cooling, ratio)
            current = jnp.where(improves | accept, top, jnp.where(jump, pool[pick], current))
            pool_ok = pool_ok.at[pick].set(pool_ok[pick] & ~jump)
        else:
            current = jnp.where(improves, top, current)
        return (current, best, best_score, ratio, pool, pool_ok, fill), None

    init = (base, base, base_score, jnp.asarray(initial_acceptance, jnp.float32),
            jnp.zeros((capacity, m), jnp.int32), jnp.zeros((capacity,), bool), jnp.int32(0))
    inputs = (jnp.asarray(schedule, jnp.int32), jax.random.split(key, len(schedule)))
    (_, best, best_score, *_), _ = jax.lax.scan(iteration, init, inputs)
    return best, best_score
