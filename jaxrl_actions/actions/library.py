"""The transform library. Each rewrites the action space and the mask consistently; a
transform put on a space it cannot take raises a ValueError naming the space when it is
wrapped (before anything compiles).

    rescale(low, high)       Box -> Box, affine
    clip()                   Box -> Box, clips to the inner bounds and mask
    discretize(bins)         Box -> MultiDiscrete([bins] * dim), exact endpoints
    flatten()                MultiDiscrete / MultiBinary -> Discrete(prod(nvec)), row-major
    bang_bang()              Box -> MultiBinary(dim), 0 -> low, 1 -> high
    repeat(k)                any -> same, steps the inner env k times (rewards summed)
    sticky(p)                any -> same, repeats the previous env action with prob p
    invalid_penalty(penalty) any -> same, hides the mask and adds `penalty` to the reward of
                             an invalid action (judged by the env when it reports
                             info[INVALID_ACTION], else by the mask, replacing it)
    interval_mask(prior_fn, width, eps)  Box -> Box with a state-dependent interval mask
                             around a prior's action (CAMEL), eps a probability or an
                             EpsilonMasking schedule
    ray_mask(relevant_fn)    Box -> Box, the env gets the action moved into the state's
                             relevant set along a ray (Stolz et al. 2024)
    generator_mask(relevant_fn, P)  Box -> Box(-1, 1, (P,)), generator space of the set
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl_actions.actions.relevant_sets import (Zonotope, check_full_dimensional, check_zonotope, generator_map,
                                                 ray_map)
from jaxrl_actions.actions.transform import ActionTransform, process
from jaxrl_actions.networks.q_heads import linear_schedule
from jaxrl_actions.spaces import Box, Discrete, MultiBinary, MultiDiscrete, Space, Subset, Tuple
from jaxrl_actions.types import INVALID_ACTION, TimeStep
from jaxrl_actions.wrappers.autoreset import KeepOnReset


# ----------------------------------------------------------------------------- helpers
def _bounded_box(space: Space, what: str) -> Box:
    if not isinstance(space, Box):
        raise ValueError(f"{what} needs a Box action space, got {space}")
    if not space.bounded:
        raise ValueError(f"{what} needs a bounded Box action space (finite low and high), got {space}")
    return space


def _box_dim(space: Box) -> int:
    return int(np.prod(space.shape)) if space.shape else 1


def _select(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    return jax.tree_util.tree_map(lambda t, f: jnp.where(pred, t, f), on_true, on_false)


def _box_mask_or_bounds(space: Box, mask: Any) -> tuple[jax.Array, jax.Array]:
    return space.all_valid_mask() if mask is None else mask


# ----------------------------------------------------------------------------- rescale / clip
def rescale(low: float = -1.0, high: float = 1.0) -> ActionTransform:
    """The agent acts in Box(low, high); x maps affinely onto the inner bounds
    (low -> inner low, high -> inner high). Masks map by the same affine map."""
    low_, high_ = np.float32(low), np.float32(high)
    if not low_ < high_:
        raise ValueError(f"rescale needs low < high, got low={low}, high={high}")

    def space(inner):
        inner = _bounded_box(inner, "rescale")
        return Box(low_, high_, inner.shape)

    def scale(inner):  # inner units per agent unit
        return (jnp.asarray(inner.high) - jnp.asarray(inner.low)) / (high_ - low_)

    def apply(tstate, action, key, inner):
        x = jnp.asarray(inner.low) + (action - low_) * scale(inner)
        return jnp.clip(x, inner.low, inner.high), tstate  # clip guards rounding at the bounds

    def map_mask(mask, inner, tstate):
        if mask is None:
            return None
        s = scale(inner)
        to_agent = lambda v: jnp.where(s > 0, low_ + (v - inner.low) / jnp.where(s > 0, s, 1.0), low_)
        return (jnp.clip(to_agent(mask[0]), low_, high_), jnp.clip(to_agent(mask[1]), low_, high_))

    return ActionTransform(space=space, apply=apply, map_mask=map_mask, name=f"rescale({low:g},{high:g})")


@struct.dataclass
class MaskMemory:
    mask: Any  # the inner mask of the current state (None when the env gives none)


def _remember_mask(tstate, ts: TimeStep, inner):
    return tstate.replace(mask=ts.action_mask), ts


def clip() -> ActionTransform:
    """Clips the agent's action into the inner bounds and, when the env gives one, into
    the current (low, high) mask: a Gaussian policy may then sample out of range."""

    def space(inner):
        if not isinstance(inner, Box):
            raise ValueError(f"clip needs a Box action space, got {inner}")
        return inner

    def apply(tstate, action, key, inner):
        low, high = _box_mask_or_bounds(inner, tstate.mask)
        return jnp.clip(action, low, high), tstate

    def init(key, inner):
        return MaskMemory(mask=None)

    return ActionTransform(space=space, init=init, apply=apply, observe=_remember_mask, name="clip")


# ----------------------------------------------------------------------------- discretize
def _bin_values(inner: Box, bins: int) -> jax.Array:
    """float32[dim, bins]: bin i of dimension d is low + i * (high - low) / (bins - 1), with
    the last bin exactly `high`."""
    low = jnp.asarray(inner.low.reshape(-1))[:, None]
    high = jnp.asarray(inner.high.reshape(-1))[:, None]
    i = jnp.arange(bins, dtype=jnp.float32)[None, :]
    values = low + i * (high - low) / (bins - 1)
    return jnp.where(i == bins - 1, high, values)


def _values_mask(values: jax.Array, low: jax.Array, high: jax.Array) -> jax.Array:
    """bool[dim, n]: which candidate values lie in [low, high] per dimension; where none
    does, the nearest one (so every dimension keeps one valid choice)."""
    low, high = low.reshape(-1)[:, None], high.reshape(-1)[:, None]
    inside = (values >= low) & (values <= high)
    distance = jnp.maximum(jnp.maximum(low - values, values - high), 0.0)
    nearest = jax.nn.one_hot(jnp.argmin(distance, axis=-1), values.shape[-1], dtype=bool)
    return jnp.where(jnp.any(inside, axis=-1, keepdims=True), inside, nearest)


def discretize(bins: int) -> ActionTransform:
    """Box(shape) -> MultiDiscrete([bins] * dim), dim = prod(shape): bin i of a dimension
    is low + i * (high - low) / (bins - 1) (both endpoints exact). A (low, high) mask
    allows the bins inside the interval, or the nearest bin when none is inside."""
    if int(bins) < 2:
        raise ValueError(f"discretize needs bins >= 2, got bins={bins}")
    bins = int(bins)

    def space(inner):
        inner = _bounded_box(inner, "discretize")
        return MultiDiscrete([bins] * _box_dim(inner))

    def apply(tstate, action, key, inner):
        values = _bin_values(inner, bins)  # [dim, bins]
        picked = jnp.take_along_axis(values, action.reshape(-1, 1), axis=-1)[:, 0]
        return picked.reshape(inner.shape), tstate

    def map_mask(mask, inner, tstate):
        if mask is None:
            return None
        return _values_mask(_bin_values(inner, bins), mask[0], mask[1]).reshape(-1)

    return ActionTransform(space=space, apply=apply, map_mask=map_mask, name=f"discretize({bins})")


def bang_bang() -> ActionTransform:
    """Box(shape) -> MultiBinary(dim): 0 -> low, 1 -> high per dimension. A (low, high)
    mask allows the endpoints inside the interval, or the nearer one when neither is."""

    def space(inner):
        inner = _bounded_box(inner, "bang_bang")
        return MultiBinary(_box_dim(inner))

    def endpoints(inner):  # [dim, 2]
        return jnp.stack([jnp.asarray(inner.low.reshape(-1)), jnp.asarray(inner.high.reshape(-1))], -1)

    def apply(tstate, action, key, inner):
        x = jnp.where(action == 1, inner.high.reshape(-1), inner.low.reshape(-1))
        return x.astype(jnp.float32).reshape(inner.shape), tstate

    def map_mask(mask, inner, tstate):
        if mask is None:
            return None
        return _values_mask(endpoints(inner), mask[0], mask[1])

    return ActionTransform(space=space, apply=apply, map_mask=map_mask, name="bang_bang")


# ----------------------------------------------------------------------------- flatten
def _nvec(space: Space) -> Optional[tuple]:
    if isinstance(space, MultiDiscrete):
        return space.nvec
    if isinstance(space, MultiBinary):
        return (2,) * space.n
    return None


def flatten(max_actions: int = 1 << 20) -> ActionTransform:
    """MultiDiscrete(nvec) -> Discrete(prod(nvec)), row-major (the last dimension varies
    fastest); MultiBinary(n) counts as MultiDiscrete([2] * n); Discrete passes through.
    A joint action is valid iff each of its components is valid. `max_actions` guards
    against building an enormous joint mask by accident."""

    def space(inner):
        if isinstance(inner, Discrete):
            return inner
        nvec = _nvec(inner)
        if nvec is None:
            raise ValueError(f"flatten needs a MultiDiscrete, MultiBinary or Discrete action space, got {inner}")
        n = math.prod(nvec)
        if n > max_actions:
            raise ValueError(f"flatten: {inner} has {n} joint actions, above max_actions={max_actions}")
        return Discrete(n)

    def apply(tstate, action, key, inner):
        if isinstance(inner, Discrete):
            return action, tstate
        return unflatten_index(action, _nvec(inner)), tstate

    def map_mask(mask, inner, tstate):
        if mask is None or isinstance(inner, Discrete):
            return mask
        return joint_mask(mask, _nvec(inner))

    return ActionTransform(space=space, apply=apply, map_mask=map_mask, name="flatten")


def unflatten_index(index: jax.Array, nvec: tuple) -> jax.Array:
    """int32[] row-major joint index -> int32[len(nvec)] components."""
    strides = np.cumprod((1,) + tuple(nvec[::-1]))[:-1][::-1].copy()
    return ((index // jnp.asarray(strides)) % jnp.asarray(nvec)).astype(jnp.int32)


def flatten_index(action: jax.Array, nvec: tuple) -> jax.Array:
    """int32[len(nvec)] components -> int32[] row-major joint index."""
    strides = np.cumprod((1,) + tuple(nvec[::-1]))[:-1][::-1].copy()
    return jnp.sum(action * jnp.asarray(strides)).astype(jnp.int32)


def joint_mask(mask: jax.Array, nvec: tuple) -> jax.Array:
    """bool[sum(nvec)] (or bool[n, 2] for MultiBinary) per-dimension mask -> bool[prod(nvec)]
    joint mask (outer AND of the per-dimension masks, row-major)."""
    flat = mask.reshape(-1)
    offsets = np.cumsum((0,) + tuple(nvec[:-1]))
    joint = jnp.ones((), bool)
    for o, n in zip(offsets, nvec):
        joint = joint[..., None] & flat[o:o + n]
    return joint.reshape(-1)


# ----------------------------------------------------------------------------- repeat / sticky
def repeat(k: int) -> ActionTransform:
    """Steps the inner env `k` times with the same action, summing rewards (undiscounted)
    and stopping at the first step that ends the episode; flags, observation, mask and
    info are those of the last step taken."""
    if int(k) < 1:
        raise ValueError(f"repeat needs k >= 1, got k={k}")
    k = int(k)
    t = ActionTransform(name=f"repeat({k})")

    def step(inner_step, inner_state, tstate, action, key, inner):
        keys = jax.random.split(key, k)
        inner_state, ts = inner_step(keys[0], inner_state, action)

        def body(carry, key_i):
            state, last, total = carry
            new_state, new_ts = inner_step(key_i, state, action)
            go = ~last.done  # steps after the episode ended are computed and discarded
            total = total + jnp.where(go, new_ts.reward, 0.0)
            return (_select(go, new_state, state), _select(go, new_ts, last), total), None

        (inner_state, ts, total), _ = jax.lax.scan(body, (inner_state, ts, ts.reward), keys[1:])
        tstate, ts = process(t, tstate, ts._replace(reward=total), inner)
        return inner_state, ts, tstate

    return t._replace(step=step)


@struct.dataclass
class StickyState:
    prev: Any  # previous env action
    has_prev: jax.Array  # bool[] False right after a reset
    mask: Any  # inner mask of the current state


def sticky(p: float) -> ActionTransform:
    """With probability p the inner env receives the previous env action again instead of
    the agent's (sticky actions), when there is one and it is valid in the current state."""
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"sticky needs 0 <= p <= 1, got p={p}")

    def init(key, inner):
        zero = jax.tree_util.tree_map(jnp.zeros_like, inner.sample(key))
        return StickyState(prev=zero, has_prev=jnp.bool_(False), mask=None)

    def apply(tstate, action, key, inner):
        stick = jax.random.bernoulli(key, p) & tstate.has_prev
        if tstate.mask is not None:
            stick = stick & inner.respects(tstate.prev, tstate.mask)
        out = _select(stick, tstate.prev, action)
        return out, tstate.replace(prev=out, has_prev=jnp.bool_(True))

    def observe(tstate, ts, inner):
        return tstate.replace(mask=ts.action_mask), ts

    return ActionTransform(init=init, apply=apply, observe=observe, name=f"sticky({p:g})")


