"""Mask-aware policy heads: one distribution per action space.

`PolicyHead(space)` maps torso features to distribution parameters; `distribution(space,
params, mask)` turns them into a distribution object. All functions work on ONE
observation (vmap for batches). Each distribution has

    sample(key) -> raw          log_prob(raw) -> float32[]     entropy() -> float32[]
    mode() -> raw               to_action(raw) -> action in the space

`raw` is what the policy samples and scores: the action itself for discrete spaces,
the pre-squash Gaussian sample for Box (log-probs of squashed actions would need atanh
at the bounds; the Jacobian cancels in likelihood ratios anyway).

Masks: a masked action has probability exactly 0 (its logit is replaced by a large
negative constant, so exp underflows to 0 without producing NaN in p*log p), it is never
sampled, and log-prob/entropy are over the valid actions only, i.e. renormalised, per
dimension for MultiDiscrete and MultiBinary. `mask_in_gradient=False` applies the mask
when sampling only (the "no_adj" variant of the masking literature): log-probs and
entropy then use the unmasked logits.

Box actions have two distributions (`box_distribution`):
  "tanh_gaussian"     a Gaussian squashed by tanh into the (low, high) mask (the default)
  "truncated_normal"  the distributional mask of Stolz et al. (NeurIPS 2024): a Gaussian
                      over the action space (mean and std in the space's half-range units)
                      renormalised on the relevant interval (low, high); its log-prob
                      includes the normaliser log Z, so the policy gradient is exact
"""
from __future__ import annotations

from typing import Any, Optional

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.scipy.special import log_ndtr, ndtri

from jaxrl_actions import spaces
from jaxrl_actions.networks.mlp import orthogonal

MASKED_LOGIT = -1e9  # exp(MASKED_LOGIT - max) == 0.0 exactly in float32


def mask_logits(logits: jax.Array, mask: Optional[jax.Array]) -> jax.Array:
    return logits if mask is None else jnp.where(mask, logits, MASKED_LOGIT)


@struct.dataclass
class Categorical:
    """A masked categorical over the last axis; leading axes are independent dimensions
    whose log-probs and entropies are summed (MultiBinary: [n, 2])."""

    logits: jax.Array  # [..., n], already masked for sampling
    score_logits: jax.Array  # [..., n], what log_prob/entropy use

    def _dist(self, logits):
        return distrax.Categorical(logits=logits)

    def sample(self, key):
        return self._dist(self.logits).sample(seed=key).astype(jnp.int32)

    def log_prob(self, raw):
        return jnp.sum(self._dist(self.score_logits).log_prob(raw))

    def entropy(self):
        return jnp.sum(self._dist(self.score_logits).entropy())

    def mode(self):
        return jnp.argmax(self.logits, axis=-1).astype(jnp.int32)

    def to_action(self, raw):
        return raw


@struct.dataclass
class Factorised:
    """Independent masked categoricals, one per MultiDiscrete dimension."""

    parts: tuple  # of Categorical

    def sample(self, key):
        keys = jax.random.split(key, len(self.parts))
        return jnp.stack([p.sample(k) for p, k in zip(self.parts, keys)])

    def log_prob(self, raw):
        return jnp.sum(self.component_log_probs(raw))

    def component_log_probs(self, raw):
        """float32[C]: each dimension's log-probability (their sum is `log_prob`)."""
        return jnp.stack([p.log_prob(raw[i]) for i, p in enumerate(self.parts)])

    def entropy(self):
        return sum(p.entropy() for p in self.parts)

    def mode(self):
        return jnp.stack([p.mode() for p in self.parts])

    def to_action(self, raw):
        return raw


@struct.dataclass
class PlackettLuce:
    """k distinct items drawn without replacement in proportion to exp(logits) among the
    allowed items (Subset spaces). Sampling is Gumbel top-k; `raw` is the ordered draw.
    The entropy is that of the first draw (the exact one has no closed form); it is only
    used as an exploration bonus."""

    logits: jax.Array  # [n], masked for sampling
    score_logits: jax.Array  # [n]
    k: int = struct.field(pytree_node=False)

    def sample(self, key):
        scores = self.logits + jax.random.gumbel(key, self.logits.shape)
        return jax.lax.top_k(scores, self.k)[1].astype(jnp.int32)

    def log_prob(self, raw):
        def pick(remaining_logits, item):
            lp = remaining_logits[item] - jax.nn.logsumexp(remaining_logits)
            return remaining_logits.at[item].set(MASKED_LOGIT), lp

        _, lps = jax.lax.scan(pick, self.score_logits, raw)
        return jnp.sum(lps)

    def entropy(self):
        return distrax.Categorical(logits=self.score_logits).entropy()

    def mode(self):
        return jax.lax.top_k(self.logits, self.k)[1].astype(jnp.int32)

    def to_action(self, raw):
        return raw


