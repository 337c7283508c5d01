"""Gym-µRTS's MicrortsMining{4x4,10x10,16x16,24x24}F9-v0 in JAX: the task of Huang &
Ontañón, "A Closer Look at Invalid Action Masking in Policy Gradient Algorithms" (FLAIRS
2022). Rules follow gym-microrts @ b0cabba (the commit the paper's code pins) and the µRTS
Java side it ran (vwxyzjn/microrts @ db532df); each rule cites its source.

Map (fixed, no randomness; `maps/{4x4,10x10,16x16,24x24}/basesWorkers*.xml`): two resource
    cells, the agent's base and worker, and a passive enemy base and worker that only block
    cells and can be attacked. Both players start with 5 resources.
Observation: float32[h, w, 27]: one-hot planes of hit points (min(hp, 4), 5), resources
    (min(amount, 4), 5), owner (none / agent / enemy, 3), unit type (8) and the unit's current
    action (none, move, harvest, return, produce, attack: 6) (`GlobalAgentEnv._encode_obs`).
Action: MultiDiscrete([h*w, 6, 4, 4, 4, 4, 7, h*w]) = (source cell, action type, move /
    harvest / return / produce direction, produce type, attack target cell). One unit is
    commanded per step; only the parameter of the chosen type is read
    (`UnitAction.fromActionArray`). Directions: 0 up, 1 right, 2 down, 3 left.
Mask (the paper's "invalid action masking", `GlobalAgentEnv.step`): the source must be an
    own unit whose current action is none, the attack target an enemy unit; the type,
    direction and produce-type components are not masked. A component with no allowed entry
    allows every entry (the scripts' masked logits are then all equal).
Dynamics: one step is 10 game cycles (frame skip 9). Worker move / harvest / return take 10
    cycles (harvest overridden from 20 to 10 by JNIClient) and attack 5, so they finish
    within the step; produce takes its type's produce time (a worker: 50 cycles) and the
    unit is busy meanwhile. An invalid source (no unit, not the agent's, or busy with a
    non-none type) issues nothing and is reported in `info[INVALID_ACTION]`
    (`PlayerAction.fromActionArrays`); a valid source with an invalid type or parameter
    becomes NONE for the same duration (`GameState.issueSafe`) and is reported in
    `info["invalid_parameter"]`.
Reward: +1 for each legal harvest and each legal return issued
    (`ResourceGatherRewardFunction`).
Episode: terminates when no resource is left (harvested, not delivered); truncated after 200
    steps (the scripts' `TimeLimit(..., 200)`).

Simplifications, all in rare corners the paper's policies do not reach: production costs are
checked when issued and paid on completion; a heavy unit's 12-cycle move lands at once (the
unit stays busy one more step); two spawns into one cell in the same step: the first cell
index wins; the enemy never acts (µRTS's PassiveAI).
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
from jaxrl_actions.types import INVALID_ACTION, Array, PRNGKey

INVALID_PARAMETER = "invalid_parameter"  # info key: a valid source with an undoable type or parameter

# Action types (component 1) and unit types (type.ID + 1; 0 = empty cell).
NONE, MOVE, HARVEST, RETURN, PRODUCE, ATTACK = range(6)
EMPTY, RESOURCE, BASE, BARRACKS, WORKER, LIGHT, HEAVY, RANGED = range(8)
AGENT, ENEMY, NEUTRAL = 0, 1, -1
CYCLES_PER_STEP = 10  # frame_skip 9 (gym-microrts Config)
EPISODE_STEPS = 200  # TimeLimit in the paper's scripts
START_RESOURCES = 5

# µRTS UnitTypeTable VERSION_ORIGINAL (src/rts/units/UnitTypeTable.java), indexed by unit type
# (type.ID + 1): hit points, cost, produce time, move time, attack time, damage, range; and
# what each type can produce. The worker's harvest time is 10 (JNIClient's override).
HP = np.array([0, 1, 10, 4, 1, 4, 4, 1])
COST = np.array([0, 0, 10, 5, 1, 2, 2, 2])
PRODUCE_TIME = np.array([0, 10, 250, 200, 50, 80, 120, 100])
MOVE_TIME = np.array([0, 0, 0, 0, 10, 8, 12, 10])  # 0: cannot move
ATTACK_TIME = np.array([0, 0, 0, 0, 5, 5, 5, 5])  # 0: cannot attack
DAMAGE = np.array([0, 0, 0, 0, 1, 2, 4, 1])
ATTACK_RANGE = np.array([0, 0, 0, 0, 1, 1, 1, 3])
HARVEST_TIME = 10
RETURN_TIME = 10  # ETA of return uses the move time (UnitAction.ETA)
PRODUCES = np.zeros((8, 8), bool)  # [producer type, produced type]
PRODUCES[BASE, WORKER] = True
PRODUCES[WORKER, [BASE, BARRACKS]] = True
PRODUCES[BARRACKS, [LIGHT, HEAVY, RANGED]] = True
DIRECTIONS = np.array([(0, -1), (1, 0), (0, 1), (-1, 0)])  # (dx, dy): up, right, down, left

# Maps as (x, y, unit type, owner, resources), from the XML files of the µRTS maps folder.
MAPS = {
    4: [(0, 0, RESOURCE, NEUTRAL, 20), (3, 3, RESOURCE, NEUTRAL, 20), (2, 1, BASE, AGENT, 0), (1, 1, WORKER, AGENT, 0),
        (1, 2, BASE, ENEMY, 0), (2, 2, WORKER, ENEMY, 0)],
    10: [(0, 0, RESOURCE, NEUTRAL, 20), (9, 9, RESOURCE, NEUTRAL, 20), (2, 1, BASE, AGENT, 0), (1, 1, WORKER, AGENT, 0),
         (7, 8, BASE, ENEMY, 0), (8, 8, WORKER, ENEMY, 0)],
    16: [(0, 1, RESOURCE, NEUTRAL, 20), (15, 14, RESOURCE, NEUTRAL, 25), (2, 2, BASE, AGENT, 0),
         (1, 1, WORKER, AGENT, 0), (13, 13, BASE, ENEMY, 0), (14, 14, WORKER, ENEMY, 0)],
    24: [(0, 1, RESOURCE, NEUTRAL, 20), (23, 22, RESOURCE, NEUTRAL, 25), (2, 2, BASE, AGENT, 0),
         (1, 1, WORKER, AGENT, 0), (21, 21, BASE, ENEMY, 0), (22, 22, WORKER, ENEMY, 0)],
}
PLANE_SIZES = (5, 5, 3, 8, 6)  # hp, resources, owner, type, current action


def steps_busy(cycles) -> Array:
    """Observations a unit stays busy after issuing an action of `cycles` game cycles: actions
    of at most one step's cycles finish within the step (`GameState.cycle`)."""
    return jnp.maximum(-(-jnp.asarray(cycles, jnp.int32) // CYCLES_PER_STEP) - 1, 0)


@struct.dataclass
class MicrortsState:
    """Units live in cells (row-major index y * w + x); every array is [h * w]."""

    utype: Array  # int32 unit type (EMPTY for no unit)
    owner: Array  # int32 AGENT / ENEMY / NEUTRAL
    hp: Array  # int32
    resources: Array  # int32 units left in a resource, or carried by a worker
    busy: Array  # int32 steps until the unit's current assignment completes (0: idle)
    action: Array  # int32 the assignment shown in the observation (NONE when idle or NONE-locked)
    target: Array  # int32 cell the pending assignment acts on
    produce: Array  # int32 unit type a pending PRODUCE makes
    player_resources: Array  # int32[] the agent's stock
    time: Array  # int32[] steps taken


class MicrortsMining(Environment):
    """Gym-µRTS MicrortsMining{size}x{size}F9-v0 (see the module docstring)."""

    # While no own unit is idle the source mask allows every cell, so a masked action can
    # still name an invalid source (the paper's mask, `GlobalAgentEnv.step`).
    mask_is_complete = False

    def __init__(self, size: int = 10):
        size = int(size)
        if size not in MAPS:
            raise ValueError(f"MicrortsMining has maps of size {sorted(MAPS)}, got size={size}")
        self.size = size
        self.num_cells = size * size
        self.nvec = (self.num_cells, 6, 4, 4, 4, 4, 7, self.num_cells)
        self.offsets = np.concatenate([[0], np.cumsum(self.nvec)[:-1]])

    @property
    def spec(self) -> EnvSpec:
        return EnvSpec(Box(0.0, 1.0, (self.size, self.size, sum(PLANE_SIZES))), MultiDiscrete(self.nvec), EPISODE_STEPS)

    @property
    def default_params(self) -> EnvParams:
        return EnvParams()

    # ---------------------------------------------------------------- observation and mask

    def _obs(self, s: MicrortsState) -> Array:
        owner = jnp.where(s.owner == AGENT, 1, jnp.where(s.owner == ENEMY, 2, 0))
        planes = (jnp.minimum(s.hp, 4), jnp.minimum(s.resources, 4), owner, s.utype, s.action)
        onehots = [jax.nn.one_hot(p, n, dtype=jnp.float32) for p, n in zip(planes, PLANE_SIZES)]
        return jnp.concatenate(onehots, axis=-1).reshape(self.size, self.size, -1)

    def action_mask(self, s: MicrortsState) -> Array:
        """bool[sum(nvec)]: the paper's partial mask (source and attack target only)."""
        idle = (s.utype != EMPTY) & (s.action == NONE)
        source, target = idle & (s.owner == AGENT), idle & (s.owner == ENEMY)
        allow_all_if_empty = lambda m: m | ~jnp.any(m)
        middle = jnp.ones(sum(self.nvec[1:7]), bool)
        return jnp.concatenate([allow_all_if_empty(source), middle, allow_all_if_empty(target)])

    def _timestep(self, s, reward, terminated, truncated, invalid_source, invalid_parameter):
        info = {INVALID_ACTION: jnp.asarray(invalid_source, bool),
                INVALID_PARAMETER: jnp.asarray(invalid_parameter, bool)}
        return scalar_timestep(self._obs(s), reward, terminated, truncated, self.action_mask(s), info)

    # ---------------------------------------------------------------- reset

    def reset_env(self, key: PRNGKey, params: EnvParams):
        n = self.num_cells
        utype, owner, hp, res = (np.zeros(n, np.int32), np.full(n, NEUTRAL, np.int32), np.zeros(n, np.int32),
                                 np.zeros(n, np.int32))
        for x, y, t, o, r in MAPS[self.size]:
            c = y * self.size + x
            utype[c], owner[c], hp[c], res[c] = t, o, HP[t], r
        zeros = jnp.zeros(n, jnp.int32)
        state = MicrortsState(jnp.asarray(utype), jnp.asarray(owner), jnp.asarray(hp), jnp.asarray(res), zeros, zeros,
                              zeros, zeros, jnp.int32(START_RESOURCES), jnp.int32(0))
        return state, self._timestep(state, 0.0, False, False, False, False)

    # ---------------------------------------------------------------- rules

    def _neighbour(self, cell: Array, direction: Array) -> tuple[Array, Array]:
        """(cell index of the neighbour, whether it is on the map)."""
        x, y = cell % self.size, cell // self.size
        dx, dy = jnp.asarray(DIRECTIONS)[direction]
        nx, ny = x + dx, y + dy
        inside = (nx >= 0) & (nx < self.size) & (ny >= 0) & (ny < self.size)
        return jnp.clip(ny, 0, self.size - 1) * self.size + jnp.clip(nx, 0, self.size - 1), inside

    def _in_attack_range(self, src: Array, tgt: Array, reach: Array) -> Array:
        dx = jnp.abs(src % self.size - tgt % self.size)
        dy = jnp.abs(src // self.size - tgt // self.size)
        adjacent = dx + dy == 1
        return jnp.where(reach == 1, adjacent, dx * dx + dy * dy <= reach * reach)

    def _decode(self, s: MicrortsState, action: Array):
        """What the action asks and whether µRTS executes it: (src, kind, target cell,
        produced type, source ok, parameter ok, cycles the source is then busy)."""
        src, kind = action[0], action[1]
        ut = s.utype[src]
        of_type = lambda table: jnp.asarray(table)[ut]
        direction = jnp.where(kind == MOVE, action[2], jnp.where(kind == HARVEST, action[3],
                              jnp.where(kind == RETURN, action[4], action[5])))
        near, inside = self._neighbour(src, direction)
        target = jnp.where(kind == ATTACK, action[7], near)
        produced = action[6]
        empty_target = inside & (s.utype[near] == EMPTY)
        # PlayerAction.fromActionArrays: a unit, the agent's, idle unless the type is NONE.
        source_ok = (ut != EMPTY) & (s.owner[src] == AGENT) & ((s.busy[src] == 0) | (kind == NONE))
        is_worker = ut == WORKER
        ok = jnp.stack([
            jnp.bool_(True),  # NONE
            (of_type(MOVE_TIME) > 0) & empty_target,
            is_worker & (s.resources[src] == 0) & inside & (s.utype[near] == RESOURCE),
            is_worker & (s.resources[src] > 0) & inside & (s.utype[near] == BASE) & (s.owner[near] == AGENT),
            jnp.asarray(PRODUCES)[ut, produced] & (s.player_resources >= jnp.asarray(COST)[produced]) & empty_target,
            (of_type(ATTACK_TIME) > 0) & (s.utype[target] != EMPTY) & (s.owner[target] >= 0)
            & (s.owner[target] != AGENT) & self._in_attack_range(src, target, of_type(ATTACK_RANGE)),
        ])[kind]
        cycles = jnp.stack([0, of_type(MOVE_TIME), HARVEST_TIME, RETURN_TIME,
                            jnp.asarray(PRODUCE_TIME)[produced], of_type(ATTACK_TIME)])[kind]
        return src, kind, target, produced, source_ok, ok, cycles

    def _remove(self, s: MicrortsState, cell: Array, gone: Array) -> MicrortsState:
        """Clears `cell` when `gone` (a depleted resource, a destroyed unit)."""
        clear = lambda a, v: a.at[cell].set(jnp.where(gone, v, a[cell]))
        return s.replace(utype=clear(s.utype, EMPTY), owner=clear(s.owner, NEUTRAL), hp=clear(s.hp, 0),
                         resources=clear(s.resources, 0), busy=clear(s.busy, 0), action=clear(s.action, NONE))

    def _relocate(self, s: MicrortsState, src: Array, dst: Array, go: Array) -> MicrortsState:
        """Moves the unit in `src` to `dst` when `go` (dst empty)."""
        fields = ("utype", "owner", "hp", "resources", "busy", "action", "target", "produce")
        empty = {"utype": EMPTY, "owner": NEUTRAL}
        out = {}
        for name in fields:
            a = getattr(s, name)
            moved = a.at[dst].set(jnp.where(go, a[src], a[dst]))
            out[name] = moved.at[src].set(jnp.where(go, empty.get(name, 0), moved[src]))
        return s.replace(**out)

    def _apply(self, s: MicrortsState, src, kind, target, do) -> MicrortsState:
        """The effect of an action issued now (`do`): move, harvest, return or attack; each
        finishes within the step (a heavy unit's 12-cycle move is applied at once and the unit
        kept busy one more step)."""
        s = self._relocate(s, src, target, do & (kind == MOVE) & (s.utype[target] == EMPTY))
        harvest = do & (kind == HARVEST)
        s = s.replace(resources=s.resources.at[src].add(harvest.astype(jnp.int32))
                      .at[target].add(-harvest.astype(jnp.int32)))
        s = self._remove(s, target, harvest & (s.resources[target] <= 0))
        deliver = do & (kind == RETURN)
        s = s.replace(player_resources=s.player_resources + jnp.where(deliver, s.resources[src], 0),
                      resources=s.resources.at[src].set(jnp.where(deliver, 0, s.resources[src])))
        attack = do & (kind == ATTACK)
        s = s.replace(hp=s.hp.at[target].add(-jnp.where(attack, jnp.asarray(DAMAGE)[s.utype[src]], 0)))
        return self._remove(s, target, attack & (s.hp[target] <= 0) & (s.utype[target] != EMPTY))

    def _complete_pending(self, s: MicrortsState) -> MicrortsState:
        """Counts down busy units; a PRODUCE reaching 0 spawns its unit (if the cell is still
        empty and the cost can be paid) and the producer becomes idle."""
        finishing = s.busy == 1
        s = s.replace(busy=jnp.maximum(s.busy - 1, 0))

        def spawn(i, s):
            cell = order[i]
            target, produced = s.target[cell], s.produce[cell]
            cost = jnp.asarray(COST)[produced]
            ok = (s.action[cell] == PRODUCE) & (s.utype[target] == EMPTY) & (s.player_resources >= cost)
            put = lambda a, v: a.at[target].set(jnp.where(ok, v, a[target]))
            return s.replace(utype=put(s.utype, produced), owner=put(s.owner, AGENT),
                             hp=put(s.hp, jnp.asarray(HP)[produced]),
                             player_resources=s.player_resources - jnp.where(ok, cost, 0))

        # Only a few units are ever busy: visit the cells that finish this step, in cell order.
        order = jnp.argsort(~finishing, stable=True)
        s = jax.lax.fori_loop(0, jnp.sum(finishing), spawn, s)
        return s.replace(action=jnp.where(finishing, NONE, s.action))

    def step_env(self, key: PRNGKey, state: MicrortsState, action: Array, params: EnvParams):
        action = jnp.asarray(action, jnp.int32)
        s = self._complete_pending(state)
        src, kind, target, produced, source_ok, param_ok, cycles = self._decode(s, action)
        issued = source_ok & (kind != NONE)
        valid = issued & param_ok
        later = steps_busy(cycles)
        s = self._apply(s, src, kind, target, valid)
        # An action lasting past this step (or NONE for an undoable one) keeps the unit busy.
        pending = issued & (later > 0)
        shown = jnp.where(valid, kind, NONE)
        set_at = lambda a, v: a.at[src].set(jnp.where(pending, v, a[src]))
        s = s.replace(busy=set_at(s.busy, later), action=set_at(s.action, shown), target=set_at(s.target, target),
                      produce=set_at(s.produce, produced), time=s.time + 1)
        reward = (valid & ((kind == HARVEST) | (kind == RETURN))).astype(jnp.float32)
        resources_left = jnp.any((s.utype == RESOURCE) & (s.resources > 0))
        terminated, truncated = time_limit_flags(s.time, ~resources_left, EPISODE_STEPS)
        return s, self._timestep(s, reward, terminated, truncated, ~source_ok, issued & ~param_ok)


for _size in sorted(MAPS):
    envs.register(
        f"microrts_mining_{_size}x{_size}",
        lambda _size=_size: MicrortsMining(_size),
        f"Gym-µRTS MicrortsMining{_size}x{_size}F9-v0 (Huang & Ontañón's masking benchmark), partial mask",
        heavy=_size > 4,  # the same rules at every size: the default conformance run compiles the 4x4 one
    )