# ----------------------------------------------------------------------------- invalid actions
def first_valid_action(space: Space, mask: Any) -> Any:
    """A valid action chosen deterministically from a mask: the first valid entry per
    dimension (Discrete, MultiDiscrete, MultiBinary), the first k valid items (Subset),
    0 clipped into the interval (Box)."""
    if isinstance(space, Tuple):
        return tuple(first_valid_action(s, m) for s, m in zip(space.spaces, mask))
    if isinstance(space, Box):
        low, high = _box_mask_or_bounds(space, mask)
        return jnp.clip(jnp.zeros(space.shape, jnp.float32), low, high)
    if mask is None:
        return jnp.zeros(space.shape, jnp.int32)
    if isinstance(space, Discrete):
        return jnp.argmax(mask).astype(jnp.int32)
    if isinstance(space, MultiDiscrete):
        return jnp.stack([jnp.argmax(m) for m in space.split_mask(mask)]).astype(jnp.int32)
    if isinstance(space, MultiBinary):
        return jnp.argmax(mask, axis=-1).astype(jnp.int32)
    if isinstance(space, Subset):
        rank = jnp.where(mask, space.n - jnp.arange(space.n), -1)  # earlier valid items rank higher
        return jax.lax.top_k(rank, space.k)[1].astype(jnp.int32)
    raise ValueError(f"first_valid_action: unsupported space {space}")


