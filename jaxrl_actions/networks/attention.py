"""Permutation-equivariant networks for observations that are sets of items ([..., N, F]:
N items or cities, F features each), such as Jumanji's Knapsack and TSP as `observation="items"`.

    SetEncoder(width, layers, heads)(items [..., N, F]) -> [..., N, width]
        an item embedding, then pre-LayerNorm transformer blocks (self-attention + MLP, each
        residual) with no positional encoding, so permuting the items permutes the outputs;
        with 0 layers each item is embedded on its own (DeepSets' per-element map)
    PointerActor(...)(items) -> (logits [..., N], log_std)
        one logit per item (`Discrete(N)`: pick an item), the `PolicyHead` output contract
    SetCritic(...)(items) -> [..., 1]
        the value from the mean- and max-pooled item embeddings (invariant to the order)

The encoder follows the attention models used for routing and packing (Kool et al. 2019,
"Attention, Learn to Solve Routing Problems!"; Jumanji's own A2C networks), at a small size.
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from jaxrl_actions.networks.mlp import MLP, orthogonal


class SetEncoder(nn.Module):
    width: int = 64
    layers: int = 2
    heads: int = 4

    @nn.compact
    def __call__(self, items: jnp.ndarray) -> jnp.ndarray:
        x = nn.Dense(self.width)(jnp.asarray(items, jnp.float32))
        for _ in range(self.layers):
            h = nn.LayerNorm()(x)
            x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads, qkv_features=self.width)(h, h)
            h = nn.LayerNorm()(x)
            x = x + nn.Dense(self.width)(nn.relu(nn.Dense(2 * self.width)(h)))
        return nn.LayerNorm()(x)


class PointerActor(nn.Module):
    """Logits over the N items for a `Discrete(N)` action, plus the unused log-std
    parameter every policy head returns."""

    width: int = 64
    layers: int = 2
    heads: int = 4

    @nn.compact
    def __call__(self, items: jnp.ndarray):
        encoded = SetEncoder(self.width, self.layers, self.heads)(items)
        logits = nn.Dense(1, kernel_init=orthogonal(0.01))(encoded)[..., 0]
        return logits, self.param("log_std", nn.initializers.zeros, (1,))


class SetCritic(nn.Module):
    width: int = 64
    layers: int = 2
    heads: int = 4
    hidden_sizes: tuple = (64,)
    activation: str = "relu"

    @nn.compact
    def __call__(self, items: jnp.ndarray) -> jnp.ndarray:
        encoded = SetEncoder(self.width, self.layers, self.heads)(items)
        pooled = jnp.concatenate([encoded.mean(axis=-2), encoded.max(axis=-2)], axis=-1)
        return MLP(self.hidden_sizes, self.activation, output_size=1)(pooled)
