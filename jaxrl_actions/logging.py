"""Writers for a run directory and the live progress display.

    MetricsLog    metrics.jsonl: one JSON object per evaluation point per (trial, seed),
                  {"step", "update", "trial", "seed", "hparams", "episode_return", ...};
                  reopening an existing file keeps its rows and skips rows already there
                  (a resumed run re-executes the chunks after its last checkpoint)
    summarize     summary.json from the rows: final return per trial and seed
    Progress      a tqdm bar (env steps, steps/s, ETA, latest mean return) on a terminal,
                  one plain line per chunk otherwise, nothing when quiet
    TensorBoard   tensorboardX event files under DIR/tb/trial{i}_seed{j}
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
CONFIG_FILE = "config.json"
RETURN_KEY = "episode_return"


def to_json_number(value: Any) -> Any:
    """A scalar as a JSON value; float32 values keep their exact float32 digits."""
    arr = np.asarray(value)
    if arr.dtype == np.bool_:
        return bool(arr)
    if np.issubdtype(arr.dtype, np.integer):
        return int(arr)
    number = float(arr)
    if not math.isfinite(number):
        return None if math.isnan(number) else (1e308 if number > 0 else -1e308)
    return number


def write_json(path: str, data: Any) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def read_rows(path: str) -> list[dict]:
    """The rows of a metrics.jsonl; a torn last line (killed mid-write) is dropped."""
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i < len(lines) - 2:  # not the last line: real damage
                raise ValueError(f"{path}: line {i + 1} is not JSON") from None
    return rows


def row_key(row: Mapping[str, Any]) -> tuple:
    return (row["trial"], row["seed"], row["update"])


class MetricsLog:
    def __init__(self, run_dir: str):
        self.path = os.path.join(run_dir, METRICS_FILE)
        rows = read_rows(self.path)
        self._seen = {row_key(r) for r in rows}
        # rewrite without a torn last line, so appends start on a fresh line
        with open(self.path, "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        self._file = open(self.path, "a")

    def write(self, rows: Iterable[dict]) -> int:
        """Appends rows not written before; returns how many were new."""
        new = 0
        for row in rows:
            key = row_key(row)
            if key in self._seen:
                continue
            self._seen.add(key)
            self._file.write(json.dumps(row) + "\n")
            new += 1
        self._file.flush()
        return new

    def close(self) -> None:
        self._file.close()


def hparams_label(hparams: Mapping[str, Any]) -> str:
    """`agent.lr=0.001, variant=masked` (the `agent.` prefix dropped for brevity)."""
    parts = []
    for key, value in hparams.items():
        short = key[len("agent."):] if key.startswith("agent.") else key
        parts.append(f"{short}={json.dumps(value) if not isinstance(value, str) else value}")
    return ", ".join(parts)


ROW_FIELDS = ("step", "update", "trial", "seed", "hparams")


def headline_metric(names: Iterable[str]) -> Optional[str]:
    """The metric to show and plot: episode_return when the loop reports it (e.g. bandit
    loops report regret instead), else the first other metric by name."""
    names = sorted(n for n in names if n not in ROW_FIELDS and n != "env_steps")
    return RETURN_KEY if RETURN_KEY in names else (names[0] if names else None)


def summarize(rows: Sequence[dict], trials: Sequence[Mapping[str, Any]], seeds: Sequence[int]) -> list[dict]:
    """Per trial: hparams, seeds, final return mean/std over seeds and per seed (the last
    row of each (trial, seed)), the env steps it reached, and every metric's final mean/std."""
    last: dict[tuple, dict] = {}
    for row in rows:
        key = (row["trial"], row["seed"])
        if key not in last or row["update"] >= last[key]["update"]:
            last[key] = row
    out = []
    for trial in trials:
        finals = [last.get((trial["trial"], s), {}).get(RETURN_KEY) for s in seeds]
        done = [f for f in finals if f is not None]
        ends = [last[(trial["trial"], s)] for s in seeds if (trial["trial"], s) in last]
        names = sorted({k for r in ends for k, v in r.items() if k not in ROW_FIELDS and isinstance(v, (int, float))})
        final_metrics = {}
        for name in names:
            values = [r[name] for r in ends if isinstance(r.get(name), (int, float))]
            final_metrics[name] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
        out.append(
            {
                "trial": trial["trial"],
                "hparams": trial["hparams"],
                "seeds": list(seeds),
                "final_return_mean": float(np.mean(done)) if done else None,
                "final_return_std": float(np.std(done)) if done else None,
                "final_return_per_seed": finals,
                "env_steps": max((r["step"] for r in ends), default=0),
                "final_metrics": final_metrics,  # every metric's last value: mean/std over seeds
            }
        )
    return out


def _format_count(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


class Progress:
    """Env steps per run (all runs advance together), throughput over all runs, ETA."""

    def __init__(self, total_steps: int, num_runs: int, label: str, quiet: bool = False, stream: Any = None):
        self.total = int(total_steps)
        self.num_runs = num_runs
        self.label = label
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.done = 0
        self._start = time.perf_counter()
        self._steps_timed = 0  # env steps counted since the clock started (excludes compiles)
        self._time = 0.0
        self._bar = None
        if not quiet and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=label, unit="step", unit_scale=True, file=self.stream, dynamic_ncols=True)

    def skip(self, steps: int) -> None:
        """Steps already done before this invocation (a resumed run)."""
        self.done += steps
        if self._bar is not None:
            self._bar.update(steps)

    def advance(self, steps: int, seconds: float, note: str, value: Optional[float], metric: str = "return") -> None:
        self.done += steps
        self._steps_timed += steps
        self._time += seconds
        rate = self._steps_timed * self.num_runs / self._time if self._time > 0 else float("nan")
        ret = f"{metric} " + ("n/a" if value is None else f"{value:.4g}")
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(f"{_format_count(rate)} steps/s (all runs), {ret}, {note}")
            self._bar.update(steps)
            return
        remaining = self.total - self.done
        eta = remaining / (self._steps_timed / self._time) if self._steps_timed and self._time > 0 else float("nan")
        pct = 100.0 * self.done / max(self.total, 1)
        print(
            f"[{self.label}] {note} step {self.done}/{self.total} ({pct:.0f}%) "
            f"{_format_count(rate)} steps/s ETA {eta:.0f}s {ret}",
            file=self.stream,
            flush=True,
        )

    def message(self, text: str) -> None:
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class TensorBoard:
    """One event file per (trial, seed): DIR/tb/trial{i}_seed{j}."""

    def __init__(self, run_dir: str):
        from tensorboardX import SummaryWriter

        self._root = os.path.join(run_dir, "tb")
        self._writers: dict[tuple, Any] = {}
        self._cls = SummaryWriter

    def write(self, rows: Iterable[dict]) -> None:
        for row in rows:
            key = (row["trial"], row["seed"])
            if key not in self._writers:
                self._writers[key] = self._cls(os.path.join(self._root, f"trial{key[0]}_seed{key[1]}"))
            writer = self._writers[key]
            for name, value in row.items():
                if name in ("step", "update", "trial", "seed", "hparams") or not isinstance(value, (int, float)):
                    continue
                writer.add_scalar(name, value, row["step"])

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
