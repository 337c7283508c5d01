"""Environments with large structured discrete action spaces (one choice per dimension).

`inventory` — joint inventory replenishment (the benchmark of Dynamic Neighbourhood
Construction, Akkerman et al. 2023): M items, each orders one of K quantities every period,
so there are K^M joint actions (5^30 ~ 9e20 for M=30, K=5).

`structured_maze` — a point in the unit square moved by N on/off actuators whose unit
direction vectors add up to its displacement: 2^N joint actions, small and fast for tests.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

import envs
from envs import time_limit_flags
from jaxrl_actions.environment import EnvParams, EnvSpec, Environment, scalar_timestep
from jaxrl_actions.spaces import Box, MultiDiscrete
from jaxrl_actions.types import Array


# ---------------------------------------------------------------------------------------
# Joint inventory replenishment


@struct.dataclass
class InventoryParams(EnvParams):
    demand_mean: Array  # float32[M] Poisson demand rate of each item per period
    holding_cost: Array  # float32[M] per unit on hand at the end of a period
    backorder_cost: Array  # float32[M] per unit short at the end of a period
    minor_cost: Array  # float32[M] per item that places an order
    major_cost: Array  # float32[] shared fixed cost of a period in which anything is ordered
    order_step: Array  # float32[] units in one order level: level k orders k * order_step


@struct.dataclass
class InventoryState:
    stock: Array  # float32[M] inventory position (negative: backorders)
    time: Array  # int32[]


def inventory_cost(stock_after: Array, order_qty: Array, params: InventoryParams) -> Array:
    """float32[]: one period's cost. stock_after: float32[M] stock after demand (negative =
    backordered units); order_qty: float32[M] units ordered this period."""
    ordered = order_qty > 0
    fixed = jnp.where(jnp.any(ordered), params.major_cost, 0.0) + jnp.sum(jnp.where(ordered, params.minor_cost, 0.0))
    holding = jnp.sum(params.holding_cost * jnp.maximum(stock_after, 0.0))
    backorder = jnp.sum(params.backorder_cost * jnp.maximum(-stock_after, 0.0))
    return fixed + holding + backorder


class JointInventory(Environment):
    """Joint replenishment of M items with a shared fixed ordering cost.

    Each period: the agent orders `action[i] * order_step` units of item i (zero lead time),
    then Poisson(demand_mean[i]) demand arrives; unmet demand is backordered (negative
    stock). Stock is kept in [-capacity, capacity]: backorders beyond it are lost (still
    costed this period), stock beyond it is discarded (and not costed: an order cap).

    Observation: float32[M] stock / capacity, in [-1, 1].
    Action:      MultiDiscrete([K] * M): the order level of each item (0: no order).
    Reward:      minus the period's cost: major_cost if any item orders + minor_cost of each
                 ordering item + holding_cost * units on hand + backorder_cost * units short
                 (after demand; see `inventory_cost`).
    Termination: never. Truncation: after `horizon` periods.
    Start:       stock uniform in [0, 2 * demand_mean] (rounded).
    """

    def __init__(self, M: int = 10, K: int = 5, horizon: int = 50, capacity: float = 20.0):
        if int(M) < 1:
            raise ValueError(f"inventory needs M >= 1 items, got M={M}")
        if int(K) < 2:
            raise ValueError(f"inventory needs K >= 2 order levels, got K={K}")
        if int(horizon) < 1:
            raise ValueError(f"inventory needs horizon >= 1, got horizon={horizon}")
        if float(capacity) <= 0:
            raise ValueError(f"inventory needs capacity > 0, got capacity={capacity}")
        self.M, self.K, self.horizon, self.capacity = int(M), int(K), int(horizon), float(capacity)

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(Box(-1.0, 1.0, (self.M,)), MultiDiscrete([self.K] * self.M), self.horizon)

    @property
    def default_params(self) -> InventoryParams:
        # Heterogeneous items (demand 1..4, cycling), ordering enough to cover ~3 periods of
        # the fastest item at the top level, so batching orders against the major cost pays.
        demand = 1.0 + (np.arange(self.M) % 4).astype(np.float32)
        m = np.ones(self.M, np.float32)
        return InventoryParams(
            demand_mean=jnp.asarray(demand),
            holding_cost=jnp.asarray(m * 1.0),
            backorder_cost=jnp.asarray(m * 5.0),
            minor_cost=jnp.asarray(m * 2.0),
            major_cost=jnp.float32(10.0 + self.M),
            order_step=jnp.float32(12.0 / (self.K - 1)),
        )

    def sample_demand(self, key: Array, params: InventoryParams) -> Array:
        """float32[M]: one period's demand (step uses its own key for it)."""
        return jax.random.poisson(key, params.demand_mean).astype(jnp.float32)

    def _obs(self, state: InventoryState) -> Array:
        return jnp.clip(state.stock / self.capacity, -1.0, 1.0).astype(jnp.float32)

    def reset_env(self, key, params):
        stock = jnp.round(jax.random.uniform(key, (self.M,)) * 2.0 * params.demand_mean)
        state = InventoryState(stock.astype(jnp.float32), jnp.int32(0))
        return state, scalar_timestep(self._obs(state), 0.0, False)

    def step_env(self, key, state, action, params):
        order_qty = jnp.clip(action, 0, self.K - 1).astype(jnp.float32) * params.order_step
        stock = jnp.minimum(state.stock + order_qty, self.capacity) - self.sample_demand(key, params)
        cost = inventory_cost(stock, order_qty, params)
        state = InventoryState(jnp.maximum(stock, -self.capacity), state.time + 1)
        terminated, truncated = time_limit_flags(state.time, False, self.horizon)
        return state, scalar_timestep(self._obs(state), -cost, terminated, truncated)