def is_valid_action(space: Space, action: Any, mask: Any) -> jax.Array:
    """bool[]: the action lies in the space and, when there is a mask, respects it.

    This is the generic, space-level test: for a MultiDiscrete it asks every component to
    be allowed. It is stricter than an env's own rules wherever a component is not read
    (mining's direction of a type not chosen), so `invalid_penalty` lets an env that reports
    `info[INVALID_ACTION]` judge its actions itself."""
    ok = space.contains(action)
    return ok if mask is None else ok & space.respects(action, mask)


@struct.dataclass
class PenaltyState:
    mask: Any  # inner mask of the current state
    replaced: jax.Array  # bool[] the last action was replaced by noop_fn's action
    env_judges: jax.Array  # bool[] the inner env reports info[INVALID_ACTION] (known after reset)


def invalid_penalty(
    penalty: float = -0.1,
    noop_fn: Callable[[Space, Any], Any] = first_valid_action,
) -> ActionTransform:
    """The unmasked baseline to action masking: the agent sees no mask (None), an invalid
    action costs `penalty` (added to the reward) and sets info[INVALID_ACTION].

    Who decides validity (the env decides what its action uses):
    - An inner env whose TimeSteps carry `info[INVALID_ACTION]` judges its own actions: it
      takes any action in its space, does what its rules say with an invalid one (mining:
      a no-op) and reports it. Every action inside the inner space then goes to the env
      unchanged, and the penalty follows the env's flag. This is the contract for envs
      whose mask restricts components an action does not read (mining masks the directions
      of every doable type, but only the chosen type's direction is read), where the mask
      test below would punish valid actions.
    - An env without that key is judged by the mask: an action outside the inner space or
      its mask (`is_valid_action`) is replaced by `noop_fn(inner_space, inner_mask)` before
      the env sees it.
    An action outside the inner space is replaced in both cases (and counts as invalid).
    Which case holds is read from the inner TimeStep's info keys at reset."""
    penalty = float(penalty)

    def init(key, inner):
        return PenaltyState(mask=None, replaced=jnp.bool_(False), env_judges=jnp.bool_(False))

    def apply(tstate, action, key, inner):
        valid = jnp.where(tstate.env_judges, inner.contains(action), is_valid_action(inner, action, tstate.mask))
        out = _select(valid, action, noop_fn(inner, tstate.mask))
        return out, tstate.replace(replaced=~valid)

    def observe(tstate, ts, inner):
        info = dict(ts.info)
        env_judges = INVALID_ACTION in info  # static: the info keys are fixed at trace time
        invalid = tstate.replaced | (jnp.asarray(info[INVALID_ACTION], bool) if env_judges else False)
        info[INVALID_ACTION] = invalid
        ts = ts._replace(reward=ts.reward + jnp.where(invalid, jnp.float32(penalty), 0.0), info=info)
        return tstate.replace(mask=ts.action_mask, env_judges=jnp.bool_(env_judges)), ts

    def map_mask(mask, inner, tstate):
        return None

    return ActionTransform(init=init, apply=apply, map_mask=map_mask, observe=observe, name=f"invalid_penalty({penalty:g})")


