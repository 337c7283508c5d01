"""Relevant action sets for continuous action masking (Stolz et al., "Excluding the
Irrelevant: Focusing Reinforcement Learning through Continuous Action Masking", NeurIPS
2024) and the maps that put an agent's action inside one.

A relevant set is a zonotope Z = {c + G lam : ||lam||_inf <= 1}, with center c [d] and
generators G [d, P]: a box is the zonotope with G = diag(half-widths). A prior's band
(CAMEL's mask, `band`) is such a box. Zonotopes must be full-dimensional (G of rank d).

    ray_map(Z, low, high, a)   the ray mask: a in the box [low, high] moves along the ray
                               from c through a, to the same fraction of Z's boundary as it
                               had of the box's (c -> c, the box's boundary -> Z's boundary)
    generator_map(Z, lam)      the generator mask: lam in [-1, 1]^P -> c + G lam

Both maps are bijections onto Z that do not depend on the policy's parameters, so the
policy gradient needs no correction: the agent scores its own action (in the box, or in
generator space) as if the map were part of the env (Stolz et al., Sec. 4). The third
form, the distributional mask, renormalises the policy on the set instead; for interval
sets it is `networks.heads.TruncatedNormal`.

`gauge(Z, v)` (the Minkowski functional of Z - c: the least t with c + v / t in Z) is exact
for any full-dimensional zonotope: Z's facets have the normals of all (d-1)-subsets of
generators (their generalised cross products), so gauge = max over those normals n of
|n . v| / sum_j |n . g_j|.
"""
from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@struct.dataclass
class Zonotope:
    center: jax.Array  # float32[d]
    generators: jax.Array  # float32[d, P]

    @property
    def dim(self) -> int:
        return self.generators.shape[-2]

    @property
    def num_generators(self) -> int:
        return self.generators.shape[-1]


def box(low, high) -> Zonotope:
    """The box [low, high] as a zonotope (one generator per dimension)."""
    low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
    return Zonotope(center=(low + high) / 2.0, generators=jnp.diag((high - low) / 2.0))


def band(prior_action, half_width, low, high) -> Zonotope:
    """CAMEL's mask: the box prior_action +- half_width, clipped to the action bounds
    [low, high]. The prior action is clipped into the bounds first, so the band always has
    width > 0 in every dimension when half_width > 0."""
    low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
    prior = jnp.clip(jnp.asarray(prior_action, jnp.float32), low, high)
    return box(jnp.maximum(prior - half_width, low), jnp.minimum(prior + half_width, high))


def check_zonotope(z: Zonotope, action_dim: int, what: str) -> None:
    """Shapes only (values are traced): center [d], generators [d, P] with P >= d."""
    if z.center.shape != (action_dim,) or z.generators.ndim != 2 or z.generators.shape[0] != action_dim:
        raise ValueError(f"{what}: the relevant set must be a Zonotope with center [{action_dim}] and generators "
                         f"[{action_dim}, P]; got center {z.center.shape}, generators {z.generators.shape}")
    if z.generators.shape[1] < action_dim:
        raise ValueError(f"{what}: a zonotope in {action_dim} dimensions needs at least {action_dim} generators "
                         f"to be full-dimensional; got {z.generators.shape[1]}")


def check_full_dimensional(z: Zonotope, what: str) -> None:
    """Where the generators are concrete (an eager call, e.g. `env.reset` outside jit), a
    zonotope of rank < d is refused: it has no interior, so no ray or density lives in it."""
    try:
        generators = np.asarray(z.generators)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return  # traced: checked only where concrete
    if generators.ndim == 2 and np.linalg.matrix_rank(generators) < generators.shape[0]:
        raise ValueError(f"{what}: the relevant set is degenerate (generators of rank "
                         f"{np.linalg.matrix_rank(generators)} < {generators.shape[0]} dimensions): {generators.tolist()}")


def facet_normals(generators: jax.Array) -> jax.Array:
    """[F, d]: the generalised cross product of every (d-1)-subset of the generators
    (F = C(P, d-1)); zero rows for subsets that do not span a hyperplane."""
    d, p = generators.shape
    if d == 1:
        return jnp.ones((1, 1), generators.dtype)
    subsets = np.asarray(list(itertools.combinations(range(p), d - 1)))  # static [F, d-1]
    columns = generators[:, subsets].transpose(1, 0, 2)  # [F, d, d-1]
    rows = np.asarray([[r for r in range(d) if r != k] for k in range(d)])  # rows kept per component
    signs = jnp.asarray([(-1.0) ** k for k in range(d)], generators.dtype)
    minors = jnp.linalg.det(columns[:, rows, :])  # [F, d]: det of the minor without row k
    return signs * minors


def gauge(z: Zonotope, v: jax.Array) -> jax.Array:
    """min {t >= 0 : v in t (Z - c)}; 0 at v = 0."""
    normals = facet_normals(z.generators)
    support = jnp.sum(jnp.abs(normals @ z.generators), axis=-1)  # [F] half-widths along each normal
    ratio = jnp.abs(normals @ v) / jnp.where(support > 0, support, 1.0)
    return jnp.max(jnp.where(support > 0, ratio, 0.0))


def box_gauge(center: jax.Array, low: jax.Array, high: jax.Array, v: jax.Array) -> jax.Array:
    """The gauge of the box [low, high] seen from `center` (inside it)."""
    up = v / jnp.maximum(high - center, 1e-12)
    down = -v / jnp.maximum(center - low, 1e-12)
    return jnp.max(jnp.maximum(up, down))


def ray_map(z: Zonotope, low, high, action: jax.Array) -> jax.Array:
    """The ray mask g(a) = c + v * box_gauge(v) / gauge_Z(v), v = clip(a) - c."""
    low, high = jnp.asarray(low, jnp.float32), jnp.asarray(high, jnp.float32)
    v = jnp.clip(action, low, high) - z.center
    moved = jnp.any(v != 0)
    safe_v = jnp.where(moved, v, jnp.ones_like(v))  # keeps the gradient finite at a = c
    scale = box_gauge(z.center, low, high, safe_v) / jnp.maximum(gauge(z, safe_v), 1e-12)
    return jnp.where(moved, z.center + safe_v * scale, z.center)


def generator_map(z: Zonotope, latent: jax.Array) -> jax.Array:
    """The generator mask: c + G clip(lam, -1, 1)."""
    return z.center + z.generators @ jnp.clip(latent, -1.0, 1.0)