# ---------------------------------------------------------------------------------------
# Structured maze: actuators that add up


@struct.dataclass
class MazeParams(EnvParams):
    start: Array  # float32[2]
    goal: Array  # float32[2]
    goal_radius: Array  # float32[]
    step_size: Array  # float32[] length of a full step


@struct.dataclass
class MazeState:
    position: Array  # float32[2] in [0, 1]^2
    time: Array  # int32[]


def actuator_directions(num_actuators: int) -> np.ndarray:
    """float32[N, 2]: unit vectors at angles 2 pi i / N."""
    angles = 2.0 * np.pi * np.arange(num_actuators) / num_actuators
    return np.stack([np.cos(angles), np.sin(angles)], axis=-1).astype(np.float32)


def maze_displacement(action: Array, directions: Array, step_size: Array) -> Array:
    """float32[2]: step_size * v / max(|v|, 1), v = sum of the directions of the actuators
    switched on (so opposite actuators cancel and no step is longer than step_size)."""
    v = jnp.sum(action.astype(jnp.float32)[:, None] * directions, axis=0)
    return step_size * v / jnp.maximum(jnp.linalg.norm(v), 1.0)


class StructuredMaze(Environment):
    """A point in the unit square driven by N binary actuators (Dulac-Arnold et al.'s
    large-action maze in miniature).

    Observation: float32[2] position in [0, 1]^2 (start (0.1, 0.1) plus small noise).
    Action:      MultiDiscrete([2] * N): which actuators fire; actuator i pushes along the
                 unit vector at angle 2 pi i / N, and the pushes add (`maze_displacement`).
                 The walls clip the position to the square. 2^N joint actions.
    Reward:      progress towards the goal (previous minus new distance), minus 0.01 per
                 step, plus 1 on reaching the goal.
    Termination: within `goal_radius` of the goal (0.9, 0.9). Truncation: after `horizon` steps.
    """

    def __init__(self, N: int = 12, horizon: int = 40):
        if int(N) < 2:
            raise ValueError(f"structured_maze needs N >= 2 actuators, got N={N}")
        if int(horizon) < 1:
            raise ValueError(f"structured_maze needs horizon >= 1, got horizon={horizon}")
        self.N, self.horizon = int(N), int(horizon)
        self.directions = actuator_directions(self.N)

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(Box(0.0, 1.0, (2,)), MultiDiscrete([2] * self.N), self.horizon)

    @property
    def default_params(self) -> MazeParams:
        return MazeParams(jnp.array([0.1, 0.1], jnp.float32), jnp.array([0.9, 0.9], jnp.float32),
                          jnp.float32(0.1), jnp.float32(0.1))

    def reset_env(self, key, params):
        position = jnp.clip(params.start + 0.05 * jax.random.uniform(key, (2,), minval=-1.0, maxval=1.0), 0.0, 1.0)
        state = MazeState(position.astype(jnp.float32), jnp.int32(0))
        return state, scalar_timestep(state.position, 0.0, False)

    def step_env(self, key, state, action, params):
        move = maze_displacement(action, jnp.asarray(self.directions), params.step_size)
        position = jnp.clip(state.position + move, 0.0, 1.0)
        before = jnp.linalg.norm(state.position - params.goal)
        after = jnp.linalg.norm(position - params.goal)
        reached = after <= params.goal_radius
        reward = before - after - 0.01 + jnp.where(reached, 1.0, 0.0)
        state = MazeState(position, state.time + 1)
        terminated, truncated = time_limit_flags(state.time, reached, self.horizon)
        return state, scalar_timestep(position, reward, terminated, truncated)


envs.register("inventory", JointInventory,
              "joint inventory replenishment: M items x K order levels, shared fixed cost (K^M actions)")
envs.register("structured_maze", StructuredMaze,
              "point in a square moved by N additive binary actuators (2^N actions)")
