"""Jumanji environments behind our Environment API.

    env = JumanjiEnv.from_name("Knapsack-v1")                 # any registered Jumanji id
    env = JumanjiEnv.from_name("BinPack-v2", observation="structured")
    env = JumanjiEnv(my_jumanji_env, max_steps=100)           # any `jumanji.Environment`

Jumanji is imported lazily: building an adapter without it raises an ImportError naming
the extra to install (`pip install -e ".[jumanji]"`).

Contract (every Jumanji env):

    observation: "flat" (default): float32[obs_size], every field of Jumanji's observation
                 named tuple except `action_mask`, raveled in field order and concatenated
                 (bools as 0/1, ints as floats); `Box` bounds from Jumanji's observation spec.
                 "structured": a named tuple with the same fields (nested named tuples kept,
                 Jumanji's dtypes kept), minus `action_mask`; obs_space is a `Tuple` of
                 `Box`es in field order. For agents whose networks read the fields.
                 "items": float32[N, F], one row of features per item or city, from a
                 task's `ItemsView` (envs/jumanji_envs.py has them for Knapsack and TSP),
                 for permutation-equivariant networks (PPO's `torso="set"`).
                 `keep_mask_in_obs=True` keeps the `action_mask` field in either form.
    action:      see "Actions and masks" below
    reward:      Jumanji's reward, float32[]; per-agent rewards (Connector, LevelBasedForaging,
                 SearchAndRescue) are summed into one team reward
    terminated:  Jumanji's `StepType.LAST` with discount 0 (every agent's discount 0)
    truncated:   `StepType.LAST` with discount > 0 (Jumanji's own time limits), or
                 `max_steps` steps taken without the episode ending (our time limit)
    action_mask: Jumanji's `action_mask` observation field, laid out for our action space;
                 None for envs without one (RubiksCube, SearchAndRescue)
    info:        {INVALID_ACTION: the action broke the mask it was taken under}; Jumanji's
                 `extras` are not forwarded

Actions and masks. Jumanji's mask shape says which components it constrains jointly:

- `DiscreteArray(n)`, mask bool[n] -> `Discrete(n)`, the mask as is ("discrete").
- `MultiDiscreteArray(nvec)` whose mask has shape `nvec` (a mask over *tuples* of components:
  BinPack (ems, item) [40, 20], FlatPack (block, rotation, row, col) [25, 4, 9, 9], Tetris
  (rotation, column) [4, 10], Minesweeper (row, col) [10, 10], Sudoku (row, col, digit)
  [9, 9, 9]) -> `Discrete(prod(nvec))` over the flattened product with the flattened joint
  mask ("joint"); the adapter unravels the index into Jumanji's tuple (row-major). A
  per-dimension `MultiDiscrete` mask cannot express these masks (it would admit invalid
  pairs); the flat product is exact, and at these sizes (at most 8100 actions) a flat
  masked categorical is cheap, so no autoregressive head is needed.
- `MultiDiscreteArray(nvec)` whose mask has shape (len(nvec), max(nvec)) (one row per
  component, independent: the multi-agent envs Cleaner, Connector, JobShop (machine -> job),
  LevelBasedForaging, MMST, RobotWarehouse, MultiCVRP) -> `MultiDiscrete(nvec)` with the rows
  concatenated ("per_dimension"). These masks are per agent: Jumanji resolves clashes
  between agents in `step` (MMST's tie break; in JobShop a job's next operation needs one
  specific machine, so two machines never both see it as valid), so any combination of
  per-row valid choices is valid and the factorised mask is exact.
- no mask -> `MultiDiscrete(nvec)` (RubiksCube); a float `BoundedArray` -> `Box`
  (SearchAndRescue); an integer `BoundedArray` with minimum 0 -> `MultiDiscrete`
  (MultiCVRP; where its spec's range is wider than the mask, the mask's width wins).

A mask of shape (2, n) over `nvec == (2, n)` fits both readings; pass `mask_kind` for such
envs (none of Jumanji's registered ids is one).

Empty masks. Jumanji ends an episode when nothing is left to do (every item packed, every
city visited), and its last observation's mask then allows nothing; in MMST a finished
agent's row allows nothing for the rest of the episode. Our contract wants a mask with a
valid action (learners bootstrap over the next mask: an empty one gives -inf), so an empty
mask, or an empty per-agent row, becomes all-true: no action is taken from such a last
observation, and Jumanji ignores a finished agent's component.

The adapter keeps the last mask in its state to report `INVALID_ACTION`; Jumanji's own
handling of invalid actions (most combinatorial envs end the episode) is unchanged.
Jumanji's `step` draws its randomness from its own state, so `step`'s key is unused.
"""
from __future__ import annotations

