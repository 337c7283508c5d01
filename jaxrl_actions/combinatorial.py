"""Budget-feasible combinatorial selection inside `jit`.

A joint action over N arms is a per-arm *level* `levels: int32[N]` in [0, L): level 0 is
"leave the arm alone" (passive, free), levels >= 1 are interventions (for two levels this is
the usual act / don't-act choice; with more, e.g. which intervention or which resource).
`Constraints` describes what makes a joint action feasible; the selectors pick a feasible
joint action that (approximately) maximises a per-arm additive score `values: float32[N, L]`
(sum over arms of `values[i, levels[i]]`):

    feasible(levels, c)                    -> bool[]          exact check of every constraint
    greedy(values, c)                      -> int32[N]        any constraints, approximate
    single_pass(values, c)                 -> int32[N]        one pass in a fixed order
    knapsack(values, costs, budget, max_budget, allowed)
                                           -> int32[N]        budget only, exact (integer costs)
    random_feasible(key, c)                -> int32[N]        a random feasible joint action
    best_of_random(key, score, c, samples) -> int32[N]        the best of random feasible ones
    objective(values, levels)              -> float32[]

Everything is a pure function of arrays, so it runs inside `jit`, `vmap` and `lax.scan`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_actions.types import Array, host_value

_TOL = 1e-5  # slack on float budget/capacity comparisons


@struct.dataclass
class Constraints:
    """The constraints a joint action `levels: int32[N]` must meet.

    costs:     float32[N, L]  budget cost of putting arm i at level l (costs[:, 0] == 0)
    budget:    float32[]      sum over arms of costs[i, levels[i]] must not exceed it
    allowed:   bool[N, L]     which levels each arm may take (allowed[:, 0] is True)
    load:      float32[N, L]  how much of level l's capacity arm i uses at level l
    capacity:  float32[L]     per-level limit on the summed load (inf: none; index 0 unused).
                              With load 1 and capacity 1 each level (a resource) serves at
                              most one arm: a matching; with load = cost it is a per-resource
                              knapsack.
    adjacency: bool[N, N]     graph over the arms, used when `route` is set
    route:     static bool    the acted arms (levels > 0) must form a connected set in
                              `adjacency`: one patrol along the graph's edges visits them all
    walk_distances: float32[N, N]  hop distances on a graph whose nodes are the arms, with
    walk_source / walk_limit:      a closed walk from node `walk_source` of at most
    walk_slots: static int         `walk_limit` hops must visit every acted arm, and at most
                                   `walk_slots` arms act (0: no walk constraint); checked
                                   exactly by Held-Karp over the acted arms
    packing:       float32[K, N]   linear limits on which arms act: for every row k,
    packing_limit: float32[K]      sum_i packing[k, i] [levels[i] > 0] <= packing_limit[k]
                                   (K = 0: none), e.g. Hall's conditions of a matching of
                                   acted arms to shared time slots
    """

    costs: Array
    budget: Array
    allowed: Array
    load: Array
    capacity: Array
    adjacency: Array
    route: bool = struct.field(pytree_node=False, default=False)
    walk_distances: Array = None
    walk_source: Array = None
    walk_limit: Array = None
    walk_slots: int = struct.field(pytree_node=False, default=0)
    packing: Array = None
    packing_limit: Array = None

    @property
    def num_arms(self) -> int:
        return self.costs.shape[-2]

    @property
    def num_levels(self) -> int:
        return self.costs.shape[-1]


def make_constraints(costs, budget, allowed=None, load=None, capacity=None, adjacency=None, route: bool = False,
                     walk_distances=None, walk_source=0, walk_limit=None, walk_slots: int = 0,
                     packing=None, packing_limit=None) -> Constraints:
    """Builds `Constraints` with neutral defaults for what is not given (every level allowed,
    no per-level capacity, no route, no walk, no packing rows). `costs` is float32[N, L] (or
    float32[N] for two levels: the cost of acting). Checks shapes and values host-side when
    they are concrete."""
    costs = jnp.asarray(costs, jnp.float32)
    if costs.ndim == 1:
        costs = jnp.stack([jnp.zeros_like(costs), costs], axis=-1)
    if costs.ndim != 2 or costs.shape[1] < 2:
        raise ValueError(f"costs must be float32[N, L] with L >= 2 (or float32[N]), got shape {costs.shape}")
    n, levels = costs.shape
    concrete = host_value(costs)
    if concrete is not None and (np.any(concrete < 0) or np.any(concrete[:, 0] != 0)):
        raise ValueError(f"costs must be >= 0 with costs[:, 0] == 0 (passive is free), got {concrete.tolist()}")
    allowed = jnp.ones((n, levels), bool) if allowed is None else jnp.asarray(allowed, bool)
    allowed = allowed.at[:, 0].set(True)
    load = jnp.zeros((n, levels), jnp.float32) if load is None else jnp.asarray(load, jnp.float32)
    capacity = jnp.full((levels,), jnp.inf, jnp.float32) if capacity is None else jnp.asarray(capacity, jnp.float32)
    adjacency = jnp.ones((n, n), bool) if adjacency is None else jnp.asarray(adjacency, bool)
    for name, value, shape in (("allowed", allowed, (n, levels)), ("load", load, (n, levels)),
                               ("capacity", capacity, (levels,)), ("adjacency", adjacency, (n, n))):
        if value.shape != shape:
            raise ValueError(f"{name} must have shape {shape} to match costs {costs.shape}, got {value.shape}")
    walk = None
    if walk_slots > 0:
        if walk_distances is None or walk_limit is None:
            raise ValueError(f"walk_slots={walk_slots} needs walk_distances (float32[{n}, {n}]) and walk_limit")
        walk = (jnp.asarray(walk_distances, jnp.float32), jnp.asarray(walk_source, jnp.int32), jnp.asarray(walk_limit, jnp.float32))
        if walk[0].shape != (n, n):
            raise ValueError(f"walk_distances must have shape {(n, n)} to match costs {costs.shape}, got {walk[0].shape}")
    packing = jnp.zeros((0, n), jnp.float32) if packing is None else jnp.asarray(packing, jnp.float32)
    packing_limit = jnp.zeros((0,), jnp.float32) if packing_limit is None else jnp.asarray(packing_limit, jnp.float32)
    if packing.ndim != 2 or packing.shape[1] != n or packing_limit.shape != packing.shape[:1]:
        raise ValueError(f"packing must be float32[K, {n}] and packing_limit float32[K], got shapes "
                         f"{packing.shape} and {packing_limit.shape}")
    return Constraints(costs, jnp.asarray(budget, jnp.float32), allowed, load, capacity, adjacency, bool(route),
                       *(walk or (None, None, None)), int(walk_slots), packing, packing_limit)


def objective(values: Array, levels: Array) -> Array:
    """sum_i values[i, levels[i]]: float32[]. values: [N, L], levels: int32[N]."""
    return jnp.take_along_axis(values, levels[:, None], axis=1).sum()


def _picked(table: Array, levels: Array) -> Array:
    """table[i, levels[i]] for each arm: [N]."""
    return jnp.take_along_axis(table, levels[:, None], axis=1)[:, 0]


def _level_use(load: Array, levels: Array) -> Array:
    """Summed load on each level: float32[L] (level 0 included, never limited)."""
    one_hot = jax.nn.one_hot(levels, load.shape[1], dtype=load.dtype)
    return jnp.sum(one_hot * load, axis=0)


def _connected(acted: Array, adjacency: Array) -> Array:
    """True when the arms in `acted` (bool[N]) form one connected set (or none)."""
    n = acted.shape[0]
    start = jax.nn.one_hot(jnp.argmax(acted), n, dtype=bool) & acted
    adj = adjacency.astype(jnp.float32)

    def spread(_, reach):
        return reach | ((adj @ reach.astype(jnp.float32)) > 0) & acted

    reach = jax.lax.fori_loop(0, n - 1, spread, start)
    return jnp.all(reach == acted)


def shortest_closed_walk(acted: Array, c: Constraints) -> Array:
    """float32[]: hops of the shortest closed walk from `c.walk_source` that visits every
    acted arm (bool[N]); inf when more than `c.walk_slots` arms act. Held-Karp over
    `walk_slots` slots holding the acted arms, the spare slots holding the source (free)."""
    slots, source = c.walk_slots, c.walk_source
    nodes = jnp.argsort(~acted, stable=True)[:slots]  # the acted arms first
    nodes = jnp.where(acted[nodes], nodes, source)
    between = c.walk_distances[nodes][:, nodes]  # [K, K]
    from_source = c.walk_distances[source, nodes]  # [K]
    full = 1 << slots
    best = jnp.full((full, slots), jnp.inf).at[1 << np.arange(slots), np.arange(slots)].set(from_source)

    def relax(mask, best):  # best[mask, i]: from the source through `mask`, ending at slot i
        extend = jnp.min(best[mask][:, None] + between, axis=0)  # [K]: then on to slot k
        for k in range(slots):
            target = mask | (1 << k)
            best = best.at[target, k].set(jnp.where((mask >> k) & 1, best[target, k], jnp.minimum(best[target, k], extend[k])))
        return best

    best = jax.lax.fori_loop(1, full, relax, best)
    length = jnp.min(best[full - 1] + from_source)
    return jnp.where(jnp.sum(acted) > slots, jnp.inf, length)


def _packing_room(acted: Array, c: Constraints) -> Array:
    """float32[K]: what each packing row has left for the acted arms (bool[N])."""
    return c.packing_limit - c.packing @ acted.astype(jnp.float32)


def feasible(levels: Array, c: Constraints) -> Array:
    """bool[]: `levels` (int32[N]) is in range, allowed, within budget, within every
    level's capacity and packing row, and (with `route`) the acted arms are connected."""
    in_range = jnp.all((levels >= 0) & (levels < c.num_levels))
    levels = jnp.clip(levels, 0, c.num_levels - 1)
    allowed = jnp.all(_picked(c.allowed, levels))
    within_budget = _picked(c.costs, levels).sum() <= c.budget + _TOL
    within_capacity = jnp.all(_level_use(c.load, levels)[1:] <= c.capacity[1:] + _TOL)
    ok = in_range & allowed & within_budget & within_capacity
    if c.packing is not None:
        ok = ok & jnp.all(_packing_room(levels > 0, c) >= -_TOL)
    if c.route:
        ok = ok & _connected(levels > 0, c.adjacency)
    if c.walk_slots > 0:
        ok = ok & (shortest_closed_walk(levels > 0, c) <= c.walk_limit + _TOL)
    return ok


