"""The chunked runner: one experiment invocation (seeds x trials) from settings to a run
directory.

    run_experiment(experiment, RunOptions(seeds=4, sweep={"agent.lr": [1e-3, 3e-4]}, out="runs/x"))
    run_experiment(experiment, seeds=4, out="runs/x")        # the same, options as keywords

    options -> plan (trials checked on the host, compile groups, chunks)   run/plan.py
    open or check the run directory (config.json)
    per group:   carry = jit(vmap(init))(keys, configs)            # or restored checkpoint
                 for each chunk:                                     # K updates, jitted scan
                     carry, metrics = jit(vmap(run_chunk))(carry, configs)
                     raise the ErrorFlag, write metrics.jsonl rows, progress,
                     checkpoint every `checkpoint_every` chunks and at the end
    summary.json from metrics.jsonl, curves.png

The chunk is `common.run_chunk` (a `lax.scan` over the trainer's `update`), so chunked
and fused runs compute the same numbers; a resumed run re-executes from its last
checkpoint with the same compiled program and writes exactly the rows an uninterrupted
run would (rows already in metrics.jsonl are kept and not written twice). Timings
accumulate over the segments of a run: each checkpoint records the run's totals so far.

With several processes (`processes.initialize`, the CLI's `--coordinator`), every process
runs the same program on its shard of the run axis; process 0 alone writes config.json,
metrics.jsonl, summary.json, TensorBoard and plots, and checkpoints are written
collectively. config.json and each checkpoint record the process count: a run resumes
with as many processes as it started with.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from typing import Any, Callable, Mapping, Optional, Sequence, TextIO

import jax
import numpy as np

from jaxrl_actions import checkpoint
from jaxrl_actions.processes import barrier, gather, is_writer
from jaxrl_actions.logging import (
    CONFIG_FILE,
    METRICS_FILE,
    RETURN_KEY,
    SUMMARY_FILE,
    MetricsLog,
    Progress,
    TensorBoard,
    hparams_label,
    headline_metric,
    read_rows,
    summarize,
    to_json_number,
    write_json,
)
from jaxrl_actions.run.experiment import Experiment
from jaxrl_actions.run.plan import (
    CHECKPOINT_DIR,
    Plan,
    RunDirError,
    RunOptions,
    check_run_dir,
    default_out_dir,
    make_plan,
    plan_of_run_dir,
    resumable_plan,
)
from jaxrl_actions.run.programs import Group, GroupProgram, describe_groups
from jaxrl_actions.training.common import LEARN_PREFIX, LEARNED, raise_if_set


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
class Timings:
    """Totals over every segment of a run (an interrupted run resumes them from its last
    checkpoint); `steps_run` sums env steps over runs."""

    wall_s: float = 0.0
    compile_s: float = 0.0
    train_s: float = 0.0
    compiles: int = 0
    steps_run: int = 0

    def plus(self, other: "Timings") -> "Timings":
        return Timings(*(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other))))


@dataclasses.dataclass
class RunSession:
    """The host-side state of one invocation: its plan, writers and clocks."""

    plan: Plan
    out: str
    progress: Progress
    log: Optional[MetricsLog]  # None on processes other than 0
    board: Optional[TensorBoard]
    devices: Optional[Sequence[Any]]
    on_chunk: Optional[Callable[[ChunkInfo], None]]
    started: float  # perf_counter at the start of this segment
    earlier: Timings = dataclasses.field(default_factory=Timings)  # segments before this one
    programs: list = dataclasses.field(default_factory=list)  # [GroupProgram] built in this segment
    train_s: float = 0.0  # this segment's time in chunks, compiles excluded
    steps_run: int = 0  # this segment's env steps, summed over runs

    @property
    def name(self) -> str:
        return self.plan.experiment.name

    def totals(self) -> Timings:
        """The run's timings so far: earlier segments plus this one."""
        now = Timings(wall_s=time.perf_counter() - self.started,
                      compile_s=sum(p.compile_s for p in self.programs), train_s=self.train_s,
                      compiles=sum(p.compiles for p in self.programs), steps_run=self.steps_run)
        return self.earlier.plus(now)

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
        if self.board is not None:
            self.board.close()