import collections
import dataclasses
import math
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_actions.environment import EnvParams, EnvSpec, Environment
from jaxrl_actions.spaces import Box, Discrete, MultiDiscrete, Space, Tuple
from jaxrl_actions.types import INVALID_ACTION, PRNGKey, TimeStep

EXTRA = "jumanji"  # pyproject extra that installs Jumanji
OBSERVATIONS = ("flat", "structured", "items")


class ItemsView(NamedTuple):
    """A task's observation as a set of items (observation="items")."""

    features: Callable[[Any], jax.Array]  # the structured observation -> float32[N, F]
    fields: Callable[[jax.Array], Any]  # float32[N, F] -> the named fields heuristics read
MASK_KINDS = ("discrete", "joint", "per_dimension")
MASK_FIELD = "action_mask"


def import_jumanji():
    """The `jumanji` module, or an ImportError naming the extra to install."""
    try:
        import jumanji
    except ImportError as err:
        raise ImportError(
            f"Jumanji environments need the `jumanji` package ({err}); install it with "
            f"pip install -e \".[{EXTRA}]\" (or \".[envs]\" for every adapter)"
        ) from err
    return jumanji


def jumanji_env_ids() -> list[str]:
    """Jumanji's registered ids, sorted (empty when Jumanji is not installed)."""
    try:
        jumanji = import_jumanji()
    except ImportError:
        return []
    return sorted(jumanji.registered_environments())


def make_jumanji_env(env_id: str, **jumanji_kwargs: Any) -> Any:
    """`jumanji.make(env_id, **jumanji_kwargs)`; an unknown id raises a KeyError listing Jumanji's."""
    jumanji = import_jumanji()
    known = jumanji.registered_environments()
    if env_id not in known:
        raise KeyError(f"unknown Jumanji id {env_id!r}; Jumanji has {', '.join(sorted(known))}")
    return jumanji.make(env_id, **jumanji_kwargs)


class ActionLayout(NamedTuple):
    """How our action space maps to Jumanji's action and mask (see module docstring)."""

    kind: str  # "discrete" | "joint" | "per_dimension" | "box" | "unmasked"
    space: Space
    nvec: tuple  # Jumanji's components (joint, per_dimension, unmasked)
    dtype: Any  # Jumanji's action dtype