def addable(levels: Array, c: Constraints) -> Array:
    """bool[N, L]: which single moves "set passive arm i to level l >= 1" keep a feasible
    `levels` feasible. Every constraint here is checked incrementally in O(N L + K N): budget,
    capacities and packing rows by their remaining room, the route by adjacency to the acted
    set (adding a neighbour of a connected set keeps it connected; anything else disconnects
    it); the walk is the exception, one shortest closed walk per arm."""
    acted = levels > 0
    room = c.budget - _picked(c.costs, levels).sum()
    level_room = c.capacity - _level_use(c.load, levels)
    ok = (~acted)[:, None] & c.allowed & (jnp.arange(c.num_levels) > 0)[None, :]
    ok = ok & (c.costs <= room + _TOL) & (c.load <= level_room[None, :] + _TOL)
    if c.packing is not None:  # arm i fits where every row has room for its coefficient
        fits = jnp.all(c.packing <= _packing_room(acted, c)[:, None] + _TOL, axis=0)
        ok = ok & fits[:, None]
    if c.route:
        touches = (c.adjacency.astype(jnp.float32) @ acted.astype(jnp.float32)) > 0
        ok = ok & (touches | ~jnp.any(acted))[:, None]
    if c.walk_slots > 0:  # one Held-Karp per arm
        with_arm = acted[None, :] | jnp.eye(c.num_arms, dtype=bool)
        ok = ok & (jax.vmap(lambda a: shortest_closed_walk(a, c))(with_arm) <= c.walk_limit + _TOL)[:, None]
    return ok


