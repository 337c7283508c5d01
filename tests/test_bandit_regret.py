"""experiments/bandit_regret.py on a tiny run: one stochastic and one nonlinear setting,
two agents each; the JSON holds every agent's mean and per-seed final regret, and the
Markdown table and plot are written next to it."""
import importlib.util
import json
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load():
    spec = importlib.util.spec_from_file_location("bandit_regret", os.path.join(ROOT, "experiments", "bandit_regret.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_writes_json_table_and_plot(tmp_path):
    br = load()
    sizes = br.Sizes(instances=3, horizon=12, nonlinear_instances=2, nonlinear_horizon=12, nonlinear_dim=3)
    settings = (
        br.Setting("bandit_semi", "bandit_semi", {}, br.plain("cucb", "cts")),
        br.Setting("nonlinear_h2", "bandit_nonlinear", {"num_arms": 5, "k": 2, "score": "h2"},
                   (br.Contender("cn_ucb", "cn_ucb", (("hidden", 4),)), br.Contender("cucb", "cucb")), neural=True),
    )
    results = {"sizes": sizes._asdict(), "seed": 0,
               "settings": {s.label: br.run_setting(s, sizes, 0, i, log=lambda *_: None) for i, s in enumerate(settings)}}
    br.write(results, str(tmp_path))
    for ext in ("json", "md", "png"):
        assert os.path.getsize(tmp_path / f"bandit_regret.{ext}") > 0
    saved = json.loads((tmp_path / "bandit_regret.json").read_text())
    cn = saved["settings"]["nonlinear_h2"]["agents"]["cn_ucb"]
    assert len(cn["final_per_seed"]) == 2 and cn["final_mean"] == pytest.approx(np.mean(cn["final_per_seed"]), rel=1e-5)
    assert saved["settings"]["nonlinear_h2"]["env_kwargs"]["dim"] == 3
    assert len(saved["settings"]["bandit_semi"]["agents"]["cts"]["final_per_seed"]) == 3
    table = (tmp_path / "bandit_regret.md").read_text()
    assert "| nonlinear_h2, d=3 | cn_ucb |" in table and "90.6 ± 15.2" in table  # the paper's CN-UCB on h2


def test_bad_sizes_are_rejected():
    br = load()
    with pytest.raises(SystemExit):
        br.main(["--instances", "1"])
    with pytest.raises(SystemExit):
        br.main(["--only", "nonlinear_h9"])
