"""The structured large discrete action spaces of Dynamic Neighbourhood Construction
(Akkerman, Luy, van Heeswijk & Schiffer, ICLR 2024; code tumBAIS/dynamicNeighborhoodConstruction,
"the authors' code" below), as the authors' environments define them.

`joint_replenishment` — M items, each reordered up to a level in 0..66 every period, with a
shared fixed cost for any order: 67^M joint actions (67^40 ~ 1e73, the paper's largest).
(`Environments/InventoryControl/JointReplenishment_py.py`.)

`structured_maze` — a point in the unit square moved by N on/off actuators, an L-shaped wall
between it and a small goal box, action noise: 2^N joint actions (after Chandak et al. 2019;
`Environments/ToyMaze/Gridworld_py.py`).

`reorder_policy` is the (s, S) policy the authors compare with on inventory (`simPolicy`).
"""
from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.scipy.special import gammaln

import envs
from envs import time_limit_flags
from jaxrl_actions.environment import EnvParams, EnvSpec, Environment, scalar_timestep
from jaxrl_actions.spaces import Box, MultiDiscrete
from jaxrl_actions.types import Array


# ---------------------------------------------------------------------------------------
# Joint replenishment

SMAX = 66  # highest order-up-to level ("smax=66" in JointReplenishment_py.__init__; parser: "66 for inventory")
HORIZON = 100  # periods per episode (JointReplenishment_py max_steps=100)
LAMBDA_EVEN, LAMBDA_ODD = 20.0, 10.0  # Poisson demand of even / odd items (lambda_even, lambda_uneven)
UNIT_COST = 10.0  # per unit ordered (k_even = k_uneven = -10, applied to the order quantity)
MAJOR_COST = 75.0  # shared cost of a period with any order (commonOrderCosts=75, also the parser default)
HOLDING_COST = 1.0  # per unit on hand after demand (h_even = h_uneven = -1)
BACKORDER_COST = 19.0  # per unit backordered after demand (b_even = b_uneven = -19)
START_INVENTORY = 25.0  # every item at reset (JointReplenishment_py.reset: np.full(n, 25))
# The (s, S) policy the authors simulate (`__main__` of JointReplenishment_py.py), by item parity:
# "optimal s,S = (22,28) for K=0" (lambda 20) and "(11,16) for K=0" (lambda 10).
PAPER_S, PAPER_BIG_S = (22, 11), (28, 16)


def authors_obs_bounds() -> tuple[float, float]:
    """The observation box the authors' code declares, [-2 lambda_even, smax] = [-40, 66],
    which their Fourier basis normalises with. Inventory can fall below -40 (backorders are
    unbounded), so it is not our observation space, only the agents' feature bounds."""
    return -2.0 * LAMBDA_EVEN, float(SMAX)


@struct.dataclass
class InventoryParams(EnvParams):
    demand_mean: Array  # float32[M] Poisson rate of each item per period
    unit_cost: Array  # float32[M] per unit ordered
    major_cost: Array  # float32[] once per period in which any item orders
    holding_cost: Array  # float32[M] per unit on hand after demand
    backorder_cost: Array  # float32[M] per unit short after demand
    start: Array  # float32[M] inventory at reset


@struct.dataclass
class InventoryState:
    inventory: Array  # float32[M] on hand (negative: backordered units)
    time: Array  # int32[]


def by_parity(num_items: int, even, odd) -> np.ndarray:
    """float32[M]: `even` for items 0, 2, 4, ..., `odd` for items 1, 3, ... (the authors' i % 2)."""
    return np.where(np.arange(num_items) % 2 == 0, even, odd).astype(np.float32)


def poisson_by_inverse_cdf(key: Array, rate: Array, max_value: int) -> Array:
    """float32[...]: Poisson(rate) draws by inverting the CDF over 0..max_value - 1, one
    uniform per draw. `jax.random.poisson`'s rejection loops cost ~6x the whole inventory
    step on CPU; this is exact up to the tail P(X >= max_value) (1e-50 at rate 20, 128)."""
    k = jnp.arange(max_value, dtype=jnp.float32)
    rate = jnp.asarray(rate, jnp.float32)
    cdf = jnp.cumsum(jnp.exp(k * jnp.log(rate)[..., None] - rate[..., None] - gammaln(k + 1.0)), axis=-1)
    u = jax.random.uniform(key, rate.shape)
    return jnp.sum(u[..., None] >= cdf, axis=-1).astype(jnp.float32)


