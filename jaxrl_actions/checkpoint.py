"""Checkpoints of the whole training carry (every vmapped run at once) with orbax.

Layout, one series per compiled program (group) of a run directory:

    checkpoints/group0/chunk_000004/state/      orbax tree (written to a temp dir, then renamed)
    checkpoints/group0/chunk_000004/meta.json   {"step", "meta", "files": {path: sha256}}

`meta.json` is written last (temp file + rename), so a checkpoint without it is incomplete
and ignored. Its checksums let `restore` name a corrupt or truncated file exactly and fall
back to the previous good checkpoint, instead of loading damaged values silently. Typed PRNG
key arrays are stored as their raw key data and re-wrapped on restore.

With several processes, `save` and `restore` are collective (every process calls them in
the same order); process 0 alone clears the step's folder, writes meta.json and prunes
old steps, between barriers, so no process sees a half-written checkpoint.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import warnings
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_actions.processes import barrier, is_writer, to_global

STATE_DIR = "state"
META_FILE = "meta.json"
PREFIX = "chunk_"


class CheckpointError(RuntimeError):
    pass


@contextlib.contextmanager
def _quiet_orbax():
    """orbax logs every save/restore through absl at INFO; keep the run's output readable."""
    loggers = [logging.getLogger(n) for n in ("absl", "orbax", "orbax.checkpoint")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _checkpointer():
    import orbax.checkpoint as ocp

    return ocp.Checkpointer(ocp.StandardCheckpointHandler())


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _is_empty(x: Any) -> bool:
    return int(np.prod(np.shape(x))) == 0


# Orbax refuses zero-size arrays (MJX states have some, e.g. `act` of models without
# activation states); they carry no data, so they are saved as empty (None) nodes and
# rebuilt as zeros from the abstract tree on restore.
def _to_savable(tree: Any) -> Any:
    return jax.tree.map(lambda x: None if _is_empty(x) else jax.random.key_data(x) if _is_key(x) else x, tree)


def _abstract_savable(abstract: Any) -> Any:
    def convert(s):
        if _is_empty(s):
            return None
        if not _is_key(s):
            return s
        data = jax.eval_shape(jax.random.key_data, s)
        return jax.ShapeDtypeStruct(data.shape, data.dtype, sharding=getattr(s, "sharding", None))

    return jax.tree.map(convert, abstract)


def _key_impl(s: Any) -> Any:
    # `jax.random.key_impl` needs a concrete key array; an abstract one carries its
    # implementation only on its dtype (no public accessor).
    return jax.random.key_impl(s) if isinstance(s, jax.Array) else s.dtype._impl  # noqa: SLF001


def _from_savable(tree: Any, abstract: Any) -> Any:
    saved = iter(jax.tree.leaves(tree))

    def rebuild(s):
        if _is_empty(s):
            sharding = getattr(s, "sharding", None)
            if sharding is not None and not sharding.is_fully_addressable:  # spans other processes
                return to_global(np.zeros(s.shape, s.dtype), sharding)
            return jnp.zeros(s.shape, s.dtype)
        x = next(saved)
        return jax.random.wrap_key_data(x, impl=_key_impl(s)) if _is_key(s) else x

    return jax.tree.map(rebuild, abstract)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_sums(root: str) -> dict[str, str]:
    sums = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            sums[os.path.relpath(path, root)] = _sha256(path)
    return sums


def _write_json_atomic(path: str, data: Any) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def step_dir(directory: str, step: int) -> str:
    return os.path.join(directory, f"{PREFIX}{step:06d}")


def complete_steps(directory: str) -> list[int]:
    """Steps with a finished checkpoint (meta.json present), ascending."""
    if not os.path.isdir(directory):
        return []
    steps = []
    for name in os.listdir(directory):
        if name.startswith(PREFIX) and name[len(PREFIX):].isdigit():
            if os.path.isfile(os.path.join(directory, name, META_FILE)):
                steps.append(int(name[len(PREFIX):]))
    return sorted(steps)


def save(directory: str, step: int, tree: Any, meta: Optional[dict] = None, keep: int = 3) -> str:
    """Saves `tree` as checkpoint `step` (atomic), then keeps only the newest `keep`."""
    directory = os.path.abspath(directory)  # orbax refuses relative paths
    path = step_dir(directory, step)
    if is_writer():
        if os.path.exists(path):  # a partial or stale copy of this step (e.g. after a resume)
            shutil.rmtree(path)
        os.makedirs(path)
    barrier(f"checkpoint-start {path}")  # no process writes into a folder still being cleared
    state = os.path.join(path, STATE_DIR)
    with _quiet_orbax():
        import orbax.checkpoint as ocp

        # collective: every process writes its shards, orbax's own barriers finish it
        _checkpointer().save(state, args=ocp.args.StandardSave(_to_savable(tree)))
    if is_writer():
        _write_json_atomic(os.path.join(path, META_FILE), {"step": step, "meta": meta or {}, "files": _file_sums(state)})
        for old in complete_steps(directory)[:-keep] if keep > 0 else []:
            shutil.rmtree(step_dir(directory, old), ignore_errors=True)
    barrier(f"checkpoint-done {path}")  # on return, every process sees it complete and pruned
    return path


def read_meta(directory: str, step: int) -> dict:
    with open(os.path.join(step_dir(directory, step), META_FILE)) as f:
        return json.load(f)


def verify(directory: str, step: int) -> None:
    """Raises CheckpointError naming the first missing, truncated or altered file."""
    path = step_dir(directory, step)
    try:
        meta = read_meta(directory, step)
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{os.path.join(path, META_FILE)} is unreadable: {err}") from None
    state = os.path.join(path, STATE_DIR)
    for rel, digest in sorted(meta.get("files", {}).items()):
        file = os.path.join(state, rel)
        if not os.path.isfile(file):
            raise CheckpointError(f"checkpoint file {file} is missing")
        if _sha256(file) != digest:
            raise CheckpointError(f"checkpoint file {file} is corrupt or truncated (checksum mismatch)")


class Restored(NamedTuple):
    tree: Any  # the saved tree, restored into `abstract`'s shapes and shardings
    step: int  # the checkpoint's step (the runner: chunks done)
    meta: dict  # what `save` was given as `meta`


def restore(
    directory: str, abstract: Any, warn: Callable[[str], None] = print
) -> Optional[Restored]:
    """The newest good checkpoint, or None when there is none.

    `abstract`: the tree of `jax.ShapeDtypeStruct` (with shardings) to restore into. A bad
    checkpoint is reported through `warn` (naming the file) and the previous one is tried;
    if every checkpoint is bad, CheckpointError lists them."""
    directory = os.path.abspath(directory)  # orbax refuses relative paths
    steps = complete_steps(directory)
    problems = []
    for step in reversed(steps):
        try:
            verify(directory, step)
            with _quiet_orbax():
                import orbax.checkpoint as ocp

                saved = _checkpointer().restore(
                    os.path.join(step_dir(directory, step), STATE_DIR),
                    args=ocp.args.StandardRestore(_abstract_savable(abstract)),
                )
            tree = _from_savable(saved, abstract)
            meta = read_meta(directory, step)["meta"]
        except Exception as err:  # noqa: BLE001 - any unreadable checkpoint falls back
            problems.append(str(err))
            earlier = [s for s in steps if s < step]
            fallback = f"falling back to {step_dir(directory, earlier[-1])}" if earlier else "no earlier checkpoint"
            warn(f"warning: {err}; {fallback}")
            continue
        return Restored(tree, step, meta)
    if problems:
        raise CheckpointError(f"no usable checkpoint in {directory}: " + "; ".join(problems))
    return None
