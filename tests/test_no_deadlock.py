"""Training vmapped over seeds must run to completion on a 2-core CPU.

The hazard (found reproducing PureJaxRL's PPO CartPole, vmapped over 2 seeds, on JAX
0.10.2 CPU): jaxlib's LAPACK kernels (QR geqrf/orgqr, LU getrf, ...) split a *batched*
matrix over XLA:CPU's intra-op thread pool and block the calling pool thread until the
pieces finish. `vmap(train)` over seeds turns every orthogonal kernel init (a QR) into a
batched LAPACK custom call; the thunk executor runs independent inits concurrently, so with
a pool of 2 threads both threads wait on work queued behind themselves: the process sits
idle in `block_until_ready` forever. One seed (batch 1) never splits; host callbacks
(PureJaxRL's DEBUG print) and XLA flags are not the trigger.

Rule the code follows: the compiled training program contains no LAPACK custom call (layers
use `networks.mlp.orthogonal`, which orthonormalises without LAPACK), and, by the design's
chunked runner, no host callback (progress is reported between chunks).

The checks here: the initializer keeps the law of flax's orthogonal init; the program scanner
finds what it looks for; training programs vmapped over seeds contain neither; PPO vmapped
over 4 seeds finishes, in a subprocess with a hard timeout so a deadlock fails the test
instead of hanging the suite.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl_actions.networks.mlp import MLP, orthogonal

# Custom-call targets of jaxlib's CPU LAPACK kernels (lapack_sgeqrf_ffi, lapack_dpotrf_ffi, ...).
LAPACK_CALL = re.compile(r"lapack_\w+")
# Host callbacks (jax.debug.callback / pure_callback / io_callback) lower to these targets.
HOST_CALLBACK = re.compile(r"\w*python\w*callback\w*")

SEEDS = 4


def program_hazards(lowered_text: str) -> dict[str, list[str]]:
    """The LAPACK calls and host callbacks a lowered program contains, by target name."""
    return {
        "lapack": sorted(set(LAPACK_CALL.findall(lowered_text))),
        "host_callback": sorted(set(HOST_CALLBACK.findall(lowered_text))),
    }


def vmapped_program_text(fn, key_count: int = SEEDS) -> str:
    keys = jax.random.split(jax.random.PRNGKey(0), key_count)
    return jax.jit(jax.vmap(fn)).lower(keys).as_text()


# --- the initializer -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 64), (64, 64), (64, 2), (3, 5, 7)])
def test_orthogonal_init_has_flax_law(shape):
    key = jax.random.PRNGKey(7)
    ours = orthogonal(1.7)(key, shape)
    reference = nn.initializers.orthogonal(1.7)(key, shape)
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_orthogonal_init_is_orthonormal_for_wide_kernels():
    w = orthogonal(1.0)(jax.random.PRNGKey(1), (8, 32))  # rows are orthonormal
    np.testing.assert_allclose(w @ w.T, np.eye(8), atol=1e-5)


# --- the scanner -----------------------------------------------------------------------


def test_scanner_finds_lapack_and_host_callbacks():
    def with_hazards(key):
        q = nn.initializers.orthogonal()(key, (64, 64))  # a QR: LAPACK on CPU
        jax.debug.callback(lambda x: None, q.sum())
        return q

    found = program_hazards(vmapped_program_text(with_hazards))
    assert found["lapack"], "the scanner missed the QR of flax's orthogonal init"
    assert found["host_callback"], "the scanner missed jax.debug.callback"


def test_mlp_init_vmapped_over_seeds_has_no_lapack():
    net = MLP(hidden_sizes=(64, 64), output_size=2)
    text = vmapped_program_text(lambda k: net.init(k, jnp.zeros(4)))
    assert program_hazards(text) == {"lapack": [], "host_callback": []}


# --- whole training programs (lowered only: nothing compiles) --------------------------


@pytest.mark.parametrize("agent_name", ["sac", "td3", "ddpg"])
def test_off_policy_training_program_has_no_lapack_or_callbacks(agent_name):
    import envs
    from jaxrl_actions import agents
    from jaxrl_actions.training.common import fused_train
    from jaxrl_actions.training.off_policy import make_trainer

    agent = agents.get(agent_name)
    config = agent.config_cls(total_steps=64, num_envs=2, batch_size=8, buffer_size=64, warmup_steps=8)
    train = fused_train(make_trainer(envs.make("pendulum"), agent, config))
    found = program_hazards(vmapped_program_text(train))
    assert found == {"lapack": [], "host_callback": []}, (
        f"{agent_name} vmapped over seeds contains {found}: batched LAPACK calls deadlock "
        "XLA:CPU on 2 cores (use networks.mlp.orthogonal, not nn.initializers.orthogonal)"
    )


# --- PPO vmapped over seeds, run to completion ----------------------------------------

PPO_READY = importlib.util.find_spec("jaxrl_actions.agents.ppo") is not None

# Runs in a fresh interpreter: prints the program's hazards first (so a hang still reports
# them), then trains every seed to the end and prints a summary.
PPO_SCRIPT = textwrap.dedent(
    """
    import json, re, sys
    import jax, jax.numpy as jnp
    import envs
    from jaxrl_actions.agents import ppo
    from jaxrl_actions.training import make_train

    config = ppo.PPOConfig(total_steps=4 * 16 * 4, num_envs=4, rollout_len=16, update_epochs=2,
                           num_minibatches=2, hidden_sizes=(64, 64))
    train = jax.jit(jax.vmap(make_train(envs.make("cartpole"), ppo.AGENT, config)))
    keys = jax.random.split(jax.random.PRNGKey(0), int(sys.argv[1]))
    text = train.lower(keys).as_text()
    print(json.dumps({"lapack": sorted(set(re.findall(r"lapack_\\w+", text))),
                      "host_callback": sorted(set(re.findall(r"\\w*python\\w*callback\\w*", text)))}), flush=True)
    carry, metrics = jax.block_until_ready(train(keys))
    leaves = [x for x in jax.tree_util.tree_leaves(metrics) if jnp.issubdtype(x.dtype, jnp.floating)]
    print(json.dumps({"finished": True, "leading_dims": sorted({int(x.shape[0]) for x in leaves}),
                      "finite": bool(all(bool(jnp.isfinite(x).all()) for x in leaves))}), flush=True)
    """
)
PPO_TIMEOUT_S = 240  # compile + a few updates take ~20 s on 2 busy cores; a deadlock never ends


@pytest.mark.timeout(PPO_TIMEOUT_S + 60)
@pytest.mark.skipif(not PPO_READY, reason="jaxrl_actions.agents.ppo is not written yet")
def test_ppo_vmapped_over_seeds_finishes():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    try:
        done = subprocess.run([sys.executable, "-c", PPO_SCRIPT, str(SEEDS)], capture_output=True, text=True,
                              timeout=PPO_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired as hung:
        out = hung.stdout.decode() if isinstance(hung.stdout, bytes) else (hung.stdout or "")
        pytest.fail(f"PPO vmapped over {SEEDS} seeds did not finish in {PPO_TIMEOUT_S}s (deadlock?); "
                    f"program hazards: {out.strip() or 'not reached'}")
    assert done.returncode == 0, done.stderr[-3000:]
    hazards, summary = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    assert hazards == {"lapack": [], "host_callback": []}
    assert summary["finished"] and summary["finite"]
    assert summary["leading_dims"] == [SEEDS]  # every metric carries the seed axis