def inventory_step(inventory: Array, order_up_to: Array, demand: Array, params: InventoryParams) -> tuple[Array, Array]:
    """One period: (new inventory float32[M], cost float32[]).

    order = max(order_up_to - inventory, 0) arrives at once (zero lead time), then demand is
    served or backordered; cost = unit_cost . order + major_cost [any order]
    + holding_cost . max(inv, 0) + backorder_cost . max(-inv, 0), on the inventory after demand.
    """
    order = jnp.maximum(order_up_to.astype(jnp.float32) - inventory, 0.0)
    after = inventory + order - demand
    cost = (jnp.sum(params.unit_cost * order) + jnp.where(jnp.any(order > 0), params.major_cost, 0.0)
            + jnp.sum(params.holding_cost * jnp.maximum(after, 0.0))
            + jnp.sum(params.backorder_cost * jnp.maximum(-after, 0.0)))
    return after, cost


def reorder_policy(inventory: Array, s: Array, big_s: Array) -> Array:
    """The (s, S) policy as an order-up-to action: int32[M] = S where inventory <= s, else 0
    (the authors' `simPolicy`; order-up-to 0 orders nothing, as inventory > s >= 0)."""
    return jnp.where(inventory <= s, big_s, 0).astype(jnp.int32)


class JointReplenishment(Environment):
    """Joint replenishment of M items with a shared ordering cost (the authors'
    `JointReplenishment_py`, defaults as there).

    Observation: float32[M] inventory of each item (raw, as the authors' `make_state`);
                 at most smax, unbounded below (backorders accumulate).
    Action:      MultiDiscrete([smax + 1] * M): the order-up-to level of each item.
    Reward:      minus the period's cost (`inventory_step`): 10 per unit ordered, 75 if any
                 item orders, 1 per unit held, 19 per unit backordered after Poisson demand
                 (rate 20 for even items, 10 for odd ones).
    Termination: never. Truncation: after `horizon` periods (the authors' done flag; their
                 learner treats it as terminal, see agents/qac.py).
    Start:       inventory 25 for every item.
    """

    def __init__(self, M: int = 2, smax: int = SMAX, horizon: int = HORIZON, max_demand: int = 128):
        if int(M) < 1:
            raise ValueError(f"joint_replenishment needs M >= 1 items, got M={M}")
        if int(smax) < 1:
            raise ValueError(f"joint_replenishment needs smax >= 1, got smax={smax}")
        if int(horizon) < 1:
            raise ValueError(f"joint_replenishment needs horizon >= 1, got horizon={horizon}")
        if int(max_demand) < 1:
            raise ValueError(f"joint_replenishment needs max_demand >= 1, got max_demand={max_demand}")
        self.M, self.smax, self.horizon, self.max_demand = int(M), int(smax), int(horizon), int(max_demand)

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(Box(-np.inf, float(self.smax), (self.M,)), MultiDiscrete([self.smax + 1] * self.M), self.horizon)

    @property
    def default_params(self) -> InventoryParams:
        ones = np.ones(self.M, np.float32)
        return InventoryParams(
            demand_mean=jnp.asarray(by_parity(self.M, LAMBDA_EVEN, LAMBDA_ODD)),
            unit_cost=jnp.asarray(ones * UNIT_COST),
            major_cost=jnp.float32(MAJOR_COST),
            holding_cost=jnp.asarray(ones * HOLDING_COST),
            backorder_cost=jnp.asarray(ones * BACKORDER_COST),
            start=jnp.asarray(ones * START_INVENTORY),
        )

    def sample_demand(self, key: Array, params: InventoryParams) -> Array:
        """float32[M]: one period's Poisson demand (step draws it with its own key), drawn
        by `poisson_by_inverse_cdf` below `max_demand` (a static bound for the rates used)."""
        return poisson_by_inverse_cdf(key, params.demand_mean, self.max_demand)

    def reset_env(self, key, params):
        state = InventoryState(params.start.astype(jnp.float32), jnp.int32(0))
        return state, scalar_timestep(state.inventory, 0.0, False)

    def step_env(self, key, state, action, params):
        level = jnp.clip(action, 0, self.smax)
        inventory, cost = inventory_step(state.inventory, level, self.sample_demand(key, params), params)
        state = InventoryState(inventory, state.time + 1)
        terminated, truncated = time_limit_flags(state.time, False, self.horizon)
        return state, scalar_timestep(inventory, -cost, terminated, truncated)