def _spec_bounds(spec: Any, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) float32 arrays of `shape` from a Jumanji array spec."""
    from jumanji import specs

    dtype = np.dtype(spec.dtype)
    if dtype == np.bool_:
        low, high = 0.0, 1.0
    elif isinstance(spec, specs.DiscreteArray):
        low, high = 0.0, float(spec.num_values) - 1.0
    elif isinstance(spec, specs.BoundedArray):
        low, high = np.asarray(spec.minimum, np.float32), np.asarray(spec.maximum, np.float32)
    else:
        low, high = -np.inf, np.inf
    return (np.broadcast_to(np.asarray(low, np.float32), shape).copy(),
            np.broadcast_to(np.asarray(high, np.float32), shape).copy())


def _field_names(value: Any) -> tuple:
    """The fields of a Jumanji observation node (a named tuple or a chex dataclass)."""
    if hasattr(value, "_fields"):
        return tuple(value._fields)
    if dataclasses.is_dataclass(value):
        return tuple(f.name for f in dataclasses.fields(value))
    raise TypeError(f"JumanjiEnv expects named tuples or dataclasses in observations, got {type(value).__name__}")


class ObsSchema(NamedTuple):
    """How a Jumanji observation becomes ours: named-tuple types that mirror its nesting
    (built once, so every observation has the same pytree structure) and, in the same
    structure, one `Box` per array (bounds from Jumanji's spec)."""

    node_type: Any  # our named tuple type for this node, or None for an array leaf
    children: tuple  # ObsSchema per field (empty for a leaf)
    space: Optional[Box]  # the leaf's bounds (None for a node)


def _schema(spec: Any, example: Any, drop: tuple = (), type_name: str = "Observation",
            unbounded: tuple = (), bounded: bool = True) -> ObsSchema:
    """The schema of an observation node; fields named in `unbounded` (top level) get
    (-inf, inf) bounds instead of the spec's."""
    from jumanji import specs

    if isinstance(spec, specs.Array):
        shape = tuple(example.shape)
        bounds = _spec_bounds(spec, shape) if bounded else (np.full(shape, -np.inf), np.full(shape, np.inf))
        return ObsSchema(None, (), Box(*bounds, shape))
    names = tuple(n for n in _field_names(example) if n not in drop)
    children = tuple(_schema(getattr(spec, n), getattr(example, n), (), f"{type_name}_{n}", (),
                             bounded and n not in unbounded) for n in names)
    return ObsSchema(collections.namedtuple(type_name, names), children, None)


def convert_observation(schema: ObsSchema, value: Any) -> Any:
    """A Jumanji observation (node) as our nested named tuples, without dropped fields."""
    if schema.node_type is None:
        return value
    return schema.node_type(*(convert_observation(child, getattr(value, name))
                              for name, child in zip(schema.node_type._fields, schema.children)))


def schema_space(schema: ObsSchema) -> Space:
    """The structured observation space: nested `Tuple`s of `Box`es, in field order."""
    if schema.node_type is None:
        return schema.space
    return Tuple([schema_space(child) for child in schema.children])


def _leaf_spaces(schema: ObsSchema) -> list:
    if schema.node_type is None:
        return [schema.space]
    return [box for child in schema.children for box in _leaf_spaces(child)]


def flat_space(schema: ObsSchema) -> Box:
    """The flat observation space: every leaf's bounds raveled and concatenated."""
    boxes = _leaf_spaces(schema)
    return Box(np.concatenate([b.low.ravel() for b in boxes]), np.concatenate([b.high.ravel() for b in boxes]))


def unflatten_observation(schema: ObsSchema, flat: jax.Array) -> Any:
    """The inverse of `flatten_observation` (leaves stay float32): a flat observation as the
    nested named tuples of the structured one, for code that reads fields (heuristics)."""
    shapes = [box.shape for box in _leaf_spaces(schema)]
    sizes = [int(np.prod(shape)) for shape in shapes]
    parts = iter(jnp.split(flat, np.cumsum(sizes)[:-1], axis=-1))

    def build(node: ObsSchema) -> Any:
        if node.node_type is None:
            return next(parts).reshape(flat.shape[:-1] + node.space.shape)
        return node.node_type(*(build(child) for child in node.children))

    return build(schema)


def flatten_observation(observation: Any) -> jax.Array:
    """float32[obs_size]: the leaves of a converted observation raveled in field order and
    concatenated (bools as 0/1, ints as floats)."""
    leaves = jax.tree_util.tree_leaves(observation)
    return jnp.concatenate([jnp.ravel(jnp.asarray(x, jnp.float32)) for x in leaves])


def _layout(action_spec: Any, mask_shape: Optional[tuple], mask_kind: Optional[str]) -> ActionLayout:
    from jumanji import specs

    dtype = np.dtype(action_spec.dtype)
    if isinstance(action_spec, specs.DiscreteArray):
        n = int(action_spec.num_values)
        if mask_shape is not None and mask_shape != (n,):
            raise ValueError(f"Jumanji DiscreteArray({n}) with an action mask of shape {mask_shape}; expected ({n},)")
        return ActionLayout("discrete", Discrete(n), (n,), dtype)
    if isinstance(action_spec, specs.MultiDiscreteArray):
        nvec = tuple(int(n) for n in np.asarray(action_spec.num_values).ravel())
    elif isinstance(action_spec, specs.BoundedArray) and np.issubdtype(dtype, np.floating):
        low, high = _spec_bounds(action_spec, tuple(action_spec.shape))
        return ActionLayout("box", Box(low, high), (), dtype)
    elif isinstance(action_spec, specs.BoundedArray) and np.issubdtype(dtype, np.integer):
        low = np.broadcast_to(np.asarray(action_spec.minimum), action_spec.shape)
        high = np.broadcast_to(np.asarray(action_spec.maximum), action_spec.shape)
        if len(action_spec.shape) != 1 or np.any(low != 0):
            raise TypeError(f"JumanjiEnv supports integer BoundedArray actions of rank 1 with minimum 0, got {action_spec!r}")
        nvec = tuple(int(h) + 1 for h in high)
        if mask_shape is not None and len(mask_shape) == 2 and mask_shape[0] == len(nvec) and mask_shape[1] < max(nvec):
            nvec = tuple(min(n, mask_shape[1]) for n in nvec)  # the mask is the tighter range (MultiCVRP)
    else:
        raise TypeError(f"JumanjiEnv does not support the action spec {action_spec!r}")

    if mask_shape is None:
        if mask_kind not in (None, "unmasked"):
            raise ValueError(f"mask_kind={mask_kind!r} given, but the env has no action mask")
        return ActionLayout("unmasked", MultiDiscrete(nvec), nvec, dtype)
    fits_joint = mask_shape == nvec
    fits_rows = mask_shape == (len(nvec), max(nvec))
    if mask_kind is None:
        if fits_joint and fits_rows:
            raise ValueError(
                f"the action mask of shape {mask_shape} over components {nvec} reads both as a joint mask and as "
                f"one row per component; pass mask_kind='joint' or mask_kind='per_dimension'"
            )
        if not (fits_joint or fits_rows):
            raise ValueError(f"an action mask of shape {mask_shape} fits neither the joint shape {nvec} nor "
                             f"one row per component {(len(nvec), max(nvec))}")
        mask_kind = "joint" if fits_joint else "per_dimension"
    if mask_kind == "joint":
        if not fits_joint:
            raise ValueError(f"mask_kind='joint' needs a mask of shape {nvec}, got {mask_shape}")
        return ActionLayout("joint", Discrete(math.prod(nvec)), nvec, dtype)
    if mask_kind == "per_dimension":
        if not fits_rows:
            raise ValueError(f"mask_kind='per_dimension' needs a mask of shape {(len(nvec), max(nvec))}, got {mask_shape}")
        return ActionLayout("per_dimension", MultiDiscrete(nvec), nvec, dtype)
    raise ValueError(f"unknown mask_kind {mask_kind!r}; expected one of {MASK_KINDS}")


@struct.dataclass
class JumanjiEnvState:
    jumanji_state: Any  # the Jumanji env's own state
    mask: Any  # our layout of the current action mask (None without masks)
    time: jax.Array  # int32[] steps taken in this episode


class JumanjiEnv(Environment):
    """Our Environment over a `jumanji.Environment` (see module docstring).

    observation:      "flat" (float32 vector) or "structured" (named tuple of fields)
    keep_mask_in_obs: keep the `action_mask` field in the observation as well
    max_steps:        truncate episodes after this many steps (our time limit, for
                      evaluation and the conformance checks); None takes the env's own
                      `time_limit` when it has one, else no limit
    mask_kind:        "joint" or "per_dimension" to override the reading of a
                      MultiDiscrete mask (see module docstring); None infers it
    unbounded_fields: observation fields whose values leave the bounds Jumanji's spec
                      declares (e.g. TSP's `position` is -1 before the first city); their
                      `Box` bounds become (-inf, inf)
    items:            the task's `ItemsView`, needed by observation="items"
    """

    def __init__(self, jumanji_env: Any, observation: str = "flat", keep_mask_in_obs: bool = False,
                 max_steps: Optional[int] = None, mask_kind: Optional[str] = None,
                 unbounded_fields: tuple = (), items: Optional[ItemsView] = None):
        import_jumanji()
        if observation not in OBSERVATIONS:
            raise ValueError(f"unknown observation={observation!r}; expected one of {OBSERVATIONS}")
        if observation == "items" and items is None:
            raise ValueError(f"observation='items' needs the task's ItemsView; {type(jumanji_env).__name__} has "
                             f"none (envs/jumanji_envs.py defines them for Knapsack-v1 and TSP-v1)")
        self.items = items
        if max_steps is None:
            max_steps = getattr(jumanji_env, "time_limit", None)
        if max_steps is not None and int(max_steps) < 1:
            raise ValueError(f"JumanjiEnv needs max_steps >= 1 or None, got max_steps={max_steps}")
        self.jumanji_env = jumanji_env
        self.observation = observation
        self.max_steps = None if max_steps is None else int(max_steps)

        _, ts = jax.eval_shape(jumanji_env.reset, jax.random.key(0))
        example = ts.observation
        if not hasattr(example, "_fields"):
            raise TypeError(f"JumanjiEnv expects a named-tuple observation, got {type(example).__name__}")
        self.has_mask = MASK_FIELD in example._fields
        mask_shape = tuple(getattr(example, MASK_FIELD).shape) if self.has_mask else None
        self.layout = _layout(jumanji_env.action_spec, mask_shape, mask_kind)
        drop = (MASK_FIELD,) if self.has_mask and not keep_mask_in_obs else ()
        unknown = set(unbounded_fields) - set(example._fields)
        if unknown:
            raise ValueError(f"unbounded_fields {sorted(unknown)} are not observation fields {example._fields}")
        self.schema = _schema(jumanji_env.observation_spec, example, drop, f"{type(example).__name__}Obs",
                              tuple(unbounded_fields))
        if observation == "items":
            shape = jax.eval_shape(lambda o: items.features(convert_observation(self.schema, o)), example).shape
            obs_space = Box(-np.inf, np.inf, tuple(shape))
        else:
            obs_space = flat_space(self.schema) if observation == "flat" else schema_space(self.schema)
        self._spec = EnvSpec(obs_space, self.layout.space, self.max_steps)
        self.name = type(jumanji_env).__name__

    @classmethod
    def from_name(cls, env_id: str, observation: str = "flat", keep_mask_in_obs: bool = False,
                  max_steps: Optional[int] = None, mask_kind: Optional[str] = None,
                  unbounded_fields: tuple = (), **jumanji_kwargs: Any) -> "JumanjiEnv":
        """Builds Jumanji's registered `env_id`; `jumanji_kwargs` go to `jumanji.make`."""
        env = cls(make_jumanji_env(env_id, **jumanji_kwargs), observation=observation,
                  keep_mask_in_obs=keep_mask_in_obs, max_steps=max_steps, mask_kind=mask_kind,
                  unbounded_fields=unbounded_fields)
        env.name = f"jumanji/{env_id}"
        return env

    @property
    def spec(self) -> EnvSpec:
        return self._spec

    @property
    def default_params(self) -> EnvParams:
        return EnvParams()

    # -- translation --
    def to_jumanji_action(self, action: jax.Array) -> jax.Array:
        """Our action as Jumanji's (the joint index unravelled into its components)."""
        kind, dtype = self.layout.kind, self.layout.dtype
        if kind == "joint":
            parts = jnp.unravel_index(jnp.asarray(action, jnp.int32), self.layout.nvec)
            return jnp.stack(parts).astype(dtype)
        return jnp.asarray(action).astype(dtype)

    def to_mask(self, jumanji_mask: jax.Array) -> jax.Array:
        """Jumanji's mask in our action space's layout; a mask (or a per-agent row) that
        allows nothing allows everything instead (see module docstring)."""
        mask = jnp.asarray(jumanji_mask, bool)
        if self.layout.kind == "per_dimension":
            rows = [mask[d, :n] for d, n in enumerate(self.layout.nvec)]
            return jnp.concatenate([row | ~jnp.any(row) for row in rows])
        if self.layout.kind == "joint":
            mask = mask.reshape(-1)
        return mask | ~jnp.any(mask)

    def fields(self, obs: Any) -> Any:
        """An observation of this env as named-tuple fields (flat observations unflattened;
        item observations: the fields their `ItemsView` recovers)."""
        if self.observation == "items":
            return self.items.fields(obs)
        return unflatten_observation(self.schema, obs) if self.observation == "flat" else obs

    def _obs(self, observation: Any) -> Any:
        converted = convert_observation(self.schema, observation)
        if self.observation == "items":
            return self.items.features(converted)
        return flatten_observation(converted) if self.observation == "flat" else converted

    def _mask(self, observation: Any) -> Optional[jax.Array]:
        return self.to_mask(getattr(observation, MASK_FIELD)) if self.has_mask else None

    def _flags(self, jts: Any, time: jax.Array) -> tuple[jax.Array, jax.Array]:
        from jumanji.types import StepType

        last = jts.step_type == StepType.LAST
        terminated = last & jnp.all(jnp.asarray(jts.discount) == 0)
        truncated = last & ~terminated
        if self.max_steps is not None:
            truncated = truncated | ((time >= self.max_steps) & ~terminated)
        return terminated, truncated

    # -- Environment --
    def reset_env(self, key: PRNGKey, params: EnvParams) -> tuple[JumanjiEnvState, TimeStep]:
        jstate, jts = self.jumanji_env.reset(key)
        mask = self._mask(jts.observation)
        ts = TimeStep(
            obs=self._obs(jts.observation),
            reward=jnp.float32(0.0),
            terminated=jnp.bool_(False),
            truncated=jnp.bool_(False),
            action_mask=mask,
            info={INVALID_ACTION: jnp.bool_(False)},
        )
        return JumanjiEnvState(jstate, mask, jnp.int32(0)), ts

    def step_env(self, key: PRNGKey, state: JumanjiEnvState, action: Any, params: EnvParams):
        # Jumanji envs keep their own key in their state; `key` is unused.
        jstate, jts = self.jumanji_env.step(state.jumanji_state, self.to_jumanji_action(action))
        time = state.time + 1
        terminated, truncated = self._flags(jts, time)
        invalid = jnp.bool_(False) if state.mask is None else ~self.layout.space.respects(action, state.mask)
        mask = self._mask(jts.observation)
        ts = TimeStep(
            obs=self._obs(jts.observation),
            reward=jnp.sum(jnp.asarray(jts.reward, jnp.float32)),  # per-agent rewards: the team's sum
            terminated=terminated,
            truncated=truncated,
            action_mask=mask,
            info={INVALID_ACTION: invalid},
        )
        return JumanjiEnvState(jstate, mask, time), ts

    def __repr__(self) -> str:
        return f"JumanjiEnv({self.name}, action={self.layout.kind} {self.layout.space}, obs={self.observation})"