# ----------------------------------------------------------------------------- interval masks
@struct.dataclass
class EpsilonMasking:
    """How often a prior's mask is lifted (CAMEL's epsilon-masking, Zhao et al. 2025): the
    mask is off with probability eps(t) = start + (end - start) * min(t / steps, 1), t the
    env steps this env copy has taken (n vectorised copies: n times as many in total).
    per_episode: one draw u ~ U(0, 1) per episode, the mask is off while u < eps(t) (so an
    episode either keeps its mask or, as eps grows, loses it for good); else a fresh draw in
    every state. The step count lives in a `KeepOnReset` node, so `AutoReset` carries it
    across episodes; the first state of an auto-reset episode is built by the reset, before
    the count is carried over, and is judged at eps(0)."""

    start: float = 0.0
    end: float = 1.0
    steps: int = 1
    per_episode: bool = True

    def check(self) -> None:
        if not (0.0 <= self.start <= 1.0 and 0.0 <= self.end <= 1.0):
            raise ValueError(f"EpsilonMasking needs 0 <= start, end <= 1; got start={self.start}, end={self.end}")
        if int(self.steps) < 1:
            raise ValueError(f"EpsilonMasking needs steps >= 1; got steps={self.steps}")

    def value(self, t: jax.Array) -> jax.Array:
        return linear_schedule(self.start, self.end, float(self.steps), t)