# ---------------------------------------------------------------------------------------
# The run directory


PROCESSES_KEY = "processes"  # in config.json and checkpoint meta: the run's process count


def open_run_dir(plan: Plan, resume: bool) -> tuple[str, Plan]:
    """(run directory, plan to run): the directory made and given its config.json, or
    checked against the plan (and this invocation's process count) to resume it."""
    out = plan.options.out
    if resume:
        if out is None:
            raise ValueError("resume needs the run directory (out=...)")
        plan = resumable_plan(out, plan)
        check_process_count(out)
        return out, plan
    out = out or default_out_dir(plan.experiment.name)
    if jax.process_count() > 1 and plan.options.out is None:
        raise RunDirError("a run with several processes needs --out DIR (one directory every process sees)")
    if os.path.exists(os.path.join(out, CONFIG_FILE)):
        raise RunDirError(f"{out} already holds a run; use --resume {out} to continue it, or another --out")
    barrier(f"run-dir-checked {out}")  # every process looked before process 0 writes
    problem = make_run_dir(out, {**plan.config, PROCESSES_KEY: jax.process_count()}) if is_writer() else None
    if jax.process_count() > 1:  # the others learn whether process 0 could write it
        from jax.experimental import multihost_utils

        failed = bool(multihost_utils.broadcast_one_to_all(np.int32(problem is not None)))
        if failed and problem is None:
            problem = f"process 0 could not write the run directory {out}"
    if problem is not None:
        raise RunDirError(problem)
    return out, plan


def make_run_dir(out: str, config: dict) -> Optional[str]:
    """Makes `out` with its config.json; returns what went wrong, or None."""
    try:
        os.makedirs(out, exist_ok=True)
        write_json(os.path.join(out, CONFIG_FILE), config)
    except (FileExistsError, NotADirectoryError) as err:
        return f"cannot make run directory {out}: a file is in the way ({err.filename})"
    except PermissionError as err:
        return f"cannot write run directory {out}: permission denied ({err.filename})"
    except OSError as err:
        return f"cannot write run directory {out}: {err.strerror} ({err.filename})"
    return None


def check_process_count(run_dir: str) -> None:
    """A run resumes with the process count it started with (its run axis is padded to,
    and its checkpoints sharded over, that many processes' devices)."""
    saved = check_run_dir(run_dir).get(PROCESSES_KEY, 1)  # run directories from before: one process
    now = jax.process_count()
    if saved != now:
        how = (f"--num-processes {saved}, each process with its --process-id and the same --coordinator"
               if saved > 1 else "one process, without --coordinator/--num-processes")
        raise RunDirError(f"cannot resume {run_dir}: it was run by {saved} process(es) and this invocation "
                          f"has {now}; resume it with {saved} process(es) ({how})")


def start_session(plan: Plan, out: str, devices, on_chunk, stream: TextIO) -> RunSession:
    writer = is_writer()
    quiet = plan.options.quiet or not writer
    num_runs = len(plan.trials) * len(plan.seeds)
    total = sum(g.num_updates * g.steps_per_update for g in plan.groups)
    return RunSession(
        plan=plan, out=out, devices=devices, on_chunk=on_chunk, started=time.perf_counter(),
        progress=Progress(total, num_runs, plan.experiment.name, quiet=quiet, stream=stream),
        log=MetricsLog(out) if writer else None,
        board=TensorBoard(out) if plan.options.tensorboard and writer else None,
    )


# ---------------------------------------------------------------------------------------
# One group: restore or init, then its chunks


def value_at_chunk_end(name: str, values: np.ndarray, learned: Optional[np.ndarray]) -> Any:
    """A metric's value at the chunk's last update ([length] values of one run); a learner
    metric's at the last update that learned, where the loop says which did (`LEARNED`)."""
    if np.ndim(values) == 0:
        return values
    if learned is not None and name.startswith(LEARN_PREFIX) and np.any(learned > 0):
        return values[np.flatnonzero(learned > 0)[-1]]
    return values[-1]


