"""Results tables: ours from run directories next to published numbers at matched env steps.

    jaxrl-actions report RUN_DIR [RUN_DIR ...] --published experiments/reproduce/published.json \
        -o docs/results.md --section dmc [--plots docs/plots]

A published record names the experiment and variant that reproduce it, the paper's task and
env steps, its mean and spread and where the number comes from. For each record, ours is
the mean over seeds of the run directory's `episode_return` (training episodes, exploration
on) at the last logged point at or before the paper's env steps (the table says when our
budget stopped short of them); where the run directory holds a deterministic `eval.json`
(`jaxrl-actions eval DIR --deterministic`), a second column gives the greedy policy's return
at the end of the budget, the papers' protocol. One plot per task shows our curves with the
published points.

With `--section NAME` the table replaces the text between `<!-- report:NAME -->` and
`<!-- /report:NAME -->` in the output file (added at its end the first time), so one
results page can hold several generated tables next to hand-written text.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, NamedTuple, Optional, Sequence

import numpy as np

from jaxrl_actions.logging import CONFIG_FILE, METRICS_FILE, RETURN_KEY, SUMMARY_FILE, read_rows
from jaxrl_actions.plots import Reference, plot_runs


class Published(NamedTuple):
    """One published number (a row of the published-results file)."""

    experiment: str  # our experiment that reproduces it
    variant: Optional[str]  # its variant (None: the experiment's only trial)
    method: str
    task: str  # the paper's task, e.g. "DMC cartpole-swingup"
    env_steps: int
    mean: Optional[float]  # None: not available here (the table says where to read it)
    spread: Optional[float]
    spread_kind: str  # e.g. "std over 10 seeds", "95% CI", "min-max"
    source: str  # paper table/figure (and "read off the figure, approximate"), or the authors' logs
    env_note: str = ""  # how our env differs from the paper's, if it does
    our_env: Optional[str] = None  # the registered env our run must use (None: any)


class Ours(NamedTuple):
    """Our result for one (run directory, trial) at a given env-step count."""

    run_dir: str
    env: str
    env_steps: int  # the logged point used
    budget: int  # the run's total env steps
    mean: float
    std: float
    seeds: int
    machine: str
    wall_s: Optional[float]
    greedy: Optional["GreedyEval"] = None  # from eval.json, when evaluated deterministically


class GreedyEval(NamedTuple):
    """The greedy policy's return at the end of a run (`jaxrl-actions eval --deterministic`)."""

    mean: float  # over seeds x episodes
    std: float  # of the per-seed means
    episodes: int  # per seed
    env_steps: int


EVAL_FILE = "eval.json"


def load_published(path: str) -> list[Published]:
    with open(path) as f:
        records = json.load(f)
    fields = set(Published._fields)
    out = []
    for i, record in enumerate(records):
        unknown = set(record) - fields
        if unknown:
            raise ValueError(f"{path} record {i}: unknown fields {sorted(unknown)}; known: {sorted(fields)}")
        out.append(Published(**record))
    return out


def _variant_trials(config: dict, variant: Optional[str]) -> list[int]:
    return [t["trial"] for t in config["trials"] if variant is None or t.get("variant") == variant]


def ours_for(record: Published, run_dirs: Sequence[str]) -> Optional[Ours]:
    """Our mean over seeds at the last logged point <= the paper's env steps, from the first
    run directory of the record's experiment that has its variant."""
    for run_dir in run_dirs:
        with open(os.path.join(run_dir, CONFIG_FILE)) as f:
            config = json.load(f)
        trials = _variant_trials(config, record.variant)
        if config["experiment"] != record.experiment or not trials or record.our_env not in (None, config["env"]):
            continue
        rows = [r for r in read_rows(os.path.join(run_dir, METRICS_FILE))
                if r["trial"] == trials[0] and r.get(RETURN_KEY) is not None]
        if not rows:
            continue
        steps = sorted({r["step"] for r in rows})
        at = max([s for s in steps if s <= record.env_steps], default=steps[0])
        values = np.asarray([r[RETURN_KEY] for r in rows if r["step"] == at], np.float64)
        summary = _read_json(os.path.join(run_dir, SUMMARY_FILE)) or {}
        return Ours(run_dir, config["env"], at, steps[-1], float(values.mean()), float(values.std()), len(values),
                    summary.get("machine", "stopped before its configured budget: no summary.json"), summary.get("wall_s"),
                    greedy_eval(run_dir, trials[0], steps[-1]))
    return None


def greedy_eval(run_dir: str, trial: int, budget: int) -> Optional[GreedyEval]:
    """The deterministic evaluation of `trial` in the run directory's eval.json, if any."""
    result = _read_json(os.path.join(run_dir, EVAL_FILE))
    if not result or not result.get("deterministic"):
        return None
    for entry in result["trials"]:
        if entry["trial"] == trial:
            per_seed = np.asarray(entry["return_per_seed"], np.float64)
            return GreedyEval(float(entry["return_mean"]), float(per_seed.std()), int(result["episodes"]), budget)
    return None