# ---------------------------------------------------------------------------------------
# Structured maze (Gridworld_py)

MAX_STEP_LENGTH = 0.2  # max_step_length
WALL_WIDTH = 0.05  # wall_width
STEP_UNIT = WALL_WIDTH - 0.005  # step_unit = 0.045: one sub-step
SUB_STEPS = int(MAX_STEP_LENGTH / STEP_UNIT)  # repeat = 4 sub-steps per action
MAZE_HORIZON = int(30 / MAX_STEP_LENGTH)  # max_steps = int(30 / 0.2) = 150 actions (env default max_steps=30)
STEP_REWARD = -0.05  # step_reward, once per action
GOAL_REWARD = 100.0  # G1_reward (G2 pays 0)
NOISE_PROB = 0.1  # randomness: chance that a sub-step is replaced by noise
NOISE_SCALE = 1.415  # noise = U[0, 1)^2 / 1.415 * step_unit ("normalize by max L2 of noise")
WALLS = ((0.0, 0.25, 0.5, 0.30), (0.5, 0.25, 0.55, 0.75))  # O1, O2 as (x1, y1, x2, y2)
GOAL = (0.25, 0.45, 0.30, 0.50)  # G1
EVAL_START = (0.25, 0.10)  # reset(training=False)


def actuator_directions(num_actuators: int) -> np.ndarray:
    """float32[N, 2]: actuator i points at angle 2 pi i / N, cos and sin rounded to 3
    decimals (Gridworld_py.get_movements)."""
    angles = np.linspace(0, 2 * np.pi, num_actuators + 1)[:-1]
    return np.stack([np.around(np.cos(angles), 3), np.around(np.sin(angles), 3)], axis=-1).astype(np.float64)


def max_motion(directions: np.ndarray) -> float:
    """The largest |sum of a subset of directions| (the authors' max_dist, found there by
    enumerating all 2^N subsets). For a direction u the best subset is {i: <d_i, u> > 0},
    which only changes where u is perpendicular to some d_i, so trying u between those
    breakpoints covers every candidate subset exactly: O(N^2) instead of 2^N."""
    d = np.asarray(directions, np.float64)
    angles = np.arctan2(d[:, 1], d[:, 0])
    breaks = np.concatenate([angles + np.pi / 2, angles - np.pi / 2])
    best = 0.0
    for theta in np.concatenate([breaks - 1e-6, breaks + 1e-6]):  # both sides of every breakpoint
        chosen = d @ np.array([np.cos(theta), np.sin(theta)]) > 0
        best = max(best, float(np.linalg.norm(d[chosen].sum(axis=0))))
    return best


def max_motion_brute_force(directions: np.ndarray) -> float:
    """The same by enumeration (tests only, small N)."""
    d = np.asarray(directions, np.float64)
    return max(float(np.linalg.norm(np.asarray(s) @ d)) for s in itertools.product((0, 1), repeat=len(d)))


def in_box(position: Array, box) -> Array:
    """bool[]: position (float32[2]) inside the closed box (x1, y1, x2, y2) (in_region)."""
    x1, y1, x2, y2 = box
    return (position[0] >= x1) & (position[0] <= x2) & (position[1] >= y1) & (position[1] <= y2)


def hits_wall(position: Array) -> Array:
    return in_box(position, WALLS[0]) | in_box(position, WALLS[1])


@struct.dataclass
class MazeParams(EnvParams):
    noise_prob: Array  # float32[] chance a sub-step is noise
    step_reward: Array  # float32[] per action
    goal_reward: Array  # float32[] on entering the goal box


@struct.dataclass
class MazeState:
    position: Array  # float32[2] in [0, 1]^2
    time: Array  # int32[]


