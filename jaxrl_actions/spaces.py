"""Action and observation spaces.

A space is a static, hashable Python object (safe as a `jit` static argument). Each has
`shape`, `dtype`, `mask_shape` (the shape of the boolean action mask it uses, or None for
Box, whose state-dependent mask is a `(low, high)` pair), `sample(key, mask=None)`,
`contains(x)` (a traceable bool), `mask_has_valid(mask)` and `respects(x, mask)`.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_actions.types import host_value

Array = jax.Array


class Space:
    shape: tuple
    dtype: Any
    mask_shape: Optional[tuple]

    def sample(self, key: Array, mask: Any = None) -> Any:
        raise NotImplementedError

    def contains(self, x: Any) -> Array:
        raise NotImplementedError

    def all_valid_mask(self) -> Any:
        """The mask that allows every action."""
        return jnp.ones(self.mask_shape, bool)

    def mask_has_valid(self, mask: Any) -> Array:
        """True when the mask leaves at least one action to take."""
        return jnp.any(mask)

    def respects(self, x: Any, mask: Any) -> Array:
        """True when action `x` is allowed by `mask`."""
        raise NotImplementedError

    def check_mask_shape(self, mask: Any) -> None:
        """Raises a ValueError naming expected and actual shapes (trace time)."""
        if mask is None:
            return
        if tuple(np.shape(mask))[-len(self.mask_shape):] != tuple(self.mask_shape):
            raise ValueError(f"{self}: action mask has shape {np.shape(mask)}, expected {self.mask_shape}")

    # Spaces are value objects: equal when their defining fields are equal.
    def _key(self) -> tuple:
        raise NotImplementedError

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))


def _masked_logits(mask: Array) -> Array:
    return jnp.where(mask, 0.0, -jnp.inf)


class Discrete(Space):
    """One of `n` actions, int32[]. Mask: bool[n]."""

    def __init__(self, n: int):
        if int(n) < 1:
            raise ValueError(f"Discrete needs n >= 1, got n={n}")
        self.n = int(n)
        self.shape = ()
        self.dtype = jnp.int32
        self.mask_shape = (self.n,)

    def _key(self):
        return (self.n,)

    def __repr__(self):
        return f"Discrete({self.n})"

    def sample(self, key, mask=None):
        if mask is None:
            return jax.random.randint(key, (), 0, self.n, jnp.int32)
        return jax.random.categorical(key, _masked_logits(mask)).astype(jnp.int32)

    def contains(self, x):
        x = jnp.asarray(x)
        return (x.shape == ()) & (x >= 0) & (x < self.n)

    def respects(self, x, mask):
        return mask[x]


class MultiDiscrete(Space):
    """One choice per dimension, int32[len(nvec)]. Mask: bool[sum(nvec)], dimension
    d's entries at offsets[d]:offsets[d] + nvec[d]."""

    def __init__(self, nvec: Sequence[int]):
        nvec = tuple(int(n) for n in np.atleast_1d(np.asarray(nvec)))
        if len(nvec) == 0 or min(nvec) < 1:
            raise ValueError(f"MultiDiscrete needs a non-empty nvec of positive sizes, got nvec={nvec}")
        self.nvec = nvec
        self.shape = (len(nvec),)
        self.dtype = jnp.int32
        self.mask_shape = (sum(nvec),)
        self.offsets = tuple(int(o) for o in np.cumsum((0,) + nvec[:-1]))

    def _key(self):
        return self.nvec

    def __repr__(self):
        return f"MultiDiscrete({list(self.nvec)})"

    @property
    def num_actions(self) -> int:
        return math.prod(self.nvec)

    def split_mask(self, mask: Array) -> list:
        """Per-dimension masks: [bool[nvec[0]], bool[nvec[1]], ...]."""
        return [mask[..., o:o + n] for o, n in zip(self.offsets, self.nvec)]

    def sample(self, key, mask=None):
        keys = jax.random.split(key, len(self.nvec))
        if mask is None:
            parts = [jax.random.randint(k, (), 0, n, jnp.int32) for k, n in zip(keys, self.nvec)]
        else:
            parts = [jax.random.categorical(k, _masked_logits(m)) for k, m in zip(keys, self.split_mask(mask))]
        return jnp.stack(parts).astype(jnp.int32)

    def contains(self, x):
        x = jnp.asarray(x)
        if x.shape != self.shape:
            return jnp.bool_(False)
        return jnp.all((x >= 0) & (x < jnp.asarray(self.nvec)))

    def mask_has_valid(self, mask):
        return jnp.all(jnp.stack([jnp.any(m) for m in self.split_mask(mask)]))

    def respects(self, x, mask):
        return jnp.all(mask[jnp.asarray(self.offsets) + x])


