"""The torso's convolutions: `PatchConv` (im2col) is `nn.Conv` with valid padding and stride
1, with the same parameters and the same initial values inside `MLP`."""
from __future__ import annotations

import flax.linen as nn
import jax
import numpy as np
import pytest

from jaxrl_actions.networks.mlp import MLP, PatchConv, orthogonal

CONV_LAYERS = ((16, 3, 1), (8, 2, 2))  # the second with a max-pool


class ConvTorso(nn.Module):
    """The reference: MLP's conv layers written with flax's nn.Conv."""

    @nn.compact
    def __call__(self, x):
        for features, kernel, pool in CONV_LAYERS:
            x = nn.Conv(features, (kernel, kernel), padding="VALID", kernel_init=orthogonal())(x)
            if pool > 1:
                x = nn.max_pool(x, (pool, pool), strides=(pool, pool))
            x = nn.relu(x)
        return x


@pytest.mark.parametrize("lead", [(), (3,), (2, 3)])
def test_patch_conv_is_nn_conv(lead):
    x = jax.random.normal(jax.random.key(0), lead + (7, 6, 5))
    conv = nn.Conv(4, (3, 3), padding="VALID")
    params = conv.init(jax.random.key(1), x)
    params = jax.tree.map(lambda p: p + 0.1, params)  # a non-zero bias
    np.testing.assert_allclose(PatchConv(4, 3).apply(params, x), conv.apply(params, x), rtol=1e-5, atol=1e-5)


def test_mlp_conv_parameters_start_as_nn_conv_would():
    x = jax.random.normal(jax.random.key(0), (2, 10, 10, 27))
    mlp = MLP(hidden_sizes=(32,), activation="relu", output_size=3, obs_ndim=3, conv_layers=CONV_LAYERS)
    params = mlp.init(jax.random.key(1), x)["params"]
    reference = ConvTorso().init(jax.random.key(1), x)["params"]
    for name in ("Conv_0", "Conv_1"):
        for leaf in ("kernel", "bias"):
            np.testing.assert_array_equal(params[name][leaf], reference[name][leaf])
    # the features after the conv layers are the reference's
    torso = MLP(hidden_sizes=(), activation="relu", obs_ndim=3, conv_layers=CONV_LAYERS)
    features = torso.apply({"params": reference}, x)
    np.testing.assert_allclose(features, ConvTorso().apply({"params": reference}, x).reshape(2, -1), rtol=1e-5, atol=1e-5)