@struct.dataclass
class IntervalState:
    key: jax.Array  # draws the all-valid choice for the current state
    low: jax.Array  # float32[*shape] current interval
    high: jax.Array
    episode_draw: jax.Array  # float32[]: u of EpsilonMasking(per_episode=True)
    env_steps: Any  # KeepOnReset(int32[]): steps of this env copy, kept across episodes


def interval_mask(prior_fn: Callable[[Any], jax.Array], width: Any, eps: Any = 0.0) -> ActionTransform:
    """Continuous action masks from a prior policy (CAMEL's mask, Zhao et al. 2025): in each
    state the agent may act in [prior_fn(obs) - width, prior_fn(obs) + width], clipped to the
    bounds and intersected with the env's own mask (the env's mask alone if the two do not
    meet). `eps`: a probability per state of allowing the whole (env-)valid range instead,
    or an `EpsilonMasking` schedule (CAMEL's epsilon-masking). The agent's action is clipped
    into the interval before the env sees it; the continuous agents squash into it."""
    width_ = np.asarray(width, np.float32)
    if np.any(width_ < 0):
        raise ValueError(f"interval_mask needs width >= 0, got width={width}")
    schedule = eps if isinstance(eps, EpsilonMasking) else EpsilonMasking(eps, eps, 1, per_episode=False)
    if not isinstance(eps, EpsilonMasking) and not 0.0 <= float(eps) <= 1.0:
        raise ValueError(f"interval_mask needs 0 <= eps <= 1, got eps={eps}")
    schedule.check()

    def space(inner):
        inner = _bounded_box(inner, "interval_mask")
        np.broadcast_to(width_, inner.shape)  # raises if width cannot broadcast to the action shape
        return inner

    def init(key, inner):
        return IntervalState(key=key, low=jnp.asarray(inner.low), high=jnp.asarray(inner.high),
                             episode_draw=jax.random.uniform(jax.random.fold_in(key, 2)),
                             env_steps=KeepOnReset(jnp.int32(0)))

    def observe(tstate, ts, inner):
        env_low, env_high = _box_mask_or_bounds(inner, ts.action_mask)
        center = jnp.asarray(prior_fn(ts.obs), jnp.float32).reshape(inner.shape)
        low = jnp.maximum(jnp.clip(center - width_, inner.low, inner.high), env_low)
        high = jnp.minimum(jnp.clip(center + width_, inner.low, inner.high), env_high)
        draw = tstate.episode_draw if schedule.per_episode else jax.random.uniform(tstate.key)
        use_env = (draw < schedule.value(tstate.env_steps.value)) | jnp.any(low > high)
        low, high = jnp.where(use_env, env_low, low), jnp.where(use_env, env_high, high)
        return tstate.replace(low=low, high=high), ts

    def apply(tstate, action, key, inner):
        next_key = jax.random.fold_in(tstate.key, 1)  # a fresh draw for the next state
        steps = KeepOnReset(tstate.env_steps.value + 1)
        return jnp.clip(action, tstate.low, tstate.high), tstate.replace(key=next_key, env_steps=steps)

    def map_mask(mask, inner, tstate):
        return (tstate.low, tstate.high)

    return ActionTransform(space=space, init=init, apply=apply, map_mask=map_mask, observe=observe,
                           name=f"interval_mask(width={width}, eps={eps})")


