"""Shared by the study scripts that write DIR/<name>.json and DIR/<name>.md."""
from __future__ import annotations

import json
import os

import numpy as np


def mean_ci(values) -> dict:
    """{"mean", "ci95" (normal approximation over the values), "per_instance"}."""
    values = np.asarray(values, np.float64)
    ci = 1.96 * values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    return {"mean": float(values.mean()), "ci95": float(ci), "per_instance": values.tolist()}


def write_study(out: str, name: str, results: dict, table: str) -> None:
    """Writes out/name.json and out/name.md and prints the table."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(out, f"{name}.md"), "w") as f:
        f.write(table)
    print(table)