def _greedy_pass(values: Array, c: Constraints, by_density: bool) -> Array:
    """Adds one (arm, level) at a time, the best feasible positive gain (or gain per unit of
    cost) first, until nothing feasible improves the objective."""
    gains = values - values[:, :1]  # gain of each level over leaving the arm passive
    score = gains / jnp.maximum(c.costs, 1e-6) if by_density else gains

    def add_best(_, levels):
        ok = addable(levels, c) & (gains > 0)
        masked = jnp.where(ok, score, -jnp.inf).reshape(-1)
        best = jnp.argmax(masked)
        arm, level = best // c.num_levels, best % c.num_levels
        return jnp.where(jnp.isfinite(masked[best]), levels.at[arm].set(level), levels)

    return jax.lax.fori_loop(0, c.num_arms, add_best, jnp.zeros(c.num_arms, jnp.int32))


def greedy(values: Array, c: Constraints) -> Array:
    """A feasible joint action `int32[N]` with a high `objective(values, .)`, for any
    constraints: the better of a by-gain and a by-gain-per-cost greedy (each alone can be
    far off on knapsacks; together they are within a factor 2 for a pure budget)."""
    by_gain = _greedy_pass(values, c, by_density=False)
    by_density = _greedy_pass(values, c, by_density=True)
    return jnp.where(objective(values, by_density) > objective(values, by_gain), by_density, by_gain)