class Box(Space):
    """Continuous float32 vector in [low, high]. State-dependent mask: a (low, high) pair
    of float32 arrays of the space's shape that narrows the interval."""

    def __init__(self, low, high, shape: Optional[Sequence[int]] = None):
        if shape is None:
            shape = np.broadcast(np.asarray(low), np.asarray(high)).shape
        self.shape = tuple(int(s) for s in shape)
        self.low = np.broadcast_to(np.asarray(low, np.float32), self.shape).copy()
        self.high = np.broadcast_to(np.asarray(high, np.float32), self.shape).copy()
        if np.any(self.low > self.high):
            raise ValueError(f"Box needs low <= high, got low={self.low.tolist()} high={self.high.tolist()}")
        self.dtype = jnp.float32
        self.mask_shape = None

    def _key(self):
        return (self.shape, self.low.tobytes(), self.high.tobytes())

    def __repr__(self):
        if self.low.size and np.all(self.low == self.low.flat[0]) and np.all(self.high == self.high.flat[0]):
            return f"Box({self.low.flat[0]:g}, {self.high.flat[0]:g}, {self.shape})"
        return f"Box(low={self.low.tolist()}, high={self.high.tolist()})"

    @property
    def bounded(self) -> bool:
        return bool(np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high)))

    def all_valid_mask(self):
        return (jnp.asarray(self.low), jnp.asarray(self.high))

    def sample(self, key, mask=None):
        low, high = self.all_valid_mask() if mask is None else mask
        low = jnp.where(jnp.isfinite(low), low, -1.0)
        high = jnp.where(jnp.isfinite(high), high, 1.0)
        return jax.random.uniform(key, self.shape, jnp.float32, low, high)

    def contains(self, x):
        x = jnp.asarray(x)
        if x.shape != self.shape:
            return jnp.bool_(False)
        return jnp.all((x >= self.low) & (x <= self.high))

    def mask_has_valid(self, mask):
        low, high = mask
        return jnp.all(low <= high)

    def respects(self, x, mask):
        low, high = mask
        return jnp.all((x >= low) & (x <= high))

    def check_mask_shape(self, mask):
        if mask is None:
            return
        if not (isinstance(mask, (tuple, list)) and len(mask) == 2):
            raise ValueError(f"{self}: a Box mask is a (low, high) pair, got {type(mask).__name__}")
        for part in mask:
            if tuple(np.shape(part))[-len(self.shape):] != self.shape and self.shape:
                raise ValueError(f"{self}: mask bound has shape {np.shape(part)}, expected {self.shape}")


class MultiBinary(Space):
    """n independent on/off choices, int32[n] in {0, 1}. Mask: bool[n, 2] (which of
    0 and 1 each dimension may take)."""

    def __init__(self, n: int):
        if int(n) < 1:
            raise ValueError(f"MultiBinary needs n >= 1, got n={n}")
        self.n = int(n)
        self.shape = (self.n,)
        self.dtype = jnp.int32
        self.mask_shape = (self.n, 2)

    def _key(self):
        return (self.n,)

    def __repr__(self):
        return f"MultiBinary({self.n})"

    def sample(self, key, mask=None):
        if mask is None:
            return jax.random.bernoulli(key, 0.5, self.shape).astype(jnp.int32)
        return jax.random.categorical(key, _masked_logits(mask), axis=-1).astype(jnp.int32)

    def contains(self, x):
        x = jnp.asarray(x)
        if x.shape != self.shape:
            return jnp.bool_(False)
        return jnp.all((x == 0) | (x == 1))

    def mask_has_valid(self, mask):
        return jnp.all(jnp.any(mask, axis=-1))

    def respects(self, x, mask):
        return jnp.all(jnp.take_along_axis(mask, x[:, None], axis=-1))


class Subset(Space):
    """k distinct items out of n, int32[k] (item indices, in any order). Mask: bool[n]
    (items that may be chosen); a valid mask allows at least k items."""

    def __init__(self, n: int, k: int):
        n, k = int(n), int(k)
        if k < 1 or n < 1 or k > n:
            raise ValueError(f"Subset needs 1 <= k <= n, got n={n}, k={k}")
        self.n, self.k = n, k
        self.shape = (k,)
        self.dtype = jnp.int32
        self.mask_shape = (n,)

    def _key(self):
        return (self.n, self.k)

    def __repr__(self):
        return f"Subset(n={self.n}, k={self.k})"

    def sample(self, key, mask=None):
        # Gumbel top-k: k distinct items, uniformly among the allowed ones.
        scores = jax.random.gumbel(key, (self.n,))
        if mask is not None:
            scores = jnp.where(mask, scores, -jnp.inf)
        return jax.lax.top_k(scores, self.k)[1].astype(jnp.int32)

    def contains(self, x):
        x = jnp.asarray(x)
        if x.shape != self.shape:
            return jnp.bool_(False)
        in_range = jnp.all((x >= 0) & (x < self.n))
        distinct = jnp.sum(jax.nn.one_hot(x, self.n), axis=0).max() <= 1
        return in_range & distinct

    def mask_has_valid(self, mask):
        return jnp.sum(mask) >= self.k

    def respects(self, x, mask):
        return jnp.all(mask[x])


