"""Learning curves from run directories: mean over seeds with a bootstrap 95% CI band,
one line per trial, labelled by its hyper-parameters (and the run directory when several
are plotted). Matplotlib's Agg backend, so it works without a display."""
from __future__ import annotations

import os
from typing import NamedTuple, Optional, Sequence

import numpy as np

from jaxrl_actions.logging import METRICS_FILE, RETURN_KEY, hparams_label, read_rows


def bootstrap_ci(values: np.ndarray, num_resamples: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the mean over axis 0 (seeds), per column, by resampling seeds with
    replacement; a fixed seed makes plots reproducible. values: float[seeds, points]."""
    values = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.shape[0], size=(num_resamples, values.shape[0]))
    means = np.nanmean(values[idx], axis=1)  # [resamples, points]
    tail = (1.0 - level) / 2.0 * 100.0
    return np.nanpercentile(means, tail, axis=0), np.nanpercentile(means, 100.0 - tail, axis=0)


def curves(rows: Sequence[dict], metric: str = RETURN_KEY) -> dict[int, tuple[dict, np.ndarray, np.ndarray]]:
    """trial -> (hparams, steps[points], values[seeds, points]); points missing for a seed are NaN."""
    by_trial: dict[int, dict] = {}
    for row in rows:
        if row.get(metric) is None:
            continue
        entry = by_trial.setdefault(row["trial"], {"hparams": row.get("hparams", {}), "points": {}})
        entry["points"].setdefault(row["seed"], {})[row["step"]] = row[metric]
    out = {}
    for trial, entry in sorted(by_trial.items()):
        seeds = sorted(entry["points"])
        steps = np.asarray(sorted({s for p in entry["points"].values() for s in p}))
        values = np.full((len(seeds), len(steps)), np.nan)
        for i, seed in enumerate(seeds):
            for j, step in enumerate(steps):
                values[i, j] = entry["points"][seed].get(int(step), np.nan)
        out[trial] = (entry["hparams"], steps, values)
    return out


class Reference(NamedTuple):
    """A published point drawn next to the curves (e.g. a paper's mean and spread)."""

    env_steps: int
    mean: float
    spread: Optional[float]  # half-width of its error bar, or None
    label: str


def plot_runs(run_dirs: Sequence[str], out: str, metric: str = RETURN_KEY, title: Optional[str] = None,
              references: Sequence[Reference] = ()) -> str:
    """Writes a PNG of `metric` vs env steps for every trial of every run directory (mean over
    seeds; the shaded band is the bootstrap 95% CI of that mean), with `references` as points."""
    # An Agg canvas on a bare Figure: no pyplot global state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    lines = 0
    for run_dir in run_dirs:
        path = os.path.join(run_dir, METRICS_FILE)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{run_dir} is not a run directory: {METRICS_FILE} is missing")
        for trial, (hparams, steps, values) in curves(read_rows(path), metric).items():
            label = hparams_label(hparams) or f"trial {trial}"
            if len(run_dirs) > 1:
                label = f"{os.path.basename(os.path.normpath(run_dir))}: {label}"
            mean = np.nanmean(values, axis=0)
            (line,) = ax.plot(steps, mean, label=f"{label} (n={values.shape[0]})")
            if values.shape[0] > 1:
                low, high = bootstrap_ci(values)
                ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
            lines += 1
    for ref in references:
        ax.errorbar([ref.env_steps], [ref.mean], yerr=None if ref.spread is None else [[ref.spread], [ref.spread]],
                    fmt="*", markersize=10, capsize=4, label=ref.label)
    if lines == 0:
        raise ValueError(f"no {metric!r} values to plot in {', '.join(run_dirs)}")
    ax.text(0.01, 0.01, "shaded: bootstrap 95% CI of the mean over seeds", transform=ax.transAxes,
            fontsize="x-small", alpha=0.7)
    ax.set_xlabel("env steps")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title or ", ".join(os.path.basename(os.path.normpath(d)) for d in run_dirs))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    return out