def rows_for_chunk(program: GroupProgram, metrics: Mapping[str, np.ndarray], updates_done: int) -> list[dict]:
    """One row per (trial, seed) with each metric's value at the chunk's last update
    (learner metrics: at its last learning phase)."""
    steps_per_update = program.group.steps_per_update
    rows = []
    for t_pos, trial in enumerate(program.group.trials):
        for s_pos, seed in enumerate(program.seeds):
            r = program.run_index(t_pos, s_pos)
            row = {"step": updates_done * steps_per_update, "update": updates_done, "trial": trial.index,
                   "seed": seed, "hparams": trial.hparams}
            learned = metrics[LEARNED][r] if LEARNED in metrics else None
            for name in sorted(metrics):
                row[name] = to_json_number(value_at_chunk_end(name, metrics[name][r], learned))
            rows.append(row)
    return rows


def raise_error_flag(program: GroupProgram, carry: Any, experiment: str) -> None:
    """Raises the loop's checked error (an empty mask) naming the trial and seed."""
    flag = getattr(carry, "error", None)
    if flag is None:
        return
    flag = jax.tree.map(lambda x: x[: program.num_runs], gather(flag))
    is_set = np.asarray(flag.set)
    if not is_set.any():
        return
    r = int(np.argmax(is_set))
    trial = program.group.trials[r // len(program.seeds)]
    seed = program.seeds[r % len(program.seeds)]
    one = jax.tree.map(lambda x: x[r], flag)
    label = hparams_label(trial.hparams) or "default"
    raise_if_set(one, program.group.steps_per_update, where=f"[{experiment}] trial {trial.index} ({label}), seed {seed}: ")


def restore_group(session: RunSession, program: GroupProgram, ckpt_dir: str) -> tuple[Any, int]:
    """(carry, chunks done) from the group's newest good checkpoint, or (None, 0)."""
    restored = checkpoint.restore(ckpt_dir, program.abstract_carry(), warn=session.progress.message)
    if restored is None:
        return None, 0
    meta = restored.meta
    if meta.get("fingerprint") != session.plan.fingerprint:
        raise RunDirError(f"checkpoint in {ckpt_dir} belongs to another configuration")
    saved = Timings(**meta.get("timings", {}))
    if saved.wall_s > session.earlier.wall_s:  # the newest checkpoint holds the run's totals
        session.earlier = saved
    return restored.tree, restored.step


def run_chunk(session: RunSession, program: GroupProgram, carry: Any, chunk: int) -> Any:
    """One chunk of the group: run, check, log, show progress, checkpoint."""
    group = program.group
    lengths = session.plan.chunk_updates[group.index]
    compile_before = program.compile_s
    t0 = time.perf_counter()
    carry, metrics = program.chunk(carry, lengths[chunk])
    metrics = {k: v[: program.num_runs] for k, v in gather(metrics).items()}
    seconds = time.perf_counter() - t0 - (program.compile_s - compile_before)
    session.train_s += seconds
    session.steps_run += lengths[chunk] * group.steps_per_update * program.num_runs
    updates_done = sum(lengths[: chunk + 1])
    raise_error_flag(program, carry, session.name)
    rows = rows_for_chunk(program, metrics, updates_done)
    write_rows(session, rows)
    shown = headline_metric(metrics) or RETURN_KEY
    values = [r[shown] for r in rows if isinstance(r.get(shown), (int, float))]
    session.progress.advance(
        lengths[chunk] * group.steps_per_update, seconds,
        f"program {group.index + 1}/{len(session.plan.groups)} chunk {chunk + 1}/{len(lengths)}",
        float(np.mean(values)) if values else None, "return" if shown == RETURN_KEY else shown)
    every = session.plan.options.checkpoint_every
    save = chunk + 1 == len(lengths) or (every > 0 and (chunk + 1) % every == 0)
    if save:
        meta = {"fingerprint": session.plan.fingerprint, "group": group.index, "updates_done": updates_done,
                "timings": dataclasses.asdict(session.totals()), PROCESSES_KEY: jax.process_count(),
                "padded_runs": int(program.keys.shape[0])}
        checkpoint.save(group_checkpoint_dir(session.out, group), chunk + 1, carry, meta,
                        keep=session.plan.options.keep_checkpoints)
    if session.on_chunk is not None:
        session.on_chunk(ChunkInfo(group.index, chunk + 1, len(lengths), updates_done,
                                   updates_done * group.steps_per_update, save))
    return carry


def write_rows(session: RunSession, rows: list[dict]) -> None:
    if session.log is not None:
        session.log.write(rows)
    if session.board is not None:
        session.board.write(rows)


def group_checkpoint_dir(out: str, group: Group) -> str:
    return os.path.join(out, CHECKPOINT_DIR, f"group{group.index}")


def run_group(session: RunSession, group: Group, resume: bool) -> None:
    program = GroupProgram.build(group, session.plan.seeds, session.devices)
    session.programs.append(program)
    lengths = session.plan.chunk_updates[group.index]
    carry, done = restore_group(session, program, group_checkpoint_dir(session.out, group)) if resume else (None, 0)
    if done:
        session.progress.message(f"[{session.name}] program {group.index}: resuming after chunk {done}/{len(lengths)}")
    session.progress.skip(sum(lengths[:done]) * group.steps_per_update)
    if done == len(lengths):
        return
    carry = program.init() if carry is None else carry
    for chunk in range(done, len(lengths)):
        carry = run_chunk(session, program, carry, chunk)


# ---------------------------------------------------------------------------------------
# The summary


def write_summary(session: RunSession) -> dict:
    plan, totals = session.plan, session.totals()
    rows = read_rows(os.path.join(session.out, METRICS_FILE))
    summary = {
        "experiment": plan.experiment.name,
        "env": plan.config["env"],
        # the trials' agents: variants may swap the experiment's agent (e.g. bang-bang PPO next to SAC)
        "agent": ", ".join(sorted({t.experiment.agent.name for t in plan.trials})),
        "env_steps": max(g.num_updates * g.steps_per_update for g in plan.groups),
        "runs": len(plan.trials) * len(plan.seeds),
        "wall_s": totals.wall_s,
        "compile_s": totals.compile_s,
        "train_s": totals.train_s,
        "steps_per_s": totals.steps_run / totals.train_s if totals.train_s > 0 else None,
        "compiles": totals.compiles,
        "devices": len(session.devices) if session.devices is not None else jax.device_count(),
        "machine": machine(),
        "processes": jax.process_count(),
        "trials": summarize(rows, plan.config["trials"], plan.seeds),
    }
    if is_writer():
        write_json(os.path.join(session.out, SUMMARY_FILE), summary)
    return summary


def machine() -> str:
    """What ran the run, for results tables: device kind and count, host CPU cores."""
    device = jax.devices()[0]
    return f"{device.device_kind} x{jax.device_count()} ({device.platform}), {os.cpu_count()} CPU cores"


def add_references(session: RunSession, summary: dict, say: Callable[[str], None]) -> dict:
    """summary.json with the experiment's reference policies and the trained policies
    evaluated for the same episodes (`run/references.py`)."""
    from jaxrl_actions.run.references import reference_report

    summary = {**summary, "references": reference_report(session.plan, session.out)}
    if is_writer():
        write_json(os.path.join(session.out, SUMMARY_FILE), summary)
    for group in summary["references"]["groups"]:
        for mode, trials in group["agent"].items():
            for t in trials:
                say(f"[{session.name}] trained ({mode}), trial {t['trial']}: return {t['return_mean']:.4g}")
        for name, result in group["policies"].items():
            say(f"[{session.name}] reference {name}: return {result['return_mean']:.4g} +- {result['return_std']:.3g}")
    return summary


def write_curves(session: RunSession, summary: dict, say: Callable[[str], None]) -> Optional[str]:
    """curves.png of the headline metric (episode_return, or e.g. regret); returns its name."""
    rows = read_rows(os.path.join(session.out, METRICS_FILE))
    plotted = headline_metric({k for r in rows for k in r})
    if session.plan.options.plot and plotted is not None and is_writer():
        from jaxrl_actions.plots import plot_runs

        try:
            plot_runs([session.out], os.path.join(session.out, "curves.png"), metric=plotted, title=session.name)
        except ValueError as err:  # e.g. no episode finished yet: nothing to draw
            say(f"[{session.name}] no curves.png: {err}")
    return plotted


def trial_label(plan: Plan, hparams: Mapping[str, Any]) -> str:
    """A trial's swept settings, else the run's --set overrides, else "(defaults)"."""
    return hparams_label(hparams) or hparams_label(plan.config.get("overrides") or {}) or "(defaults)"


def report_finals(session: RunSession, summary: dict, plotted: Optional[str], say: Callable[[str], None]) -> None:
    name = "return" if plotted == RETURN_KEY else plotted
    for t in summary["trials"]:
        final = t["final_metrics"].get(plotted) if plotted else None
        value = "n/a" if final is None else f"{final['mean']:.4g} +- {final['std']:.3g}"
        say(f"[{session.name}] trial {t['trial']} {trial_label(session.plan, t['hparams'])}: final {name} {value}")
    say(f"[{session.name}] {summary['env_steps']} env steps x {summary['runs']} runs in {summary['wall_s']:.1f}s "
        f"({summary['compiles']} compilation(s), {summary['compile_s']:.1f}s); results in {session.out}")


# ---------------------------------------------------------------------------------------
# Entry points


def run_experiment(
    experiment: Experiment,
    options: Optional[RunOptions] = None,
    *,
    resume: bool = False,
    devices: Optional[Sequence[Any]] = None,
    on_chunk: Optional[Callable[[ChunkInfo], None]] = None,
    stream: Optional[TextIO] = None,
    **option_fields: Any,
) -> dict:
    """Runs seeds x trials of `experiment` and returns the summary (also summary.json).

    `options` (or its fields as keywords: seeds=4, overrides={...}, out=...) say how; see
    `RunOptions`. resume: continue the run in `options.out` from its checkpoints (the
    settings must match). on_chunk: called after every chunk (tests interrupt a run by
    raising from it). The final result lines are printed even when quiet."""
    stream = stream or sys.stdout
    options = dataclasses.replace(options or RunOptions(), **option_fields)
    plan = make_plan(experiment, options)
    out, plan = open_run_dir(plan, resume)
    show = print if is_writer() else (lambda *a, **k: None)
    say = (lambda text: None) if options.quiet else (lambda text: show(text, file=stream, flush=True))
    say(f"[{experiment.name}] {describe_groups(plan.groups, len(plan.seeds))}")
    say(f"[{experiment.name}] run directory: {out}")
    session = start_session(plan, out, devices, on_chunk, stream)
    try:
        for group in plan.groups:
            run_group(session, group, resume)
        if resume and session.steps_run == 0:
            say(f"[{experiment.name}] {out} had already finished: nothing to run")
    except KeyboardInterrupt:
        session.progress.close()
        print(f"[{experiment.name}] interrupted; continue with: jaxrl-actions run --resume {out}", file=sys.stderr)
        raise
    finally:
        session.close()
    session.progress.close()
    barrier(f"run-finished {out}")  # metrics.jsonl is complete before any process reads it
    summary = write_summary(session)
    if experiment.references:
        summary = add_references(session, summary, lambda text: show(text, file=stream, flush=True))
    plotted = write_curves(session, summary, say)
    report_finals(session, summary, plotted, lambda text: show(text, file=stream, flush=True))
    return summary


def resume_run(
    run_dir: str,
    experiment: Optional[Experiment] = None,
    *,
    devices: Optional[Sequence[Any]] = None,
    on_chunk: Optional[Callable[[ChunkInfo], None]] = None,
    stream: Optional[TextIO] = None,
    **changes: Any,
) -> dict:
    """Continues the run in `run_dir` with the options recorded in its config.json (the
    experiment is re-loaded from the recorded source file unless given); `changes`
    replace recorded options (quiet, tensorboard, ...); a different computation is refused."""
    experiment, plan = plan_of_run_dir(run_dir, experiment, **changes)
    return run_experiment(experiment, plan.options, resume=True, devices=devices, on_chunk=on_chunk, stream=stream)
