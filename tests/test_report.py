"""`jaxrl-actions report`: ours next to published numbers at matched env steps."""
import json
import os
import shutil

import pytest

from jaxrl_actions import cli
from jaxrl_actions.run import run_experiment
from jaxrl_actions.run.report import Published, load_published, ours_for, table_row
from test_runner import FAKE_EXPERIMENT


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("report") / "r")
    run_experiment(FAKE_EXPERIMENT, seeds=2, chunks=4, out=out, quiet=True, plot=False)
    return out


def _published(tmp_path, **changes):
    record = dict(experiment="fake", variant=None, method="fake method", task="copy bit", env_steps=60, mean=8.0,
                  spread=1.0, spread_kind="std over 5 seeds", source="Table 1 of a paper")
    record.update(changes)
    path = tmp_path / "published.json"
    path.write_text(json.dumps([record]))
    return str(path)


def test_ours_is_the_seed_mean_at_the_last_point_not_past_the_papers_steps(run_dir, tmp_path):
    record = load_published(_published(tmp_path))[0]
    rows = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))]
    steps = sorted({r["step"] for r in rows})  # 4 chunks of 96 env steps: 24, 48, 72, 96
    ours = ours_for(record, [run_dir])
    assert ours.env_steps == max(s for s in steps if s <= 60) and ours.budget == steps[-1] and ours.seeds == 2
    expected = [r["episode_return"] for r in rows if r["step"] == ours.env_steps]
    assert ours.mean == pytest.approx(sum(expected) / len(expected))
    assert ours_for(record._replace(experiment="other"), [run_dir]) is None


def test_report_command_writes_a_section_and_plots(run_dir, tmp_path, capsys):
    out = tmp_path / "results.md"
    out.write_text("# Results\n\nhand-written text\n")
    args = ["report", run_dir, "--published", _published(tmp_path), "-o", str(out), "--section", "fake",
            "--plots", str(tmp_path / "plots")]
    assert cli.main(args) == 0
    assert cli.main(args) == 0  # a second run replaces the section, not appends
    text = out.read_text()
    assert text.startswith("# Results\n\nhand-written text") and text.count("<!-- report:fake -->") == 1
    row = next(line for line in text.splitlines() if line.startswith("| fake method"))
    assert "8.0 ± 1.0 (std over 5 seeds)" in row and "Table 1 of a paper" in row and "2 seeds, 96 steps" in row
    assert os.path.isfile(tmp_path / "plots" / "copy_bit.png") and "copy_bit.png" in text


def test_greedy_eval_gets_its_own_column_and_is_compared_at_matched_steps(run_dir, tmp_path):
    """eval.json (deterministic) adds the greedy return, the papers' protocol; the gap uses it
    when the run's budget is the paper's env steps, else the training return."""
    record = load_published(_published(tmp_path))[0]
    assert ours_for(record, [run_dir]).greedy is None
    copy = tmp_path / "with_eval"
    shutil.copytree(run_dir, copy)
    evaluation = {"episodes": 3, "deterministic": True, "seed": 0, "trials": [
        {"trial": 0, "hparams": {}, "seeds": [0, 1], "return_mean": 9.5, "return_std": 0.5,
         "return_per_seed": [9.0, 10.0], "updates_done": 4}]}
    (copy / "eval.json").write_text(json.dumps(evaluation))
    ours = ours_for(record, [str(copy)])
    assert ours.greedy.mean == 9.5 and ours.greedy.std == pytest.approx(0.5) and ours.greedy.env_steps == 96
    row = table_row(record, ours)
    assert "9.5 ± 0.5 (3 episodes per seed, at 96 steps)" in row
    assert f"{ours.mean - 8.0:+.1f} " in row  # the paper's 60 steps are not the budget's 96: training return
    matched = table_row(record._replace(env_steps=96), ours)
    assert "+1.5 (greedy) ✗" in matched  # |9.5 - 8.0| > 1.0
    (copy / "eval.json").write_text(json.dumps({**evaluation, "deterministic": False}))
    assert ours_for(record, [str(copy)]).greedy is None  # stochastic evaluations are not the papers'


def test_unavailable_published_number_and_bad_records(run_dir, tmp_path):
    record = Published("fake", None, "m", "t", 60, None, None, "", "not readable here: Figure 3")
    row = table_row(record, ours_for(record, [run_dir]))
    assert "| n/a |" in row and "not readable here: Figure 3" in row
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"experiment": "fake", "colour": "red"}]))
    with pytest.raises(ValueError, match=r"unknown fields \['colour'\]"):
        load_published(str(bad))
