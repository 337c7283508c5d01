"""Multi-layer perceptrons shared by every agent."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS: dict[str, Callable] = {"tanh": nn.tanh, "relu": nn.relu, "elu": nn.elu, "silu": nn.silu,
                                    "leaky_relu": nn.leaky_relu}


def activation(name: str) -> Callable:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _orthonormal_columns(a: jnp.ndarray) -> jnp.ndarray:
    """Gram-Schmidt on the columns of a [m, k] (m >= k): the Q of a = QR with R's diagonal
    positive. Each column is projected twice (classical Gram-Schmidt re-orthogonalised),
    accurate to float32 rounding for the Gaussian matrices an initializer draws."""
    k = a.shape[1]

    def orthonormalise_column(j, q):
        earlier = (jnp.arange(k) < j).astype(q.dtype)  # columns already orthonormal
        v = q[:, j]
        for _ in range(2):
            v = v - q @ ((q.T @ v) * earlier)
        return q.at[:, j].set(v / jnp.linalg.norm(v))

    return jax.lax.fori_loop(0, k, orthonormalise_column, a)


def orthogonal(scale: float = np.sqrt(2.0), column_axis: int = -1):
    """Orthogonal kernel initializer with the law of `nn.initializers.orthogonal` (the same
    values, to float32 rounding, for the same key), computed without LAPACK.

    Hand-written because jaxlib 0.10's CPU QR kernels (geqrf/orgqr custom calls) split a
    batched QR over the intra-op thread pool and block a pool thread while they wait; with
    `vmap(train)` over seeds every Dense layer's init is a batched QR, so on a 2-core machine
    two of them running at once deadlock the program (tests/test_no_deadlock.py)."""

    def init(key, shape, dtype=jnp.float32):
        n_cols = shape[column_axis]
        n_rows = math.prod(shape) // n_cols
        tall = (max(n_rows, n_cols), min(n_rows, n_cols))
        q = _orthonormal_columns(jax.random.normal(key, tall, dtype))
        if n_rows < n_cols:
            q = q.T
        q = jnp.reshape(q, tuple(np.delete(shape, column_axis)) + (n_cols,))
        return scale * jnp.moveaxis(q, -1, column_axis)

    return init


# Weight initialisations by name (the authors' choices the agents follow):
#   "orthogonal"       hidden kernels orthogonal(sqrt 2), output orthogonal(output_scale),
#                      biases 0 (this library's default, after PPO/CleanRL)
#   "orthogonal_unit"  every kernel orthogonal(1.0) (torch.nn.init.orthogonal_ default gain),
#                      output orthogonal(output_scale), biases 0 (DrQ-v2/CQN utils.weight_init)
#   "xavier"           every kernel xavier_uniform (gain 1), biases 0 (REDQ core.weights_init_)
#   "torch"            PyTorch's nn.Linear default: kernel and bias U(-1/sqrt(fan_in),
#                      1/sqrt(fan_in)) (kaiming_uniform with a = sqrt 5; TD3's paper code)
INITS = ("orthogonal", "orthogonal_unit", "xavier", "torch")


def check_init(name: str) -> None:
    if name not in INITS:
        raise ValueError(f"unknown init {name!r}; choose one of {INITS}")


def dense(features: int, init: str = "orthogonal", fan_in: int | None = None, scale: float | None = None,
          name: str | None = None) -> nn.Dense:
    """A Dense layer initialised by `init` (see INITS). `scale` is the orthogonal gain (None:
    the init's hidden-layer gain); `fan_in` (the input width) is needed by "torch"."""
    check_init(init)
    if init == "xavier":
        return nn.Dense(features, kernel_init=nn.initializers.xavier_uniform(), name=name)
    if init == "torch":
        bound = 1.0 / math.sqrt(fan_in)
        uniform = lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)  # noqa: E731
        return nn.Dense(features, kernel_init=uniform, bias_init=uniform, name=name)
    if scale is None:
        scale = np.sqrt(2.0) if init == "orthogonal" else 1.0
    return nn.Dense(features, kernel_init=orthogonal(scale), name=name)


class PatchConv(nn.Module):
    """A valid-padding, stride-1 convolution over [..., H, W, C] written as image patches
    times a matrix (im2col). XLA:CPU runs the gradient of `lax.conv` inside a `while` loop
    (every update of a scanned training loop) 13-24x slower than outside one; slices
    and a matmul have no such slow path (experiments/bench_conv.py). Same parameters as
    `nn.Conv` (kernel [k, k, C, F], bias [F]) and the same function up to float rounding."""

    features: int
    kernel_size: int
    kernel_init: Callable = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        k, channels = self.kernel_size, x.shape[-1]
        kernel = self.param("kernel", self.kernel_init, (k, k, channels, self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        height, width = x.shape[-3] - k + 1, x.shape[-2] - k + 1
        # patch feature (i * k + j) * C + c, the row order of the kernel reshaped [k * k * C, F]
        patches = jnp.concatenate([x[..., i:i + height, j:j + width, :] for i in range(k) for j in range(k)],
                                  axis=-1)
        return patches @ kernel.reshape(k * k * channels, self.features) + bias


class MLP(nn.Module):
    """Flattens the trailing observation axes of `x` ([..., *obs_shape]) and applies
    Dense layers. `output_size=None` returns the last hidden features. `layer_norm` puts a
    LayerNorm between each hidden Dense and its activation (CQN's C2FCriticNetwork);
    `weight_init` names the weight initialisation (INITS); `output_scale` is the output layer's
    orthogonal gain (orthogonal inits only).

    `conv_layers`: for image observations ([..., H, W, C], obs_ndim 3), convolutions applied
    first, each (features, kernel size, max-pool window or 1): valid padding, stride 1,
    then pooling, then the ReLU (the order of Huang & Ontañón's µRTS networks)."""

    hidden_sizes: Sequence[int] = (64, 64)
    activation: str = "tanh"
    output_size: int | None = None
    output_scale: float = 1.0
    obs_ndim: int = 1  # trailing axes that belong to one observation
    conv_layers: Sequence[tuple] = ()
    layer_norm: bool = False
    weight_init: str = "orthogonal"

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        x = jnp.asarray(x, jnp.float32)
        if self.conv_layers and self.obs_ndim != 3:
            raise ValueError(f"conv_layers need [H, W, C] observations (obs_ndim 3), got obs_ndim={self.obs_ndim}")
        for i, (features, kernel, pool) in enumerate(self.conv_layers):
            # named as nn.Conv would be, so parameters and their initial values are nn.Conv's
            x = PatchConv(features, kernel, kernel_init=orthogonal(), name=f"Conv_{i}")(x)
            if pool > 1:
                x = nn.max_pool(x, (pool, pool), strides=(pool, pool))
            x = nn.relu(x)
        if self.obs_ndim != 1:
            batch = x.shape[: x.ndim - self.obs_ndim]
            x = x.reshape(batch + (-1,))
        act = activation(self.activation)
        for size in self.hidden_sizes:
            x = dense(size, self.weight_init, x.shape[-1])(x)
            if self.layer_norm:
                x = nn.LayerNorm(epsilon=1e-5)(x)  # torch.nn.LayerNorm's eps
            x = act(x)
        if self.output_size is not None:
            x = dense(self.output_size, self.weight_init, x.shape[-1], self.output_scale)(x)
        return x
