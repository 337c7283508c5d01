"""A masked resource-mining gridworld in the spirit of Gym-µRTS's MicrortsMining.

One worker harvests resources and carries them to a base. Actions follow µRTS's per-cell
component actions, so most of the joint action space is invalid and the invalid share
grows with the map: the environment the masking study is about.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import struct

import envs
from envs import time_limit_flags
from jaxrl_actions.environment import EnvParams, EnvSpec, Environment, scalar_timestep
from jaxrl_actions.spaces import Box, MultiDiscrete
from jaxrl_actions.types import INVALID_ACTION, Array, PRNGKey

# Action types (component 1 of the action).
NOOP, MOVE, HARVEST, RETURN = 0, 1, 2, 3
NUM_TYPES = 4
# Directions (components 2..4): north, east, south, west as (row, col) offsets.
DIRECTIONS = ((-1, 0), (0, 1), (1, 0), (0, -1))
NUM_DIRECTIONS = 4
# Observation planes (last axis).
WORKER, CARRYING, BASE, RESOURCES, WALLS = range(5)
NUM_PLANES = 5
MIN_SIZE, MAX_SIZE = 4, 24


@struct.dataclass
class MiningParams(EnvParams):
    harvest_reward: float = 1.0
    delivery_reward: float = 1.0
    resource_amount: int = 10  # units in each resource cell at reset


@struct.dataclass
class MiningState:
    worker: Array  # int32[2] (row, col)
    base: Array  # int32[2] (row, col)
    resources: Array  # int32[size, size] units left in each cell (0 = no resource)
    walls: Array  # bool[size, size]
    carrying: Array  # bool[] the worker holds one unit
    time: Array  # int32[] steps taken in this episode


class Mining(Environment):
    """Harvest resources with one worker and deliver them to the base.

    Layout: a `size` x `size` grid (4 <= size <= 24) holding the worker, a base,
        `num_resources` resource cells of `params.resource_amount` units each and `num_walls`
        walls, all on distinct cells drawn uniformly from the reset key (deterministic given
        the key). Walls may cut cells off, so keep `num_walls` small (default 0).
    Observation: float32[size, size, 5] binary planes: worker, carrying (the worker's cell
        when it holds a unit), base, resources (cells with units left), walls.
    Action: MultiDiscrete([size*size, 4, 4, 4, 4]) = (source cell, action type, move
        direction, harvest direction, return direction). The source cell is the row-major
        index row*size + col; types are 0 noop, 1 move, 2 harvest, 3 return; directions are
        0 north, 1 east, 2 south, 3 west. Only the direction of the chosen type is read.
        An action is valid when the source cell holds the worker and the chosen type can be
        done in the chosen direction: move into an in-bounds cell that is not a wall,
        resource or base; harvest from an adjacent resource while not carrying; return to an
        adjacent base while carrying; noop always. An invalid action does nothing and sets
        `info[INVALID_ACTION]`.
    Action mask (every TimeStep): bool[size*size + 16] in the MultiDiscrete layout: the
        worker's cell; the types that can be done now (noop always); for each doable type
        the valid directions, and all directions for a type that cannot be done (its
        direction is never read then). Any action the mask allows is valid.
    Reward: +`harvest_reward` when a unit is harvested, +`delivery_reward` when it is
        delivered to the base.
    Termination: every resource unit has been harvested and delivered.
    Truncation: after `max_steps` steps, by default 8 * size (80 on 10x10: a worker that
        knows the way completes a harvest-deliver trip in about 2 * distance + 2 steps, so
        about 5 trips; a uniform masked policy delivers rarely).
    """

    def __init__(self, size: int = 10, num_resources: int = 2, num_walls: int = 0, max_steps: int | None = None):
        size, num_resources, num_walls = int(size), int(num_resources), int(num_walls)
        if not MIN_SIZE <= size <= MAX_SIZE:
            raise ValueError(f"Mining needs {MIN_SIZE} <= size <= {MAX_SIZE}, got size={size}")
        if num_resources < 1 or num_walls < 0:
            raise ValueError(f"Mining needs num_resources >= 1 and num_walls >= 0, got num_resources={num_resources}, num_walls={num_walls}")
        if 2 + num_resources + num_walls > size * size:
            raise ValueError(
                f"Mining: worker + base + num_resources={num_resources} + num_walls={num_walls} "
                f"do not fit on a {size}x{size} grid"
            )
        self.size, self.num_resources, self.num_walls = size, num_resources, num_walls
        self.max_steps = 8 * size if max_steps is None else int(max_steps)
        if self.max_steps < 1:
            raise ValueError(f"Mining needs max_steps >= 1, got max_steps={max_steps}")

    @property
    def spec(self) -> EnvSpec:
        n = self.size
        obs_space = Box(0.0, 1.0, (n, n, NUM_PLANES))
        action_space = MultiDiscrete([n * n, NUM_TYPES, NUM_DIRECTIONS, NUM_DIRECTIONS, NUM_DIRECTIONS])
        return EnvSpec(obs_space, action_space, self.max_steps)

    @property
    def default_params(self) -> MiningParams:
        return MiningParams()

    # -------------------------------------------------------------- rules

    def _type_directions(self, state: MiningState) -> Array:
        """bool[4 types, 4 directions]: which (type, direction) pairs the worker can do now.
        Noop's row is all True (it has no direction)."""
        neighbours = state.worker[None, :] + jnp.asarray(DIRECTIONS, jnp.int32)  # int32[4, 2]
        in_bounds = jnp.all((neighbours >= 0) & (neighbours < self.size), axis=-1)  # bool[4]
        rows, cols = jnp.clip(neighbours, 0, self.size - 1).T
        has_resource = in_bounds & (state.resources[rows, cols] > 0)
        is_base = in_bounds & jnp.all(neighbours == state.base[None, :], axis=-1)
        free = in_bounds & ~state.walls[rows, cols] & ~has_resource & ~is_base
        return jnp.stack([
            jnp.ones(NUM_DIRECTIONS, bool),
            free,
            has_resource & ~state.carrying,
            is_base & state.carrying,
        ])

    def _worker_cell(self, state: MiningState) -> Array:
        return state.worker[0] * self.size + state.worker[1]

    def action_mask(self, state: MiningState) -> Array:
        """bool[size*size + 16], the MultiDiscrete mask layout (see the class docstring)."""
        allowed = self._type_directions(state)  # bool[4, 4]
        doable = jnp.any(allowed, axis=1)  # bool[4 types]
        cell = jnp.arange(self.size * self.size) == self._worker_cell(state)
        # A type that cannot be done never reads its direction: allow all of them.
        directions = [jnp.where(doable[t], allowed[t], True) for t in (MOVE, HARVEST, RETURN)]
        return jnp.concatenate([cell, doable, *directions])

    def _chosen_direction(self, action: Array) -> Array:
        kind = action[1]
        return jnp.where(kind == NOOP, 0, action[jnp.clip(kind + 1, 2, 4)])

    def is_valid(self, state: MiningState, action: Array) -> Array:
        """bool[]: whether `action` (int32[5]) does something in `state`."""
        allowed = self._type_directions(state)
        return (action[0] == self._worker_cell(state)) & allowed[action[1], self._chosen_direction(action)]

    def uniform_invalid_fraction(self, state: MiningState) -> Array:
        """float32[]: the probability that an action drawn uniformly from the whole action
        space (no mask) is invalid in `state`. At least 1 - 1/size^2."""
        allowed = self._type_directions(state)
        p_valid = jnp.sum(allowed) / (NUM_TYPES * NUM_DIRECTIONS) / (self.size * self.size)
        return (1.0 - p_valid).astype(jnp.float32)

    # -------------------------------------------------------------- env API

    def _obs(self, state: MiningState) -> Array:
        n = self.size
        worker = jnp.zeros((n, n), bool).at[state.worker[0], state.worker[1]].set(True)
        base = jnp.zeros((n, n), bool).at[state.base[0], state.base[1]].set(True)
        planes = [worker, worker & state.carrying, base, state.resources > 0, state.walls]
        return jnp.stack(planes, axis=-1).astype(jnp.float32)  # float32[n, n, 5]

    def _timestep(self, state, reward, terminated, truncated, invalid):
        return scalar_timestep(
            self._obs(state), reward, terminated, truncated,
            action_mask=self.action_mask(state), info={INVALID_ACTION: jnp.asarray(invalid, bool)},
        )

    def reset_env(self, key: PRNGKey, params: MiningParams):
        n = self.size
        cells = jax.random.choice(key, n * n, (2 + self.num_resources + self.num_walls,), replace=False)
        coords = jnp.stack(jnp.divmod(cells, n), axis=-1).astype(jnp.int32)  # int32[k, 2]
        resource_cells = cells[2:2 + self.num_resources]
        wall_cells = cells[2 + self.num_resources:]
        resources = jnp.zeros(n * n, jnp.int32).at[resource_cells].set(jnp.asarray(params.resource_amount, jnp.int32))
        walls = jnp.zeros(n * n, bool).at[wall_cells].set(True)
        state = MiningState(
            worker=coords[0], base=coords[1], resources=resources.reshape(n, n), walls=walls.reshape(n, n),
            carrying=jnp.bool_(False), time=jnp.int32(0),
        )
        return state, self._timestep(state, 0.0, False, False, False)

    def step_env(self, key: PRNGKey, state: MiningState, action: Array, params: MiningParams):
        action = jnp.asarray(action, jnp.int32)
        valid = self.is_valid(state, action)
        kind = jnp.where(valid, action[1], NOOP)  # an invalid action is a noop
        offset = jnp.asarray(DIRECTIONS, jnp.int32)[self._chosen_direction(action)]
        target = jnp.clip(state.worker + offset, 0, self.size - 1)
        harvested, delivered = kind == HARVEST, kind == RETURN
        resources = state.resources.at[target[0], target[1]].add(-harvested.astype(jnp.int32))
        state = state.replace(
            worker=jnp.where(kind == MOVE, target, state.worker),
            resources=resources,
            carrying=(state.carrying | harvested) & ~delivered,
            time=state.time + 1,
        )
        reward = harvested * params.harvest_reward + delivered * params.delivery_reward
        finished = (jnp.sum(state.resources) == 0) & ~state.carrying
        terminated, truncated = time_limit_flags(state.time, finished, self.max_steps)
        return state, self._timestep(state, reward, terminated, truncated, ~valid)


@functools.partial(jax.jit, static_argnames=("env", "num_layouts"))
def mean_uniform_invalid_fraction(env: Mining, key: PRNGKey, num_layouts: int = 64) -> Array:
    """float32[]: `uniform_invalid_fraction` averaged over `num_layouts` reset layouts."""
    states, _ = jax.vmap(env.reset)(jax.random.split(key, num_layouts))
    return jnp.mean(jax.vmap(env.uniform_invalid_fraction)(states))


envs.register(
    "mining_grid",
    Mining,
    "Masked resource-mining gridworld (a fast test env; the paper's task is microrts_mining_*); MultiDiscrete([size^2, 4, 4, 4, 4]) with mask",
)