@struct.dataclass
class TanhGaussian:
    """Diagonal Gaussian squashed by tanh into [low, high] (the space's bounds, or the
    state-dependent (low, high) mask). Log-prob and entropy are those of the Gaussian."""

    mean: jax.Array
    log_std: jax.Array
    low: jax.Array
    high: jax.Array

    def _dist(self):
        return distrax.MultivariateNormalDiag(self.mean, jnp.exp(self.log_std))

    def sample(self, key):
        return self._dist().sample(seed=key)

    def log_prob(self, raw):
        return self._dist().log_prob(raw)

    def entropy(self):
        return self._dist().entropy()

    def mode(self):
        return self.mean

    def to_action(self, raw):
        unit = (jnp.tanh(raw) + 1.0) / 2.0
        return self.low + unit * (self.high - self.low)


def _left_of_the_mean(alpha: jax.Array, beta: jax.Array):
    """(mirrored, lo, hi): the standardised interval [alpha, beta] mirrored to [-beta, -alpha]
    where it lies right of the mean, so Phi is evaluated in its accurate (left) tail."""
    mirrored = alpha > 0
    return mirrored, jnp.where(mirrored, -beta, alpha), jnp.where(mirrored, -alpha, beta)


def _log_diff_ndtr(alpha: jax.Array, beta: jax.Array) -> jax.Array:
    """log(Phi(beta) - Phi(alpha)) for alpha <= beta, accurate in both tails (mirrored, the
    same difference is Phi(-alpha) - Phi(-beta))."""
    _, lo, hi = _left_of_the_mean(alpha, beta)
    log_hi, log_lo = log_ndtr(hi), log_ndtr(lo)
    return log_hi + jnp.log1p(-jnp.exp(jnp.minimum(log_lo - log_hi, -1e-7)))


@struct.dataclass
class TruncatedNormal:
    """Independent normals N(loc, scale) per dimension, each renormalised on [low, high]
    (the distributional mask). `raw` is the action itself. Sampling is the inverse CDF,
    computed on the mirrored side when the interval lies right of the mean (so both tails
    keep their precision); a draw is clipped into [low, high] against float rounding."""

    loc: jax.Array
    scale: jax.Array
    low: jax.Array
    high: jax.Array

    def _standard(self):
        return (self.low - self.loc) / self.scale, (self.high - self.loc) / self.scale

    def log_normaliser(self) -> jax.Array:
        """log Z per dimension: log P(low <= x <= high) under N(loc, scale)."""
        return _log_diff_ndtr(*self._standard())

    def sample(self, key):
        mirrored, lo, hi = _left_of_the_mean(*self._standard())
        u = jax.random.uniform(key, jnp.shape(self.loc))
        cdf_lo, cdf_hi = jnp.exp(log_ndtr(lo)), jnp.exp(log_ndtr(hi))
        z = ndtri(jnp.clip(cdf_lo + u * (cdf_hi - cdf_lo), 1e-37, 1.0 - 1e-7))
        z = jnp.where(mirrored, -z, z)
        return jnp.clip(self.loc + self.scale * z, self.low, self.high)

    def log_prob(self, raw):
        z = (raw - self.loc) / self.scale
        log_density = -0.5 * jnp.square(z) - 0.5 * jnp.log(2.0 * jnp.pi) - jnp.log(self.scale)
        return jnp.sum(log_density - self.log_normaliser())

    def entropy(self):
        alpha, beta = self._standard()
        log_z = self.log_normaliser()
        # (alpha phi(alpha) - beta phi(beta)) / Z, with phi / Z formed in log space
        def phi_over_z(x):
            return jnp.exp(-0.5 * jnp.square(x) - 0.5 * jnp.log(2.0 * jnp.pi) - log_z)
        tail = alpha * phi_over_z(alpha) - beta * phi_over_z(beta)
        return jnp.sum(0.5 * jnp.log(2.0 * jnp.pi * jnp.e) + jnp.log(self.scale) + log_z + 0.5 * tail)

    def mode(self):
        return jnp.clip(self.loc, self.low, self.high)

    def to_action(self, raw):
        return raw