class Tuple(Space):
    """A tuple of spaces, e.g. a parameterised action (Discrete choice, Box parameters).
    Actions, masks and shapes are tuples with one entry per part."""

    def __init__(self, spaces: Sequence[Space]):
        spaces = tuple(spaces)
        if not spaces or not all(isinstance(s, Space) for s in spaces):
            raise ValueError(f"Tuple needs a non-empty sequence of spaces, got {spaces!r}")
        self.spaces = spaces
        self.shape = tuple(s.shape for s in spaces)
        self.dtype = tuple(s.dtype for s in spaces)
        self.mask_shape = tuple(s.mask_shape for s in spaces)

    def _key(self):
        return self.spaces

    def __repr__(self):
        return f"Tuple({', '.join(map(repr, self.spaces))})"

    def all_valid_mask(self):
        return tuple(s.all_valid_mask() for s in self.spaces)

    def sample(self, key, mask=None):
        keys = jax.random.split(key, len(self.spaces))
        masks = mask if mask is not None else (None,) * len(self.spaces)
        return tuple(s.sample(k, m) for s, k, m in zip(self.spaces, keys, masks))

    def contains(self, x):
        if not isinstance(x, (tuple, list)) or len(x) != len(self.spaces):
            return jnp.bool_(False)
        return jnp.all(jnp.stack([s.contains(xi) for s, xi in zip(self.spaces, x)]))

    def mask_has_valid(self, mask):
        return jnp.all(jnp.stack([s.mask_has_valid(m) for s, m in zip(self.spaces, mask)]))

    def respects(self, x, mask):
        return jnp.all(jnp.stack([s.respects(xi, m) for s, xi, m in zip(self.spaces, x, mask)]))

    def check_mask_shape(self, mask):
        if mask is None:
            return
        for s, m in zip(self.spaces, mask):
            s.check_mask_shape(m)


def check_action(space: Space, action: Any, where: str = "step") -> None:
    """Trace-time check of an action's structure, shape and dtype kind against a space.
    Raises TypeError/ValueError naming expected and actual."""
    if isinstance(space, Tuple):
        if not isinstance(action, (tuple, list)) or len(action) != len(space.spaces):
            raise TypeError(f"{where}: action for {space} must be a tuple of {len(space.spaces)} parts, got {type(action).__name__}")
        for s, a in zip(space.spaces, action):
            check_action(s, a, where)
        return
    shape = tuple(np.shape(action))
    if shape != tuple(space.shape):
        raise ValueError(f"{where}: action for {space} must have shape {space.shape}, got shape {shape}")
    dtype = jnp.result_type(action)
    want_float = isinstance(space, Box)
    if want_float and not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{where}: action for {space} must be floating point (float32), got dtype {dtype}")
    if not want_float and not (jnp.issubdtype(dtype, jnp.integer) or dtype == jnp.bool_):
        raise TypeError(f"{where}: action for {space} must be an integer dtype (int32), got dtype {dtype}")
    concrete = host_value(action)  # None under jit: the training loops' error flag checks ranges there
    if not want_float and concrete is not None:
        with jax.ensure_compile_time_eval():  # a constant inside a traced function: check it now
            inside = bool(np.all(space.contains(concrete)))
        if not inside:
            raise ValueError(f"{where}: action {concrete.tolist()} is outside {space}")


def check_mask(space: Space, mask: Any, where: str = "act") -> None:
    """Checks a mask before it is used: its shape at trace time (a ValueError naming the
    mask's shape and the expected one), and, when the mask is concrete (outside jit), that
    it leaves an action to take. Inside jit an empty mask cannot raise; the training loops
    report it through their checked error flag, and `space.mask_has_valid(mask)` is the
    flag a caller can test itself."""
    if mask is None:
        return
    try:
        space.check_mask_shape(mask)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    concrete = host_value(mask) if not isinstance(mask, (tuple, list)) else None
    if concrete is not None and concrete.ndim == len(space.mask_shape):
        with jax.ensure_compile_time_eval():
            empty = not bool(space.mask_has_valid(concrete))
        if empty:
            raise ValueError(f"{where}: the action mask for {space} allows no action (all False)")


def obs_size(space: Space) -> int:
    """Number of scalars in a flat observation of this space."""
    if isinstance(space, Tuple):
        return sum(obs_size(s) for s in space.spaces)
    return int(np.prod(space.shape)) if space.shape else 1