class StructuredMaze(Environment):
    """The authors' maze (`Gridworld_py`, with_wall=True, hard constraint): N actuators,
    2^N joint actions.

    Observation: float32[2] position (x, y) in [0, 1]^2 (n_lidar = 0).
    Action:      MultiDiscrete([2] * N): which actuators fire. Actuator i points at angle
                 2 pi i / N; the motion is the sum of the chosen directions divided by the
                 largest such sum over all subsets (`max_motion`), so at most 1.
    Dynamics:    4 sub-steps of 0.045 * motion; each is replaced, with probability 0.1, by
                 U[0, 1)^2 / 1.415 * 0.045 (noise only towards +x/+y, as coded). A sub-step
                 into a wall (O1 = (0, .25)-(.5, .3), O2 = (.5, .25)-(.55, .75)) or out of the
                 square is not taken and ends the action; so does entering the goal, and any
                 sub-step of the episode's last action.
    Reward:      -0.05 per action, +100 on entering the goal box G1 = (.25, .45)-(.3, .5).
    Termination: in G1. Truncation: after 150 actions.
    Start:       uniform over the square outside walls and goal (the authors' training
                 reset); `random_start=False`: (0.25, 0.1), below the wall (their evaluation).
    """

    def __init__(self, N: int = 8, random_start: bool = True, horizon: int = MAZE_HORIZON):
        if int(N) < 2:
            raise ValueError(f"structured_maze needs N >= 2 actuators, got N={N}")
        if int(horizon) < 1:
            raise ValueError(f"structured_maze needs horizon >= 1, got horizon={horizon}")
        self.N, self.random_start, self.horizon = int(N), bool(random_start), int(horizon)
        directions = actuator_directions(self.N)
        self.motions = (directions / max_motion(directions)).astype(np.float32)  # [N, 2]

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(Box(0.0, 1.0, (2,)), MultiDiscrete([2] * self.N), self.horizon)

    @property
    def default_params(self) -> MazeParams:
        return MazeParams(jnp.float32(NOISE_PROB), jnp.float32(STEP_REWARD), jnp.float32(GOAL_REWARD))

    def reset_env(self, key, params):
        if self.random_start:
            # Rejection sampling with a fixed number of draws: walls and goal cover ~5% of the
            # square, so 32 draws all failing has probability ~1e-41.
            draws = jax.random.uniform(key, (32, 2))
            ok = jax.vmap(lambda p: ~hits_wall(p) & ~in_box(p, GOAL))(draws)
            position = draws[jnp.argmax(ok)]
        else:
            position = jnp.asarray(EVAL_START, jnp.float32)
        state = MazeState(position.astype(jnp.float32), jnp.int32(0))
        return state, scalar_timestep(state.position, 0.0, False)

    def step_env(self, key, state, action, params):
        motion = action.astype(jnp.float32) @ jnp.asarray(self.motions)  # [2]
        last_action = state.time + 1 >= self.horizon

        def sub_step(carry, k):
            position, stopped, reached = carry
            k_noisy, k_noise = jax.random.split(k)
            noise = jax.random.uniform(k_noise, (2,)) / NOISE_SCALE * STEP_UNIT
            delta = jnp.where(jax.random.uniform(k_noisy) < params.noise_prob, noise, motion * STEP_UNIT)
            new = position + delta
            moves = ~stopped & ~hits_wall(new) & in_box(new, (0.0, 0.0, 1.0, 1.0))
            position = jnp.where(moves, new, position)
            goal = moves & in_box(new, GOAL)
            # The authors' loop breaks on a blocked sub-step and after a move into a terminal
            # state (the goal, or any move during the episode's last action).
            stopped = stopped | ~moves | goal | last_action
            return (position, stopped, reached | goal), None

        (position, _, reached), _ = jax.lax.scan(sub_step, (state.position, jnp.bool_(False), jnp.bool_(False)),
                                                  jax.random.split(key, SUB_STEPS))
        reward = params.step_reward + jnp.where(reached, params.goal_reward, 0.0)
        state = MazeState(position, state.time + 1)
        terminated, truncated = time_limit_flags(state.time, reached, self.horizon)
        return state, scalar_timestep(position, reward, terminated, truncated)


envs.register("joint_replenishment", JointReplenishment,
              "DNC's joint replenishment: M items, order-up-to levels 0..66, shared order cost (67^M actions)")
envs.register("structured_maze", StructuredMaze,
              "DNC's maze: N additive on/off actuators, L-shaped wall, +100 goal box, action noise (2^N actions)")
