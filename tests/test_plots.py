"""Learning-curve plots: bootstrap interval and PNG output."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from jaxrl_actions.plots import bootstrap_ci, curves, plot_runs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible():
    rng = np.random.default_rng(1)
    values = rng.normal(5.0, 1.0, size=(8, 3))
    low, high = bootstrap_ci(values)
    mean = values.mean(axis=0)
    assert np.all(low < mean) and np.all(mean < high)
    np.testing.assert_array_equal((low, high), bootstrap_ci(values))  # fixed seed
    # more seeds, narrower interval; no spread, no width
    wide = np.subtract(*bootstrap_ci(rng.normal(0, 1, (4, 1)))[::-1])
    narrow = np.subtract(*bootstrap_ci(rng.normal(0, 1, (400, 1)))[::-1])
    assert narrow < wide
    low, high = bootstrap_ci(np.full((5, 2), 3.0))
    np.testing.assert_array_equal(low, high)


def _write_run(path, lrs=(0.1, 0.3), seeds=(0, 1, 2)):
    os.makedirs(path)
    with open(os.path.join(path, "metrics.jsonl"), "w") as f:
        for t, lr in enumerate(lrs):
            for s in seeds:
                for u in (1, 2, 3):
                    row = {"step": 8 * u, "update": u, "trial": t, "seed": s, "hparams": {"agent.lr": lr},
                           "episode_return": lr * u + 0.01 * s}
                    f.write(json.dumps(row) + "\n")
    return str(path)


def test_curves_group_by_trial_and_seed(tmp_path):
    run = _write_run(tmp_path / "a")
    from jaxrl_actions.logging import read_rows

    out = curves(read_rows(os.path.join(run, "metrics.jsonl")))
    hparams, steps, values = out[1]
    assert hparams == {"agent.lr": 0.3} and list(steps) == [8, 16, 24] and values.shape == (3, 3)
    np.testing.assert_allclose(values[2], [0.32, 0.62, 0.92])


def test_plot_writes_a_png_for_one_or_many_runs(tmp_path):
    import matplotlib.image

    a, b = _write_run(tmp_path / "a"), _write_run(tmp_path / "b", lrs=(0.5,), seeds=(0,))
    out = plot_runs([a, b], str(tmp_path / "plots" / "c.png"))
    with open(out, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    image = matplotlib.image.imread(out)
    assert image.shape[0] > 100 and image.shape[1] > 100
    with pytest.raises(FileNotFoundError, match="metrics.jsonl is missing"):
        plot_runs([str(tmp_path)], str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="no 'loss' values"):
        plot_runs([a], str(tmp_path / "x.png"), metric="loss")
