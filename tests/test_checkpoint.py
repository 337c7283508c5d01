"""Checkpoints: round trip, keep-last, corrupt-file fallback, and resume == uninterrupted."""
from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl_actions import checkpoint
from jaxrl_actions.run import RunDirError, resume_run, run_experiment
from test_runner import FAKE_EXPERIMENT

SETTINGS = dict(seeds=2, sweep={"lr": [0.1, 0.3]}, chunks=6, checkpoint_every=2, quiet=True, plot=False)


def _tree(x):
    # "act": a zero-size leaf, as MJX states have (orbax refuses to save those itself)
    return {"w": jnp.arange(6.0).reshape(2, 3) * x, "n": jnp.int32(x), "key": jax.random.key(x),
            "act": jnp.zeros((0, 4), jnp.int8)}


def _abstract(tree):
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=a.sharding), tree)


def test_round_trip_keeps_values_and_typed_keys(tmp_path):
    d = str(tmp_path / "c")
    for step in (1, 2, 3, 4):
        checkpoint.save(d, step, _tree(step), {"note": step}, keep=2)
    assert checkpoint.complete_steps(d) == [3, 4]
    tree, step, meta = checkpoint.restore(d, _abstract(_tree(0)))
    assert step == 4 and meta == {"note": 4}
    np.testing.assert_array_equal(tree["w"], _tree(4)["w"])
    assert tree["key"].dtype == _tree(0)["key"].dtype
    np.testing.assert_array_equal(jax.random.key_data(tree["key"]), jax.random.key_data(_tree(4)["key"]))
    assert tree["act"].shape == (0, 4) and tree["act"].dtype == jnp.int8
    assert int(tree["n"]) == 4


def test_corrupt_file_is_named_and_previous_checkpoint_used(tmp_path):
    d = str(tmp_path / "c")
    for step in (1, 2):
        checkpoint.save(d, step, _tree(step))
    state = os.path.join(checkpoint.step_dir(d, 2), checkpoint.STATE_DIR)
    victim = max((os.path.join(r, f) for r, _, fs in os.walk(state) for f in fs), key=os.path.getsize)
    with open(victim, "r+b") as f:  # truncate the largest file
        f.truncate(os.path.getsize(victim) // 2)
    warnings = []
    tree, step, _ = checkpoint.restore(d, _abstract(_tree(0)), warn=warnings.append)
    assert step == 1
    np.testing.assert_array_equal(tree["w"], _tree(1)["w"])
    assert len(warnings) == 1 and victim in warnings[0] and "chunk_000001" in warnings[0]
    # every checkpoint bad: a clear error naming each
    os.remove(os.path.join(checkpoint.step_dir(d, 1), checkpoint.STATE_DIR, "_METADATA"))
    with pytest.raises(checkpoint.CheckpointError, match=r"chunk_000002.*corrupt.*chunk_000001.*_METADATA is missing"):
        checkpoint.restore(d, _abstract(_tree(0)), warn=lambda m: None)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("full") / "r")
    return out, run_experiment(FAKE_EXPERIMENT, out=out, **SETTINGS)


def _interrupt_after(chunk):
    def hook(info):
        if info.chunk == chunk:
            raise KeyboardInterrupt

    return hook


def _read(path):
    with open(path) as f:
        return f.read()


def test_resume_ends_with_exactly_the_uninterrupted_metrics(uninterrupted, tmp_path):
    full_dir, full_summary = uninterrupted
    out = str(tmp_path / "r")
    # interrupted after chunk 3; the last checkpoint is after chunk 2
    with pytest.raises(KeyboardInterrupt):
        run_experiment(FAKE_EXPERIMENT, out=out, on_chunk=_interrupt_after(3), **SETTINGS)
    before = _read(os.path.join(out, "metrics.jsonl"))
    assert len(before.splitlines()) == 3 * 4  # chunk 3's rows were written before the stop
    assert checkpoint.complete_steps(os.path.join(out, "checkpoints", "group0")) == [2]
    summary = resume_run(out, FAKE_EXPERIMENT, quiet=True, plot=False)
    after = _read(os.path.join(out, "metrics.jsonl"))
    assert after.startswith(before)  # earlier rows kept as they were
    assert after == _read(os.path.join(full_dir, "metrics.jsonl"))  # no duplicates, same digits
    assert summary["trials"] == full_summary["trials"]
    # timings cover the whole run: chunks 1-2 from the checkpoint, 3-6 from the resumed segment
    runs = full_summary["runs"]
    assert summary["steps_per_s"] * summary["train_s"] == pytest.approx(full_summary["env_steps"] * runs)
    assert summary["compiles"] >= full_summary["compiles"] and summary["wall_s"] > summary["train_s"]


