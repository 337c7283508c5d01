"""Several processes on one run (many machines, or several processes on one): joining
them, who writes, and waiting for each other.

    initialize("10.0.0.1:1234", num_processes=2, process_id=0)   # before anything touches devices
    is_writer()          # process 0 writes the run directory's files
    barrier("name")      # every process waits here until all have arrived (no-op alone)
    to_global(x, sharding)  # the same host value on every process -> one global array

Every process runs the same command; `jax.devices()` then spans every process's devices
and each process computes its shard of the run axis. The run directory must be on a file
system every process sees (checkpoints are written collectively into it).
"""
from __future__ import annotations

from typing import Any, Optional

import jax
import numpy as np


class ProcessSetupError(ValueError):
    """Flags that cannot join the processes (names the flag and value)."""


def initialize(coordinator: Optional[str] = None, num_processes: Optional[int] = None,
               process_id: Optional[int] = None) -> None:
    """Joins this process to the others (`jax.distributed.initialize`).

    coordinator: HOST:PORT of process 0 (None: JAX reads JAX_COORDINATOR_ADDRESS, or a
    cluster manager it detects, e.g. SLURM or Open MPI, supplies all three). A single
    process (num_processes=1 and no coordinator) needs no set-up. Must run before anything
    touches a device; raises ProcessSetupError naming the bad value otherwise."""
    if num_processes is not None and int(num_processes) < 1:
        raise ProcessSetupError(f"--num-processes must be >= 1, got {num_processes}")
    if process_id is not None and int(process_id) < 0:
        raise ProcessSetupError(f"--process-id must be >= 0, got {process_id}")
    if num_processes is not None and process_id is not None and int(process_id) >= int(num_processes):
        raise ProcessSetupError(f"--process-id must be below --num-processes {num_processes}, got {process_id}")
    if coordinator is not None and (":" not in coordinator or not coordinator.rsplit(":", 1)[1].isdigit()):
        raise ProcessSetupError(f"--coordinator must be HOST:PORT, got {coordinator!r}")
    if num_processes == 1 and coordinator is None:
        return
    if jax.distributed.is_initialized():  # e.g. the user's script joined them already
        return
    if getattr(jax.config, "jax_cpu_collectives_implementation", "gloo") in (None, "none"):
        # CPU processes exchange shards through gloo (JAX's default on 0.10; "none" on some older ones)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                                   process_id=process_id)
    except (RuntimeError, ValueError) as err:
        raise ProcessSetupError(
            f"cannot join the processes (--coordinator {coordinator}, --num-processes {num_processes}, "
            f"--process-id {process_id}): {err}") from None


def is_writer() -> bool:
    """Process 0 writes the run directory's files (every process writes its checkpoint shards)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Waits until every process has reached the barrier `name` (no-op in one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def to_global(tree: Any, sharding: Any) -> Any:
    """`tree` (the same values on every process) placed onto `sharding`: each process puts
    only its own shards, so this also works when the sharding spans other processes."""
    if sharding.is_fully_addressable:
        return jax.device_put(tree, sharding)

    def one(x):
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(one, tree)


def gather(tree: Any) -> Any:
    """Host (numpy) copies of every leaf; arrays sharded across processes are gathered first."""

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            from jax.experimental import multihost_utils

            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(jax.device_get(x))

    return jax.tree.map(one, tree)
