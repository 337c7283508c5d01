"""The chunked runner: one experiment invocation (seeds x trials) from settings to a run
directory.

    run_experiment(experiment, seeds=4, sweep={"agent.lr": [1e-3, 3e-4]}, out="runs/x")

    settings -> trials (checked on the host) -> compile groups (sweep.group_trials)
    per group:   carry = jit(vmap(init))(keys, configs)            # or restored checkpoint
                 for each chunk:                                     # K updates, jitted scan
                     carry, metrics = jit(vmap(run_chunk))(carry, configs)
                     raise the ErrorFlag, write metrics.jsonl rows, progress,
                     checkpoint every `checkpoint_every` chunks and at the end
    summary.json from metrics.jsonl, curves.png

The chunk is `common.run_chunk` (a `lax.scan` over the trainer's `update`), so chunked
and fused runs compute the same numbers; a resumed run re-executes from its last
checkpoint with the same compiled program and writes exactly the rows an uninterrupted
run would (rows already in metrics.jsonl are kept and not written twice).
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import os
import sys
import time
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import jax
import numpy as np

from jaxrl_actions import checkpoint
from jaxrl_actions.logging import (
    CONFIG_FILE,
    METRICS_FILE,
    RETURN_KEY,
    SUMMARY_FILE,
    MetricsLog,
    Progress,
    TensorBoard,
    headline_metric,
    read_rows,
    summarize,
    to_json_number,
    write_json,
)
from jaxrl_actions.sweep import GroupProgram, describe_groups, group_trials
from jaxrl_actions.training.common import raise_if_set
from jaxrl_actions.training.experiment import (
    TOTAL_STEPS_KEY,
    Experiment,
    config_fields,
    config_to_dict,
    hparams_label,
    load_experiment,
    normalise_settings,
    typed_settings,
    resolve_trials,
    _jsonable,
)

CHECKPOINT_DIR = "checkpoints"
DEFAULT_CHUNKS = 20


class RunDirError(ValueError):
    """A run directory that cannot be resumed or evaluated (says what is missing)."""


@dataclasses.dataclass(frozen=True)
class ChunkInfo:
    """Passed to `on_chunk` after each chunk (logged and checkpointed)."""

    group: int
    chunk: int  # chunks done in this group, 1-based
    num_chunks: int
    updates_done: int
    env_steps: int  # per run
    checkpointed: bool


@dataclasses.dataclass
class Plan:
    """Everything an invocation resolves to before anything compiles."""

    experiment: Experiment
    seeds: list
    trials: list  # [Trial]
    groups: list  # [Group]
    chunk_updates: dict  # group index -> [updates per chunk]
    config: dict  # what config.json holds

    @property
    def fingerprint(self) -> str:
        return self.config["fingerprint"]


def seed_list(seeds: Union[int, Sequence[int]]) -> list[int]:
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {seeds}")
        return list(range(int(seeds)))
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
    return seeds


def chunk_plan(num_updates: int, chunks: Optional[int], log_every: Optional[int]) -> list[int]:
    """Updates per chunk: `log_every` each (or num_updates / chunks, rounded up); a shorter
    last chunk takes the remainder (one more compile)."""
    if num_updates < 1:
        raise ValueError(f"the run has {num_updates} updates; raise total_steps")
    if log_every is not None:
        if log_every < 1:
            raise ValueError(f"--log-every must be >= 1, got {log_every}")
        length = min(int(log_every), num_updates)
    else:
        chunks = DEFAULT_CHUNKS if chunks is None else int(chunks)
        if chunks < 1:
            raise ValueError(f"--chunks must be >= 1, got {chunks}")
        length = math.ceil(num_updates / min(chunks, num_updates))
    plan = [length] * (num_updates // length)
    if num_updates % length:
        plan.append(num_updates % length)
    return plan


def _fingerprint(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def make_plan(
    experiment: Experiment,
    seeds: Union[int, Sequence[int]] = 1,
    overrides: Optional[Mapping[str, Any]] = None,
    sweep: Optional[Mapping[str, Sequence[Any]]] = None,
    total_steps: Optional[int] = None,
    chunks: Optional[int] = None,
    log_every: Optional[int] = None,
    source: Optional[str] = None,
) -> Plan:
    """Resolves and checks every setting (keys, value types, config checks); compiles nothing."""
    seeds = seed_list(seeds)
    overrides = dict(overrides or {})
    if total_steps is not None:
        over, _ = normalise_settings(experiment, overrides, None)
        key, _ = normalise_settings(experiment, {TOTAL_STEPS_KEY: total_steps}, None)
        if set(key) & set(over):
            raise ValueError(f"{next(iter(key))} is both set (--set) and given as --total-steps; keep one")
        overrides[TOTAL_STEPS_KEY] = total_steps
    trials = resolve_trials(experiment, overrides, sweep)
    groups = group_trials(trials)
    plans = {g.index: chunk_plan(g.num_updates, chunks, log_every) for g in groups}
    group_of = {t.index: g.index for g in groups for t in g.trials}
    canon_over, canon_grid = typed_settings(experiment, overrides, sweep)
    fields = config_fields(experiment.config)
    resolved = {
        "experiment": experiment.name,
        "env": groups[0].env.name,
        "agent": experiment.agent.name,
        "seeds": seeds,
        "trials": [
            {
                "trial": t.index,
                "hparams": t.hparams,
                "variant": t.variant,
                "group": group_of[t.index],
                "env_kwargs": _jsonable(t.env_kwargs),
                "config": config_to_dict(t.config),
            }
            for t in trials
        ],
        "groups": [
            {
                "group": g.index,
                "env": g.env.name,
                "trials": [t.index for t in g.trials],
                "num_updates": g.num_updates,
                "steps_per_update": g.steps_per_update,
                "chunk_updates": plans[g.index],
                "static": g.static,
            }
            for g in groups
        ],
    }
    config = {
        **resolved,
        "description": experiment.description,
        "config_class": type(experiment.config).__name__,
        "static_fields": sorted(k for k, f in fields.items() if f.static),
        "numeric_fields": sorted(k for k, f in fields.items() if not f.static),
        "overrides": _jsonable(canon_over),
        "sweep": _jsonable(canon_grid),
        "invocation": {
            "source": source,
            "seeds": seeds,
            "overrides": _jsonable(dict(overrides)),
            "sweep": _jsonable({k: list(v) for k, v in (sweep or {}).items()}),
            "chunks": chunks,
            "log_every": log_every,
        },
        "fingerprint": _fingerprint(resolved),
    }
    return Plan(experiment, seeds, trials, groups, plans, config)


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} in the run directory, {b!r} now"]


def check_run_dir(run_dir: str) -> dict:
    """The config.json of a run directory, or RunDirError saying what is missing."""
    if not os.path.isdir(run_dir):
        raise RunDirError(f"{run_dir} does not exist")
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        present = ", ".join(sorted(os.listdir(run_dir))) or "nothing"
        raise RunDirError(
            f"{run_dir} is not a run directory: {CONFIG_FILE} is missing (it holds {present}); "
            f"a run directory has {CONFIG_FILE}, {METRICS_FILE} and {CHECKPOINT_DIR}/"
        )
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise RunDirError(f"{path} is not valid JSON: {err}") from None


def check_resumable(run_dir: str, plan: Plan) -> None:
    """The run directory was made by the same settings, or a clear error listing differences."""
    saved = check_run_dir(run_dir)
    if saved.get("fingerprint") == plan.fingerprint:
        return
    keys = ("experiment", "env", "agent", "seeds", "trials", "groups")
    diffs = _diff({k: saved.get(k) for k in keys}, {k: plan.config.get(k) for k in keys})
    shown = "\n  ".join(diffs[:12]) + (f"\n  ... and {len(diffs) - 12} more" if len(diffs) > 12 else "")
    raise RunDirError(f"cannot resume {run_dir}: its config differs from this invocation:\n  {shown}")


def default_out_dir(name: str) -> str:
    return os.path.join("runs", f"{name}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}")


def fetch(tree: Any) -> Any:
    """Host copies of run-axis arrays; across hosts the shards are gathered first."""

    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            from jax.experimental import multihost_utils

            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(jax.device_get(x))

    return jax.tree.map(one, tree)


def _rows_for_chunk(
    program: GroupProgram, metrics: Mapping[str, np.ndarray], updates_done: int, steps_per_update: int
) -> list[dict]:
    """One row per (trial, seed) with each metric's value at the chunk's last update."""
    rows = []
    for t_pos, trial in enumerate(program.group.trials):
        for s_pos, seed in enumerate(program.seeds):
            r = program.run_index(t_pos, s_pos)
            row = {
                "step": updates_done * steps_per_update,
                "update": updates_done,
                "trial": trial.index,
                "seed": seed,
                "hparams": trial.hparams,
            }
            for name in sorted(metrics):
                value = metrics[name][r]
                row[name] = to_json_number(value[-1] if np.ndim(value) else value)
            rows.append(row)
    return rows


def _raise_error_flag(program: GroupProgram, carry: Any, steps_per_update: int, experiment: str) -> None:
    flag = getattr(carry, "error", None)
    if flag is None:
        return
    flag = jax.tree.map(lambda x: x[: program.num_runs], fetch(flag))
    is_set = np.asarray(flag.set)
    if not is_set.any():
        return
    r = int(np.argmax(is_set))
    trial = program.group.trials[r // len(program.seeds)]
    seed = program.seeds[r % len(program.seeds)]
    one = jax.tree.map(lambda x: x[r], flag)
    label = hparams_label(trial.hparams) or "default"
    raise_if_set(one, steps_per_update, where=f"[{experiment}] trial {trial.index} ({label}), seed {seed}: ")


def run_experiment(
    experiment: Experiment,
    seeds: Union[int, Sequence[int]] = 1,
    overrides: Optional[Mapping[str, Any]] = None,
    sweep: Optional[Mapping[str, Sequence[Any]]] = None,
    out: Optional[str] = None,
    total_steps: Optional[int] = None,
    chunks: Optional[int] = None,
    log_every: Optional[int] = None,
    checkpoint_every: int = 1,
    keep_checkpoints: int = 3,
    resume: bool = False,
    tensorboard: bool = False,
    quiet: bool = False,
    plot: bool = True,
    devices: Optional[Sequence[Any]] = None,
    on_chunk: Optional[Callable[[ChunkInfo], None]] = None,
    source: Optional[str] = None,
    stream: Any = None,
) -> dict:
    """Runs seeds x trials of `experiment` and returns the summary (also summary.json).

    overrides: {"agent.lr": 1e-3, "env.size": 8, ...}; sweep: {"agent.lr": [1e-3, 3e-4]}
    (grid = product); values may be strings (as on the command line) or Python values.
    chunks / log_every: how many updates between logs, checkpoints and progress
    (default: 20 chunks). checkpoint_every: in chunks (0: only at the end).
    resume: continue the run in `out` from its checkpoints (settings must match).
    on_chunk: called after every chunk (tests interrupt a run by raising from it).
    """
    start = time.perf_counter()
    stream = stream or sys.stdout
    plan = make_plan(experiment, seeds, overrides, sweep, total_steps, chunks, log_every, source)
    if checkpoint_every < 0:
        raise ValueError(f"--checkpoint-every must be >= 0, got {checkpoint_every}")
    if resume:
        if out is None:
            raise ValueError("resume needs the run directory (out=...)")
        check_resumable(out, plan)
    else:
        out = out or default_out_dir(experiment.name)
        if os.path.exists(os.path.join(out, CONFIG_FILE)):
            raise RunDirError(f"{out} already holds a run; use --resume {out} to continue it, or another --out")
        os.makedirs(out, exist_ok=True)
        write_json(os.path.join(out, CONFIG_FILE), plan.config)

    say = (lambda text: None) if quiet else (lambda text: print(text, file=stream, flush=True))
    say(f"[{experiment.name}] {describe_groups(plan.groups, len(plan.seeds))}")
    say(f"[{experiment.name}] run directory: {out}")

    num_runs = len(plan.trials) * len(plan.seeds)
    total = sum(g.num_updates * g.steps_per_update for g in plan.groups)
    progress = Progress(total, num_runs, experiment.name, quiet=quiet, stream=stream)
    log = MetricsLog(out)
    board = TensorBoard(out) if tensorboard else None
    compile_s = train_s = 0.0
    compiles = 0
    steps_run = 0  # env steps executed in this invocation, summed over runs
    try:
        for group in plan.groups:
            program = GroupProgram.build(group, plan.seeds, devices)
            lengths = plan.chunk_updates[group.index]
            ckpt_dir = os.path.join(out, CHECKPOINT_DIR, f"group{group.index}")
            done_chunks, carry = 0, None
            if resume:
                restored = checkpoint.restore(ckpt_dir, program.abstract_carry(), warn=progress.message)
                if restored is not None:
                    carry, meta = restored
                    if meta["meta"].get("fingerprint") != plan.fingerprint:
                        raise RunDirError(f"checkpoint in {ckpt_dir} belongs to another configuration")
                    done_chunks = int(meta["step"])
                    progress.message(f"[{experiment.name}] program {group.index}: resuming after chunk {done_chunks}/{len(lengths)}")
            progress.skip(sum(lengths[:done_chunks]) * group.steps_per_update)
            if done_chunks == len(lengths):
                continue
            if carry is None:
                carry = program.init()
            for c in range(done_chunks, len(lengths)):
                compile_before = program.compile_s
                t0 = time.perf_counter()
                carry, metrics = program.chunk(carry, lengths[c])
                metrics = fetch(metrics)
                seconds = time.perf_counter() - t0 - (program.compile_s - compile_before)
                train_s += seconds
                updates_done = sum(lengths[: c + 1])
                steps_run += lengths[c] * group.steps_per_update * program.num_runs
                _raise_error_flag(program, carry, group.steps_per_update, experiment.name)
                rows = _rows_for_chunk(program, {k: v[: program.num_runs] for k, v in metrics.items()}, updates_done, group.steps_per_update)
                log.write(rows)
                if board is not None:
                    board.write(rows)
                shown = headline_metric(metrics) or RETURN_KEY
                values = [r[shown] for r in rows if isinstance(r.get(shown), (int, float))]
                progress.advance(
                    lengths[c] * group.steps_per_update,
                    seconds,
                    f"program {group.index + 1}/{len(plan.groups)} chunk {c + 1}/{len(lengths)}",
                    float(np.mean(values)) if values else None,
                    "return" if shown == RETURN_KEY else shown,
                )
                last = c + 1 == len(lengths)
                save = last or (checkpoint_every > 0 and (c + 1) % checkpoint_every == 0)
                if save:
                    checkpoint.save(
                        ckpt_dir,
                        c + 1,
                        carry,
                        {"fingerprint": plan.fingerprint, "group": group.index, "updates_done": updates_done},
                        keep=keep_checkpoints,
                    )
                if on_chunk is not None:
                    on_chunk(ChunkInfo(group.index, c + 1, len(lengths), updates_done, updates_done * group.steps_per_update, save))
            compile_s += program.compile_s
            compiles += program.compiles
    except KeyboardInterrupt:
        progress.close()
        print(f"[{experiment.name}] interrupted; continue with: jaxrl-actions run --resume {out}", file=sys.stderr)
        raise
    finally:
        log.close()
        if board is not None:
            board.close()
    progress.close()

    wall_s = time.perf_counter() - start
    rows = read_rows(os.path.join(out, METRICS_FILE))
    summary = {
        "experiment": experiment.name,
        "env": plan.config["env"],
        "agent": experiment.agent.name,
        "env_steps": max(g.num_updates * g.steps_per_update for g in plan.groups),
        "runs": num_runs,
        "wall_s": wall_s,
        "compile_s": compile_s,
        "train_s": train_s,
        "steps_per_s": steps_run / train_s if train_s > 0 else None,
        "compiles": compiles,
        "devices": len(devices) if devices is not None else jax.device_count(),
        "trials": summarize(rows, plan.config["trials"], plan.seeds),
    }
    write_json(os.path.join(out, SUMMARY_FILE), summary)
    plotted = headline_metric({k for r in rows for k in r})
    if plot and plotted is not None:
        from jaxrl_actions.plots import plot_runs

        try:
            plot_runs([out], os.path.join(out, "curves.png"), metric=plotted, title=experiment.name)
        except ValueError as err:  # e.g. no episode finished yet: nothing to draw
            say(f"[{experiment.name}] no curves.png: {err}")
    for t in summary["trials"]:
        final = t["final_metrics"].get(plotted) if plotted else None
        value = "n/a" if final is None else f"{final['mean']:.4g} +- {final['std']:.3g}"
        name = "return" if plotted == RETURN_KEY else plotted
        say(f"[{experiment.name}] trial {t['trial']} {hparams_label(t['hparams']) or '(defaults)'}: final {name} {value}")
    say(f"[{experiment.name}] {summary['env_steps']} env steps x {num_runs} runs in {wall_s:.1f}s (compile {compile_s:.1f}s)")
    return summary


def resume_run(run_dir: str, experiment: Optional[Experiment] = None, **kwargs: Any) -> dict:
    """Continues the run in `run_dir` with the settings recorded in its config.json (the
    experiment is re-loaded from the recorded source file unless given)."""
    saved = check_run_dir(run_dir)
    inv = saved.get("invocation", {})
    if experiment is None:
        experiment = load_run_experiment(run_dir, saved)
    settings = dict(
        seeds=inv.get("seeds", saved.get("seeds", 1)),
        overrides=inv.get("overrides"),
        sweep=inv.get("sweep"),
        chunks=inv.get("chunks"),
        log_every=inv.get("log_every"),
        source=inv.get("source"),
    )
    settings.update(kwargs)
    return run_experiment(experiment, out=run_dir, resume=True, **settings)


def load_run_experiment(run_dir: str, saved: Optional[dict] = None) -> Experiment:
    saved = saved or check_run_dir(run_dir)
    source = saved.get("invocation", {}).get("source")
    if not source or not os.path.isfile(source):
        raise RunDirError(
            f"{run_dir}/{CONFIG_FILE} records experiment source {source!r}, which is not a file; "
            "pass the experiment explicitly (jaxrl-actions run EXP --resume DIR)"
        )
    experiment, _ = load_experiment(source)
    return experiment