def test_resume_falls_back_past_a_corrupt_checkpoint(uninterrupted, tmp_path):
    full_dir, full_summary = uninterrupted
    out = str(tmp_path / "r")
    with pytest.raises(KeyboardInterrupt):
        run_experiment(FAKE_EXPERIMENT, out=out, on_chunk=_interrupt_after(4), **SETTINGS)
    ckpts = os.path.join(out, "checkpoints", "group0")
    assert checkpoint.complete_steps(ckpts) == [2, 4]
    state = os.path.join(checkpoint.step_dir(ckpts, 4), checkpoint.STATE_DIR)
    victim = next(os.path.join(r, f) for r, _, fs in os.walk(state) for f in sorted(fs) if "/d" in r)
    with open(victim, "ab") as f:
        f.write(b"garbage")
    import io

    stream = io.StringIO()
    summary = resume_run(out, FAKE_EXPERIMENT, quiet=False, plot=False, stream=stream)
    assert f"{victim} is corrupt or truncated" in stream.getvalue()
    assert "resuming after chunk 2/6" in stream.getvalue()
    assert summary["trials"] == full_summary["trials"]
    assert _read(os.path.join(out, "metrics.jsonl")) == _read(os.path.join(full_dir, "metrics.jsonl"))


def _drop_config_field(run_dir, field):
    """Rewrites the run directory as a library without `field` in the agent config made it:
    config.json lacks the field, and it and the checkpoints carry that library's fingerprint."""
    path = os.path.join(run_dir, "config.json")
    saved = json.loads(_read(path))
    for trial in saved["trials"]:
        del trial["config"][field]
    for group in saved["groups"]:
        group["static"]["agent"].pop(f"agent.{field}", None)
    saved["fingerprint"] = f"without-{field}"
    metas = [os.path.join(root, "meta.json") for root, _, files in os.walk(run_dir) if "meta.json" in files]
    for meta_path, record in [(path, saved)] + [(m, json.loads(_read(m))) for m in metas]:
        if meta_path != path:
            record["meta"]["fingerprint"] = saved["fingerprint"]
        with open(meta_path, "w") as f:
            json.dump(record, f)


def test_a_run_made_before_a_config_field_existed_resumes_when_the_field_is_at_its_default(uninterrupted, tmp_path):
    full_dir, full_summary = uninterrupted
    out = str(tmp_path / "r")
    with pytest.raises(KeyboardInterrupt):
        run_experiment(FAKE_EXPERIMENT, out=out, on_chunk=_interrupt_after(3), **SETTINGS)
    _drop_config_field(out, "noise")  # numeric, at its default 0.05 in every trial
    _drop_config_field(out, "hidden")  # static, at its default (4,)
    assert len(checkpoint.complete_steps(os.path.join(out, "checkpoints", "group0"))) == 1
    summary = resume_run(out, FAKE_EXPERIMENT, quiet=True, plot=False)
    assert _read(os.path.join(out, "metrics.jsonl")) == _read(os.path.join(full_dir, "metrics.jsonl"))
    assert summary["trials"] == full_summary["trials"]
    # a missing field whose value here is not its default is a different computation
    _drop_config_field(out, "lr")  # swept 0.1 (the default) and 0.3
    with pytest.raises(RunDirError, match=r"trials\[1\].config.lr: absent in the run directory, 0.3 now") as err:
        resume_run(out, FAKE_EXPERIMENT, quiet=True, plot=False)
    assert "trials[0]" not in str(err.value)


def test_resume_errors(uninterrupted, tmp_path):
    full_dir, _ = uninterrupted
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(RunDirError, match=r"config.json is missing .*notes.txt"):
        resume_run(str(tmp_path), FAKE_EXPERIMENT)
    with pytest.raises(RunDirError, match=r"trials\[1\].config.lr: 0.3 in the run directory, 0.2 now"):
        run_experiment(FAKE_EXPERIMENT, out=full_dir, resume=True, **{**SETTINGS, "sweep": {"lr": [0.1, 0.2]}})
    with pytest.raises(RunDirError, match=r"seeds: \[0, 1\] in the run directory, \[0, 1, 2\] now"):
        resume_run(full_dir, FAKE_EXPERIMENT, seeds=3)
    # a finished run resumes to the same summary without running anything; its timings stay
    before = json.loads(_read(os.path.join(full_dir, "summary.json")))
    summary = resume_run(full_dir, FAKE_EXPERIMENT, quiet=True, plot=False)
    for key in ("compiles", "compile_s", "train_s", "steps_per_s"):
        assert summary[key] == before[key], key


def test_save_and_restore_accept_a_relative_directory(tmp_path, monkeypatch):
    """`--out runs/x` is relative; orbax itself only takes absolute paths."""
    import jax
    import jax.numpy as jnp

    from jaxrl_actions import checkpoint

    monkeypatch.chdir(tmp_path)
    tree = {"w": jnp.arange(3.0)}
    checkpoint.save("runs/ckpt", 1, tree, {"note": "relative"})
    restored, _, _ = checkpoint.restore("runs/ckpt", jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree))
    assert jnp.array_equal(restored["w"], tree["w"])