def _read_json(path: str) -> Optional[dict]:
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def _number(mean: Optional[float], spread: Optional[float]) -> str:
    if mean is None:
        return "n/a"
    return f"{mean:.1f}" if spread is None else f"{mean:.1f} ± {spread:.1f}"


def table_row(record: Published, ours: Optional[Ours]) -> str:
    published = _number(record.mean, record.spread) + (f" ({record.spread_kind})" if record.mean is not None else "")
    if ours is None:
        return (f"| {record.method} | {record.task} | — | {record.env_steps:,} | not run | — | {published} | — | "
                f"{record.source} |")
    steps = f"{ours.env_steps:,}" + ("" if ours.env_steps == record.env_steps else " (budget stops short)"
                                    if ours.env_steps < record.env_steps else "")
    # The papers report greedy evaluations: compare with ours where it is at the paper's steps.
    matched_greedy = ours.greedy is not None and ours.greedy.env_steps == record.env_steps
    compared = ours.greedy.mean if matched_greedy else ours.mean
    gap = "—" if record.mean is None else f"{compared - record.mean:+.1f}" + (" (greedy)" if matched_greedy else "")
    within = "" if record.mean is None or record.spread is None else (
        " ✓" if abs(compared - record.mean) <= record.spread else " ✗")
    env = ours.env + (f" ({record.env_note})" if record.env_note else "")
    budget = f"{ours.seeds} seeds, {ours.budget:,} steps, {ours.machine}" + (
        f", {ours.wall_s / 60:.0f} min" if ours.wall_s else "")
    greedy = "—" if ours.greedy is None else (
        f"{ours.greedy.mean:.1f} ± {ours.greedy.std:.1f} ({ours.greedy.episodes} episodes per seed, "
        f"at {ours.greedy.env_steps:,} steps)")
    return (f"| {record.method} | {record.task} | {env} | {steps} vs {record.env_steps:,} | "
            f"{ours.mean:.1f} ± {ours.std:.1f} ({budget}) | {greedy} | {published} | {gap}{within} | {record.source} |")


HEADER = ("| method | paper task | our env | env steps (ours vs paper) | ours: training episodes (mean ± std over "
          "seeds; budget) | ours: greedy eval | published | ours − published | source of the published number |"
          "\n|---|---|---|---|---|---|---|---|---|")


def results_table(records: Sequence[Published], run_dirs: Sequence[str]) -> str:
    return "\n".join([HEADER] + [table_row(r, ours_for(r, run_dirs)) for r in records])


def task_plots(records: Sequence[Published], run_dirs: Sequence[str], folder: str) -> list[str]:
    """One PNG per paper task: our run directories' curves and the published points."""
    written = []
    for task in sorted({r.task for r in records}):
        mine = [r for r in records if r.task == task]
        dirs = [d for d in run_dirs if any(ours_for(r, [d]) for r in mine)]
        if not dirs:
            continue
        refs = [Reference(r.env_steps, r.mean, r.spread, f"{r.method} (published)") for r in mine if r.mean is not None]
        name = re.sub(r"[^a-z0-9]+", "_", task.lower()).strip("_") + ".png"
        written.append(plot_runs(dirs, os.path.join(folder, name), title=task, references=refs))
    return written


def replace_section(text: str, section: str, body: str) -> str:
    start, end = f"<!-- report:{section} -->", f"<!-- /report:{section} -->"
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        return text[: text.index(start)] + block + text[text.index(end) + len(end):]
    return text.rstrip() + "\n\n" + block + "\n"


def write_report(run_dirs: Sequence[str], published: str, out: str, section: Optional[str] = None,
                 plots: Optional[str] = None) -> dict[str, Any]:
    """Writes the table (and plots); returns what it wrote."""
    for run_dir in run_dirs:
        if not os.path.isfile(os.path.join(run_dir, CONFIG_FILE)):
            raise FileNotFoundError(f"{run_dir} is not a run directory: {CONFIG_FILE} is missing")
    records = load_published(published)
    body = results_table(records, run_dirs)
    images = task_plots(records, run_dirs, plots) if plots else []
    if images:
        rel = os.path.dirname(os.path.abspath(out))
        body += "\n\n" + "\n".join(f"![{os.path.basename(p)}]({os.path.relpath(p, rel)})" for p in images)
    if section:
        text = open(out).read() if os.path.isfile(out) else ""
        body = replace_section(text, section, body)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(body if body.endswith("\n") else body + "\n")
    return {"out": out, "rows": len(records), "plots": images}