# ----------------------------------------------------------------------------- ray / generator masks
@struct.dataclass
class RelevantSetState:
    zonotope: Zonotope  # the current state's relevant set


def _relevant_set(relevant_fn, obs, action_dim: int, what: str) -> Zonotope:
    z = relevant_fn(obs)
    if not isinstance(z, Zonotope):
        raise TypeError(f"{what}: relevant_fn must return a Zonotope (actions.relevant_sets), got {type(z).__name__}")
    z = Zonotope(jnp.asarray(z.center, jnp.float32), jnp.asarray(z.generators, jnp.float32))
    check_zonotope(z, action_dim, what)
    check_full_dimensional(z, what)
    return z


def _placeholder_set(inner: Box, num_generators: int) -> Zonotope:
    dim = _box_dim(inner)
    return Zonotope(jnp.zeros((dim,), jnp.float32), jnp.zeros((dim, num_generators), jnp.float32))


def ray_mask(relevant_fn: Callable[[Any], Zonotope], num_generators: Optional[int] = None) -> ActionTransform:
    """The ray mask of Stolz et al. (2024): the agent acts in the whole (bounded, 1-D) Box;
    its action moves along the ray from the relevant set's center to the same relative
    depth inside `relevant_fn(obs)` (a full-dimensional Zonotope inside the bounds), which
    the env receives. The agent sees no mask and scores its own action (no correction to
    the policy gradient). num_generators: P of the sets relevant_fn returns (default d)."""

    def space(inner):
        inner = _bounded_box(inner, "ray_mask")
        if len(inner.shape) != 1:
            raise ValueError(f"ray_mask needs a 1-D Box action space, got shape {inner.shape}")
        return inner

    def init(key, inner):
        return RelevantSetState(_placeholder_set(inner, num_generators or _box_dim(inner)))

    def observe(tstate, ts, inner):
        return RelevantSetState(_relevant_set(relevant_fn, ts.obs, _box_dim(inner), "ray_mask")), ts

    def apply(tstate, action, key, inner):
        return ray_map(tstate.zonotope, inner.low, inner.high, action), tstate

    def map_mask(mask, inner, tstate):
        return None

    return ActionTransform(space=space, init=init, apply=apply, map_mask=map_mask, observe=observe, name="ray_mask")


def generator_mask(relevant_fn: Callable[[Any], Zonotope], num_generators: int) -> ActionTransform:
    """The generator mask of Stolz et al. (2024): the agent acts in generator space
    Box(-1, 1, (num_generators,)); the env receives c + G clip(lam, -1, 1) of the state's
    relevant set `relevant_fn(obs)` (a Zonotope with `num_generators` generators inside
    the bounds). The agent sees no mask; its log-prob is in generator space."""
    if int(num_generators) < 1:
        raise ValueError(f"generator_mask needs num_generators >= 1, got {num_generators}")

    def space(inner):
        inner = _bounded_box(inner, "generator_mask")
        if len(inner.shape) != 1 or num_generators < inner.shape[0]:
            raise ValueError(f"generator_mask needs a 1-D Box and num_generators >= its {inner.shape} dimensions; "
                             f"got num_generators={num_generators}")
        return Box(-np.ones(num_generators, np.float32), np.ones(num_generators, np.float32))

    def init(key, inner):
        return RelevantSetState(_placeholder_set(inner, num_generators))

    def observe(tstate, ts, inner):
        z = _relevant_set(relevant_fn, ts.obs, _box_dim(inner), "generator_mask")
        if z.num_generators != num_generators:
            raise ValueError(f"generator_mask(num_generators={num_generators}): relevant_fn returned "
                             f"{z.num_generators} generators")
        return RelevantSetState(z), ts

    def apply(tstate, action, key, inner):
        return generator_map(tstate.zonotope, action), tstate

    def map_mask(mask, inner, tstate):
        return None

    return ActionTransform(space=space, init=init, apply=apply, map_mask=map_mask, observe=observe,
                           name=f"generator_mask({num_generators})")
