"""The command line: run / eval / plot / list, experiment help, and bad input (exit code 2,
a message naming the problem, nothing compiled)."""
from __future__ import annotations

import json
import os

import pytest

from jaxrl_actions import cli
from jaxrl_actions.run import experiment as experiment_mod
from test_runner import FAKE_EXPERIMENT, TRACES

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))

EXPERIMENT_FILE = f'''"""A fake experiment file for CLI tests."""
import sys
sys.path.insert(0, {TESTS_DIR!r})
from test_runner import FAKE_EXPERIMENT as EXPERIMENT
from jaxrl_actions.cli import main_for

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    (root / "experiments").mkdir()
    (root / "experiments" / "fake.py").write_text(EXPERIMENT_FILE)
    (root / "experiments" / "broken.py").write_text("EXPERIMENT = None\nraise RuntimeError('half written')\n")
    (root / "experiments" / "helper.py").write_text('"""A helper script."""\n')
    return root


@pytest.fixture(scope="module")
def finished_run(project):
    out = str(project / "runs" / "sweep")
    code = cli.main(["run", str(project / "experiments" / "fake.py"), "--seeds", "2", "--sweep", "agent.lr=0.1,0.3",
                     "--set", "env.episode_length=8", "--chunks", "2", "--out", out, "--quiet"])
    assert code == 0
    return out


def test_run_writes_the_run_directory(finished_run):
    for name in ("config.json", "metrics.jsonl", "summary.json", "curves.png", "checkpoints"):
        assert os.path.exists(os.path.join(finished_run, name)), name
    summary = json.load(open(os.path.join(finished_run, "summary.json")))
    assert [t["hparams"] for t in summary["trials"]] == [{"agent.lr": 0.1}, {"agent.lr": 0.3}]
    config = json.load(open(os.path.join(finished_run, "config.json")))
    assert config["invocation"]["source"].endswith("experiments/fake.py")


def test_eval_reports_mean_and_std_per_trial(finished_run, capsys):
    assert cli.main(["eval", finished_run, "--episodes", "3", "--deterministic"]) == 0
    out = capsys.readouterr().out
    assert "trial 0 lr=0.1: return 8 +- 0 (2 seeds x 3 episodes, deterministic, after 12 updates)" in out
    result = json.load(open(os.path.join(finished_run, "eval.json")))
    assert [t["return_per_seed"] for t in result["trials"]] == [[8.0, 8.0], [8.0, 8.0]]
    assert cli.main(["eval", finished_run, "--episodes", "16"]) == 0  # random guesses: about 4 of 8
    result = json.load(open(os.path.join(finished_run, "eval.json")))
    assert all(1.0 < t["return_mean"] < 7.0 and t["return_std"] > 0 for t in result["trials"])


def test_plot_and_resume_of_a_finished_run(finished_run, tmp_path, capsys):
    out = str(tmp_path / "c.png")
    assert cli.main(["plot", finished_run, finished_run, "-o", out]) == 0
    assert open(out, "rb").read(4) == b"\x89PNG"
    before = open(os.path.join(finished_run, "metrics.jsonl")).read()
    assert cli.main(["run", "--resume", finished_run, "--quiet"]) == 0  # experiment re-loaded from config.json
    assert open(os.path.join(finished_run, "metrics.jsonl")).read() == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "agent.gamma=0.9"], "unknown setting 'agent.gamma'"),
        (["--sweep", "agent.num_envs=2,many"], "agent.num_envs expects int, got 'many'"),
        (["--set", "lr"], "expected key=value, got 'lr'"),
        (["--total-steps", "64", "--set", "total_steps=32"], "agent.total_steps is both set (--set) and given as --total-steps"),
    ],
)
def test_bad_settings_exit_2_before_compiling(project, args, message, capsys, monkeypatch):
    monkeypatch.chdir(project)
    before = dict(TRACES)
    assert cli.main(["run", "fake", "--out", str(project / "never"), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    if "unknown" in message:
        assert "valid keys: agent.fail_at_update, agent.hidden, agent.lr" in err
    assert TRACES == before and not os.path.exists(project / "never" / "metrics.jsonl")


def test_unknown_experiment_and_non_run_dirs(project, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(project)
    assert cli.main(["run", "fak"]) == 2
    assert "no experiment 'fak'" in capsys.readouterr().err
    assert cli.main(["run", "--resume", str(tmp_path)]) == 2
    assert "is not a run directory: config.json is missing" in capsys.readouterr().err
    assert cli.main(["eval", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_experiment_help_lists_settings_with_defaults(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    assert cli.main(["run", "fake", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--sweep KEY=V1,V2" in out
    assert "agent.lr" in out and "numeric  0.1" in out
    assert "agent.num_envs" in out and "static   2" in out
    assert "env.episode_length" in out


def test_list_shows_agents_and_experiments(project, capsys, monkeypatch):
    monkeypatch.chdir(project)
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "envs:" in out and "agents:" in out
    assert "fake                     A fake experiment file" not in out  # the EXPERIMENT's description is shown
    assert "A fake trainer on a copy-bit env for workflow tests" in out
    assert "broken" in out and "cannot load: RuntimeError: half written" in out
    assert "[script] A helper script." in out


def test_experiment_file_main(project, tmp_path, capsys):
    out = str(tmp_path / "r")
    assert cli.main_for(FAKE_EXPERIMENT, ["--total-steps", "48", "--out", out, "--quiet", "--no-plot"]) == 0
    assert json.load(open(os.path.join(out, "summary.json")))["env_steps"] == 48
    assert cli.main_for(FAKE_EXPERIMENT, ["--set", "bogus=1"]) == 2  # `python experiments/x.py --set bogus=1`


def test_bench_sweep_script_writes_its_json(project, tmp_path):
    import importlib.util

    path = os.path.join(os.path.dirname(TESTS_DIR), "experiments", "bench_sweep.py")
    spec = importlib.util.spec_from_file_location("bench_sweep", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = str(tmp_path / "bench.json")
    assert bench.main(["--experiment", str(project / "experiments" / "fake.py"), "--seeds", "4", "--out", out]) == 0
    result = json.load(open(out))
    assert result["seeds"] == 4 and result["env_steps"] == 96
    assert result["one_seed_s"] > 0 and result["cost_ratio"] == result["many_seeds_s"] / result["one_seed_s"]
    assert result["many_seeds_compile_s"] > 0


def test_every_experiment_file_plans_with_valid_settings():
    """Each experiment in experiments/ loads and its settings pass every host-side check
    (nothing compiles), and a bad setting is named before anything is built."""
    from jaxrl_actions.run import RunOptions, make_plan

    root = os.path.dirname(TESTS_DIR)
    planned = []
    for name, path in experiment_mod.list_experiment_files(root):
        with open(path) as f:
            if "EXPERIMENT = " not in f.read():
                continue  # a script (benchmarks, studies)
        experiment, _ = experiment_mod.load_experiment(path)
        assert make_plan(experiment, RunOptions(seeds=1)).groups[0].num_updates >= 1, name
        planned.append(name)
    assert {"ppo_ant", "ppo_cartpole", "dqn_cartpole", "sac_hopper", "revalued_walker2d", "camel_hopper"} <= set(planned)
    ppo_ant, _ = experiment_mod.load_experiment(os.path.join(root, "experiments", "ppo_ant.py"))
    with pytest.raises(ValueError, match="unroll_len=7"):
        make_plan(ppo_ant, RunOptions(seeds=1, overrides={"agent.unroll_len": 7}))