def single_pass(values: Array, c: Constraints) -> Array:
    """One pass over the (arm, level) pairs in order of gain over passive, fixed up front:
    each is taken if its arm is still passive, the gain is positive and it fits. Cheaper than
    `greedy` but blind to moves that only become feasible later (a route's far nodes)."""
    gains = (values - values[:, :1]).reshape(-1)
    order = jnp.argsort(-gains)

    def consider(j, levels):
        pair = order[j]
        arm, level = pair // c.num_levels, pair % c.num_levels
        take = addable(levels, c)[arm, level] & (gains[pair] > 0)
        return jnp.where(take, levels.at[arm].set(level), levels)

    return jax.lax.fori_loop(0, gains.shape[0], consider, jnp.zeros(c.num_arms, jnp.int32))


def random_feasible(key: Array, c: Constraints) -> Array:
    """A random feasible joint action: greedy on random positive values, so arms and levels
    come in random order until nothing more fits."""
    values = jax.random.uniform(key, c.costs.shape, minval=0.0, maxval=1.0)
    return _greedy_pass(values.at[:, 0].set(0.0), c, by_density=False)


def best_of_random(key: Array, score, c: Constraints, samples: int) -> Array:
    """The best of `samples` random feasible joint actions by `score(levels) -> float32[]`."""
    candidates = jax.vmap(lambda k: random_feasible(k, c))(jax.random.split(key, samples))
    return candidates[jnp.argmax(jax.vmap(score)(candidates))]


def knapsack(values: Array, costs: Array, budget: Array, max_budget: int, allowed: Array | None = None) -> Array:
    """Exact multiple-choice knapsack by dynamic programming: `int32[N]` levels maximising
    `objective(values, .)` subject to sum_i costs[i, levels[i]] <= budget.

    values:  float32[N, L]
    costs:   int[N, L] non-negative integers (costs[:, 0] == 0; floats are rounded)
    budget:  int[] (may be traced); clipped to `max_budget`
    max_budget: static int, the size of the DP table (time and memory O(N L max_budget))
    allowed: bool[N, L] or None

    dp[w] is the best value of the arms seen so far with total cost <= w; a scan over arms
    stores each arm's best level per w, and a reverse scan reads the choice back.
    """
    n, levels = values.shape
    width = int(max_budget) + 1
    costs = jnp.round(costs).astype(jnp.int32)
    allowed = jnp.ones((n, levels), bool) if allowed is None else allowed
    allowed = allowed.at[:, 0].set(True)
    w_index = jnp.arange(width)

    def add_arm(dp, arm):
        value, cost, ok = arm  # [L], [L], [L]
        before = w_index[None, :] - cost[:, None]  # [L, W]
        fits = (before >= 0) & ok[:, None]
        candidate = jnp.where(fits, dp[jnp.clip(before, 0, width - 1)] + value[:, None], -jnp.inf)
        choice = jnp.argmax(candidate, axis=0).astype(jnp.int32)  # [W]
        return jnp.max(candidate, axis=0), choice

    _, choices = jax.lax.scan(add_arm, jnp.zeros(width, jnp.float32), (values, costs, allowed))  # [N, W]

    def read_back(w, arm):
        choice, cost = arm
        level = choice[w]
        return w - cost[level], level

    start = jnp.clip(jnp.asarray(budget).astype(jnp.int32), 0, width - 1)
    _, picked = jax.lax.scan(read_back, start, (choices, costs), reverse=True)
    return picked


def feasible_joint_actions(c: Constraints, limit: int = 100_000) -> np.ndarray:
    """Every feasible joint action, int32[M, N] in lexicographic order (host side, for tests
    and small instances), or ValueError when there are more than `limit` to look at."""
    total = c.num_levels ** c.num_arms
    if total > limit:
        raise ValueError(f"{c.num_levels}^{c.num_arms} = {total} level assignments; enumeration is capped at {limit}")
    grid = np.stack(np.unravel_index(np.arange(total), (c.num_levels,) * c.num_arms), axis=-1).astype(np.int32)
    ok = np.asarray(jax.jit(jax.vmap(lambda a: feasible(a, c)))(jnp.asarray(grid)))
    return grid[ok]


def brute_force(values, c: Constraints) -> tuple[np.ndarray, float]:
    """Host-side exhaustive search (tests and tiny instances only): the best feasible
    joint action and its objective."""
    grid = feasible_joint_actions(c, limit=np.iinfo(np.int64).max)
    scores = np.asarray(values)[np.arange(c.num_arms)[None, :], grid].sum(axis=1)
    best = int(np.argmax(scores))
    return grid[best], float(scores[best])