@struct.dataclass
class Product:
    """Tuple spaces: independent parts, raw actions are tuples."""

    parts: tuple

    def sample(self, key):
        keys = jax.random.split(key, len(self.parts))
        return tuple(p.sample(k) for p, k in zip(self.parts, keys))

    def log_prob(self, raw):
        return sum(p.log_prob(r) for p, r in zip(self.parts, raw))

    def entropy(self):
        return sum(p.entropy() for p in self.parts)

    def mode(self):
        return tuple(p.mode() for p in self.parts)

    def to_action(self, raw):
        return tuple(p.to_action(r) for p, r in zip(self.parts, raw))


def head_size(space: spaces.Space) -> int:
    """Number of outputs the torso's last layer needs for this space."""
    if isinstance(space, spaces.Discrete):
        return space.n
    if isinstance(space, spaces.MultiDiscrete):
        return sum(space.nvec)
    if isinstance(space, spaces.MultiBinary):
        return 2 * space.n
    if isinstance(space, spaces.Subset):
        return space.n
    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape)) if space.shape else 1
    if isinstance(space, spaces.Tuple):
        return sum(head_size(s) for s in space.spaces)
    raise TypeError(f"no policy head for space {space!r}")


BOX_DISTRIBUTIONS = ("tanh_gaussian", "truncated_normal")


def distribution(space: spaces.Space, outputs: jax.Array, log_std: Any, mask: Any = None,
                 mask_in_gradient: bool = True, box_distribution: str = "tanh_gaussian"):
    """Builds the distribution from the head's flat outputs (float[head_size(space)]).
    A mask of the wrong shape, or a concrete all-False one, raises (spaces.check_mask)."""
    spaces.check_mask(space, mask, "policy")
    if box_distribution not in BOX_DISTRIBUTIONS:
        raise ValueError(f"box_distribution={box_distribution!r}; expected one of {BOX_DISTRIBUTIONS}")

    def categorical(logits, m):
        masked = mask_logits(logits, m)
        return Categorical(masked, masked if mask_in_gradient else logits)

    if isinstance(space, spaces.Discrete):
        return categorical(outputs, mask)
    if isinstance(space, spaces.MultiDiscrete):
        masks = space.split_mask(mask) if mask is not None else [None] * len(space.nvec)
        logits = [outputs[o:o + n] for o, n in zip(space.offsets, space.nvec)]
        return Factorised(tuple(categorical(l, m) for l, m in zip(logits, masks)))
    if isinstance(space, spaces.MultiBinary):
        return categorical(outputs.reshape(space.n, 2), mask)
    if isinstance(space, spaces.Subset):
        masked = mask_logits(outputs, mask)
        return PlackettLuce(masked, masked if mask_in_gradient else outputs, space.k)
    if isinstance(space, spaces.Box):
        low, high = space.all_valid_mask() if mask is None else mask
        mean = outputs.reshape(space.shape)
        log_std = jnp.asarray(log_std).reshape(-1)[: mean.size].reshape(mean.shape)
        if box_distribution == "truncated_normal":
            center, half_range = (space.high + space.low) / 2.0, (space.high - space.low) / 2.0
            return TruncatedNormal(center + half_range * mean, half_range * jnp.exp(log_std), low, high)
        return TanhGaussian(mean, log_std, low, high)
    if isinstance(space, spaces.Tuple):
        parts, start = [], 0
        masks = mask if mask is not None else (None,) * len(space.spaces)
        stds = log_std if isinstance(log_std, tuple) else (log_std,) * len(space.spaces)
        for sub, m, s in zip(space.spaces, masks, stds):
            size = head_size(sub)
            parts.append(distribution(sub, outputs[start:start + size], s, m, mask_in_gradient, box_distribution))
            start += size
        return Product(tuple(parts))
    raise TypeError(f"no policy distribution for space {space!r}")


class PolicyHead(nn.Module):
    """Dense layer to the space's distribution parameters plus, for Box parts, a
    state-independent log standard deviation. Returns (outputs, log_std)."""

    space: spaces.Space
    init_log_std: float = 0.0

    @nn.compact
    def __call__(self, features):
        outputs = nn.Dense(head_size(self.space), kernel_init=orthogonal(0.01))(features)
        log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (_box_size(self.space),))
        return outputs, log_std


def _box_size(space: spaces.Space) -> int:
    if isinstance(space, spaces.Box):
        return head_size(space)
    if isinstance(space, spaces.Tuple):
        return max([_box_size(s) for s in space.spaces] + [1])
    return 1
