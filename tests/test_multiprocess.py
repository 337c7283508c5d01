"""Two processes on localhost (jax.distributed, CPU collectives) run one sweep sharded across
them, through the CLI flags of an experiment file (`main_for`): the run directory they write
equals a single process's, process 0 alone writes the run directory's files, checkpoints
are written collectively, an interrupted run resumes with 2 processes to the same rows, and
resuming with another process count fails naming both counts.

The sweep is the fake trainer of test_runner (3 lrs x 3 seeds = 9 runs, padded to 10 over
the 2 processes' devices). Each group of processes runs under a hard timeout, killed when
it passes, so a hang fails the test instead of stalling CI.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from test_runner import FAKE_EXPERIMENT, read_metrics

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
TIMEOUT_S = 240  # per group of processes (10-20 s on 2 idle cores; far more on a loaded machine)
SWEEP = ["--seeds", "3", "--sweep", "lr=0.1,0.3,0.5", "--chunks", "4", "--tensorboard"]
WORKER = """
import sys
from test_runner import FAKE_EXPERIMENT
from jaxrl_actions.cli import main_for
raise SystemExit(main_for(FAKE_EXPERIMENT, sys.argv[1:]))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processes(args: list[str], logs: str, num: int = 2) -> list[str]:
    """Runs the worker as `num` processes joined on a free local port; returns each one's
    output (stdout and stderr), failing the test if any exits non-zero or all together
    take longer than TIMEOUT_S."""
    port = free_port()
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join([TESTS, ROOT, os.environ.get("PYTHONPATH", "")])}
    os.makedirs(logs, exist_ok=True)
    files = [open(os.path.join(logs, f"process{i}.log"), "w+") for i in range(num)]
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, *args, "--coordinator", f"127.0.0.1:{port}",
                          "--num-processes", str(num), "--process-id", str(i)],
                         cwd=ROOT, env=env, stdout=files[i], stderr=subprocess.STDOUT)
        for i in range(num)
    ]
    deadline = time.monotonic() + TIMEOUT_S
    try:
        for p in procs:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        hung = [i for i, p in enumerate(procs) if p.poll() is None]
        for i in hung:
            procs[i].kill()
            procs[i].wait()
    outputs = []
    for f in files:
        f.seek(0)
        outputs.append(f.read())
        f.close()
    shown = "\n".join(f"--- process {i} (exit {p.returncode}) ---\n{o[-3000:]}"
                      for i, (p, o) in enumerate(zip(procs, outputs)))
    assert not hung, f"process(es) {hung} still running after {TIMEOUT_S}s, killed\n{shown}"
    assert all(p.returncode == 0 for p in procs), shown
    return outputs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(two-process run dir, its outputs, single-process run dir) of the same sweep."""
    from jaxrl_actions.run.runner import run_experiment

    base = tmp_path_factory.mktemp("multiprocess")
    two = str(base / "two")
    outputs = run_processes([*SWEEP, "--out", two], str(base / "logs"))
    one = str(base / "one")
    run_experiment(FAKE_EXPERIMENT, seeds=3, sweep={"lr": ["0.1", "0.3", "0.5"]}, chunks=4, tensorboard=True,
                   out=one, quiet=True)
    return two, outputs, one


def load(run_dir: str, name: str) -> dict:
    with open(os.path.join(run_dir, name)) as f:
        return json.load(f)


def finals(summary: dict) -> list:
    return [(t["trial"], t["hparams"], t["final_return_per_seed"], t["final_return_mean"], t["final_return_std"],
             t["final_metrics"]) for t in summary["trials"]]


def test_two_processes_write_what_one_process_writes(runs):
    two, outputs, one = runs
    assert read_metrics(two) == read_metrics(one)  # every row, bit for bit
    assert len(read_metrics(two)) == 4 * 9  # chunks x runs, each written once
    summary_two, summary_one = load(two, "summary.json"), load(one, "summary.json")
    assert finals(summary_two) == finals(summary_one)
    assert (summary_two["processes"], summary_two["devices"]) == (2, 2)
    assert summary_one["processes"] == 1
    config_two, config_one = load(two, "config.json"), load(one, "config.json")
    assert config_two["processes"] == 2 and config_one["processes"] == 1
    assert config_two["fingerprint"] == config_one["fingerprint"]  # the same computation


def test_process_0_alone_writes_the_run_directory(runs):
    two, outputs, _ = runs
    assert os.path.isfile(os.path.join(two, "curves.png"))
    folders = sorted(os.listdir(os.path.join(two, "tb")))
    assert folders == [f"trial{t}_seed{s}" for t in range(3) for s in range(3)]
    for folder in folders:  # one writer: one event file per run
        assert len(glob.glob(os.path.join(two, "tb", folder, "*tfevents*"))) == 1, folder
    assert "final return" in outputs[0] and f"results in {two}" in outputs[0]
    assert "final return" not in outputs[1] and "chunk" not in outputs[1]  # no progress, no results


def test_checkpoints_are_written_collectively(runs):
    from jaxrl_actions import checkpoint

    two, _, _ = runs
    group = os.path.join(two, "checkpoints", "group0")
    assert checkpoint.complete_steps(group) == [2, 3, 4]  # pruned to --keep-checkpoints 3
    for step in (2, 3, 4):
        checkpoint.verify(group, step)  # every file the meta.json lists is there, unaltered
        meta = checkpoint.read_meta(group, step)
        assert meta["meta"]["processes"] == 2 and meta["meta"]["updates_done"] == 3 * step
    assert not [n for n in os.listdir(group) if not n.startswith("chunk_")]  # no temp folders left


def test_interrupted_run_resumes_with_the_same_processes(runs, tmp_path):
    """An interruption after chunk 2 (its later checkpoints and rows gone) resumes with 2
    processes, restoring the collective checkpoint, to the uninterrupted rows."""
    from jaxrl_actions import checkpoint

    two, _, one = runs
    run_dir = str(tmp_path / "interrupted")
    shutil.copytree(two, run_dir)
    group = os.path.join(run_dir, "checkpoints", "group0")
    for step in (3, 4):
        shutil.rmtree(checkpoint.step_dir(group, step))
    kept = [r for r in read_metrics(run_dir) if r["update"] <= 6]
    with open(os.path.join(run_dir, "metrics.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in kept)
    for name in ("summary.json", "curves.png"):
        os.remove(os.path.join(run_dir, name))
    outputs = run_processes(["--resume", run_dir, "--no-plot"], str(tmp_path / "logs"))
    assert "resuming after chunk 2/4" in outputs[0]
    assert read_metrics(run_dir) == read_metrics(one)
    assert finals(load(run_dir, "summary.json")) == finals(load(one, "summary.json"))
    assert checkpoint.complete_steps(group) == [2, 3, 4]


def test_resume_with_another_process_count_names_both(runs, capsys):
    from jaxrl_actions.cli import main_for
    from jaxrl_actions.run.plan import RunDirError
    from jaxrl_actions.run.runner import resume_run

    two, _, _ = runs
    with pytest.raises(RunDirError, match=r"run by 2 process\(es\) and this invocation has 1.*--num-processes 2"):
        resume_run(two, FAKE_EXPERIMENT, quiet=True)
    assert main_for(FAKE_EXPERIMENT, ["--resume", two]) == 2
    assert "run by 2 process(es) and this invocation has 1" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--num-processes", "2", "--process-id", "2"], "--process-id must be below --num-processes 2, got 2"),
    (["--num-processes", "0"], "--num-processes must be >= 1, got 0"),
    (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"],
     "--coordinator must be HOST:PORT, got 'localhost'"),
])
def test_bad_process_flags_are_clear_errors(flags, message, tmp_path, capsys):
    """Checked before JAX is asked to join anything (this process stays a single one)."""
    from jaxrl_actions.cli import main_for

    assert main_for(FAKE_EXPERIMENT, [*flags, "--out", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "r")


def test_one_process_evaluates_a_two_process_run(runs):
    """eval restores the collective checkpoint (run axis padded to 10 for 2 devices) in one
    process, and scores the same policies as the single-process run's checkpoint."""
    from jaxrl_actions.run.evaluate_run import evaluate_run

    two, _, one = runs
    result_two = evaluate_run(two, episodes=2, experiment=FAKE_EXPERIMENT)
    result_one = evaluate_run(one, episodes=2, experiment=FAKE_EXPERIMENT)
    assert [t["updates_done"] for t in result_two["trials"]] == [12, 12, 12]
    assert result_two == result_one
