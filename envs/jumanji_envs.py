"""Jumanji's registered environments as `jumanji/<Id>` (the adapter's contract is in
`jaxrl_actions.adapters.jumanji`).

    env = envs.make("jumanji/Knapsack-v1")                       # flat float32 observation
    env = envs.make("jumanji/TSP-v1", observation="structured")   # named tuple of fields
    env = envs.make("jumanji/BinPack-v2", max_steps=30)           # other kwargs go to jumanji.make
    env = envs.make("jumanji/Knapsack-v1", observation="items")   # float32[50, 6]: one row per item

The ids are listed here (Jumanji 1.1.2's registry) so `jaxrl-actions list` shows them without
importing Jumanji (seconds); `make` imports it and, when it is missing, raises an ImportError
naming the extra (`pip install -e ".[jumanji]"`). Another Jumanji id (a newer release, or
one registered with `jumanji.register`) is added with `register_jumanji_id(env_id)`.

Episode horizon. Jumanji ends the combinatorial episodes itself (every item packed, every
city visited, no valid action left, an invalid action); the adapter still needs a step bound
(`max_episode_steps`, which evaluation scans over and the conformance test checks). Envs
with a `time_limit` use it; the others use the bound below, a step count no episode can
exceed (so the adapter never cuts one short), or for Game2048 (no bound) 4000 steps.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Optional

import envs
import jax.numpy as jnp

from jaxrl_actions.adapters.jumanji import ItemsView, JumanjiEnv, make_jumanji_env


class JumanjiTask(NamedTuple):
    summary: str
    horizon: Optional[Callable[[Any], int]] = None  # jumanji env -> step bound (None: its time_limit)
    # Observation fields whose values leave the bounds Jumanji's spec declares (found by the
    # conformance test): their Box bounds become (-inf, inf).
    unbounded_fields: tuple = ()
    items: Optional[Callable[[Any], ItemsView]] = None  # jumanji env -> its observation="items" view


# ----------------------------------------------------------------------------- item views
# One row per item or city, for set encoders (PPO torso="set"); each view also recovers the
# fields the heuristics read, so the reference policies run on item observations too.


class KnapsackFields(NamedTuple):
    weights: Any
    values: Any
    packed_items: Any


def knapsack_items(env: Any) -> ItemsView:
    """Per item: weight, value, packed, value/weight, the remaining budget, and whether the
    item still fits (Jumanji's observation has no budget field: it is the env's constant)."""
    budget = float(env.total_budget)

    def features(obs):
        packed = obs.packed_items.astype(jnp.float32)
        remaining = budget - jnp.sum(obs.weights * packed)
        ratio = obs.values / jnp.maximum(obs.weights, 1e-6)
        fits = (obs.weights <= remaining).astype(jnp.float32)
        broadcast = jnp.full_like(obs.weights, remaining)
        return jnp.stack([obs.weights, obs.values, packed, ratio, broadcast, fits], axis=-1).astype(jnp.float32)

    def fields(items):
        return KnapsackFields(items[..., 0], items[..., 1], items[..., 2] > 0.5)

    return ItemsView(features, fields)


class TSPFields(NamedTuple):
    coordinates: Any
    position: Any  # int32, -1 before the first city


def tsp_items(env: Any) -> ItemsView:
    """Per city: its coordinates, visited, current, start, its offset and distance from the
    current city (zero before the first), and whether the tour has started."""

    def features(obs):
        n = obs.coordinates.shape[-2]
        cities = jnp.arange(n)
        position = obs.position.astype(jnp.int32)
        started = position >= 0
        here = obs.coordinates[jnp.maximum(position, 0)]
        offset = jnp.where(started, obs.coordinates - here, 0.0)
        visited = jnp.any(obs.trajectory[None, :] == cities[:, None], axis=-1)
        columns = [obs.coordinates[:, 0], obs.coordinates[:, 1], visited, started & (cities == position),
                   started & (cities == obs.trajectory[0]), offset[:, 0], offset[:, 1],
                   jnp.linalg.norm(offset, axis=-1), jnp.full((n,), started)]
        return jnp.stack([jnp.asarray(c, jnp.float32) for c in columns], axis=-1)

    def fields(items):
        current = items[..., 3] > 0.5
        position = jnp.where(jnp.any(current, axis=-1), jnp.argmax(current, axis=-1), -1).astype(jnp.int32)
        return TSPFields(items[..., :2], position)

    return ItemsView(features, fields)


def _job_shop_horizon(env: Any) -> int:
    # A step with every machine idle ends the episode, so each step runs >= 1 operation-unit.
    return env.num_jobs * env.max_num_ops * env.max_op_duration


# Jumanji 1.1.2's registered ids. Action spaces as the adapter maps them (joint masks flattened).
TASKS: dict[str, JumanjiTask] = {
    "BinPack-v2": JumanjiTask("3D bin packing, (ems, item) joint mask -> Discrete(800)",
                              lambda env: env.generator._max_num_items),  # one item placed per valid step
    "CVRP-v1": JumanjiTask("capacitated vehicle routing, Discrete(21)",
                           lambda env: 2 * env.num_nodes),  # Jumanji's trajectory length
    "Cleaner-v0": JumanjiTask("multi-agent grid cleaning, per-agent masks -> MultiDiscrete([4]*3)"),
    "Connector-v3": JumanjiTask("multi-agent path connection, per-agent masks -> MultiDiscrete([5]*10)"),
    "FlatPack-v0": JumanjiTask("2D block packing, (block, rotation, row, col) joint mask -> Discrete(8100)",
                               lambda env: env.num_blocks),
    "Game2048-v1": JumanjiTask("2048 sliding tiles, Discrete(4)", lambda env: 4000),
    "GraphColoring-v1": JumanjiTask("graph colouring, Discrete(20)", lambda env: env.num_nodes),
    "JobShop-v0": JumanjiTask("job-shop scheduling, per-machine masks -> MultiDiscrete([21]*10)",
                              _job_shop_horizon),
    "Knapsack-v1": JumanjiTask("0/1 knapsack with 50 items, Discrete(50)", lambda env: env.num_items,
                               items=knapsack_items),
    "LevelBasedForaging-v0": JumanjiTask("multi-agent foraging, per-agent masks -> MultiDiscrete([6]*2)"),
    "MMST-v0": JumanjiTask("multi minimum spanning tree, per-agent masks -> MultiDiscrete([36]*3)"),
    "Maze-v0": JumanjiTask("10x10 maze navigation, Discrete(4)"),
    "Minesweeper-v0": JumanjiTask("minesweeper, (row, col) joint mask -> Discrete(100)",
                                  lambda env: env.num_rows * env.num_cols - env.num_mines),
    "MultiCVRP-v0": JumanjiTask("multi-vehicle routing with time windows, per-vehicle masks -> MultiDiscrete([21]*2)",
                                lambda env: 2 * env._num_customers + 1),  # Jumanji ends it at step_count > 2 * customers
    "PacMan-v1": JumanjiTask("Pac-Man, Discrete(5)"),
    "RobotWarehouse-v0": JumanjiTask("multi-robot warehouse, per-agent masks -> MultiDiscrete([5]*4)"),
    "RubiksCube-partly-scrambled-v0": JumanjiTask("Rubik's cube, 7 scrambles, MultiDiscrete([6, 1, 3]), no mask"),
    "RubiksCube-v0": JumanjiTask("Rubik's cube, 100 scrambles, MultiDiscrete([6, 1, 3]), no mask"),
    "SearchAndRescue-v0": JumanjiTask("multi-agent search (continuous), Box(-1, 1, (2, 2))"),
    "SlidingTilePuzzle-v0": JumanjiTask("5x5 sliding tile puzzle, Discrete(4)"),
    "Snake-v1": JumanjiTask("snake, Discrete(4)"),
    "Sokoban-v0": JumanjiTask("Sokoban (downloads Boxoban levels from Hugging Face on first make), Discrete(4)"),
    "Sudoku-v0": JumanjiTask("sudoku, (row, col, digit) joint mask -> Discrete(729)", lambda env: 81),
    "Sudoku-very-easy-v0": JumanjiTask("very easy sudoku, (row, col, digit) joint mask -> Discrete(729)",
                                       lambda env: 81),
    "TSP-v1": JumanjiTask("travelling salesman, 20 cities, Discrete(20)", lambda env: env.num_cities,
                          ("position",), tsp_items),  # spec: 0..19; -1 before the first city
    "Tetris-v0": JumanjiTask("tetris, (rotation, column) joint mask -> Discrete(40)"),
}

# Envs whose CPU compile or step is slow enough for the conformance test's reduced check.
HEAVY_IDS = {"FlatPack-v0", "PacMan-v1", "RobotWarehouse-v0", "SearchAndRescue-v0", "Sokoban-v0", "Tetris-v0"}


def make_jumanji(env_id: str, task: JumanjiTask = JumanjiTask(""), observation: str = "flat",
                 keep_mask_in_obs: bool = False, max_steps: Optional[int] = None, mask_kind: Optional[str] = None,
                 **jumanji_kwargs: Any) -> JumanjiEnv:
    """Jumanji's `env_id` adapted; `max_steps` defaults to the env's `time_limit`, else `horizon(env)`."""
    jumanji_env = make_jumanji_env(env_id, **jumanji_kwargs)
    if max_steps is None and getattr(jumanji_env, "time_limit", None) is None and task.horizon is not None:
        max_steps = task.horizon(jumanji_env)
    items = task.items(jumanji_env) if observation == "items" and task.items is not None else None
    env = JumanjiEnv(jumanji_env, observation=observation, keep_mask_in_obs=keep_mask_in_obs,
                     max_steps=max_steps, mask_kind=mask_kind, unbounded_fields=task.unbounded_fields, items=items)
    env.name = f"jumanji/{env_id}"
    return env


def register_jumanji_id(env_id: str, task: JumanjiTask = JumanjiTask(""), heavy: bool = False) -> str:
    """Registers Jumanji's `env_id` as `jumanji/<env_id>`; returns the registered name."""
    name = f"jumanji/{env_id}"
    envs.register(name, functools.partial(make_jumanji, env_id, task),
                  f"Jumanji {env_id}: {task.summary or 'adapted Jumanji env'}", heavy=heavy)
    return name


for _id, _task in TASKS.items():
    register_jumanji_id(_id, _task, heavy=_id in HEAVY_IDS)
