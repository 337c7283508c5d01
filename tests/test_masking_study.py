"""The masking study's pipeline on a tiny run (the masked variant and its unmasked
evaluation; the penalty variants' wrapper, `invalid_penalty`, is tested in
test_actions.py): the JSON, Markdown table (with the paper's numbers) and plot are written
with one entry per variant."""
import importlib.util
import json
import os

import pytest

from jaxrl_actions.agents import ppo

VARIANTS = ("masking", "masking_removed")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_study():
    spec = importlib.util.spec_from_file_location("masking_study", os.path.join(ROOT, "experiments", "masking_study.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    study = load_study()
    out = str(tmp_path_factory.mktemp("masking_study"))
    config = ppo.PPOConfig(num_envs=1, rollout_len=64, update_epochs=1, num_minibatches=1, hidden_sizes=(16,),
                           normalize_obs=True)
    result = study.run_study((4,), 256, seeds=1, out=out, eval_episodes=2, config=config, log=lambda *_: None,
                             variants=VARIANTS)
    return study, result, out


def test_tiny_study_writes_json_table_and_plot(tiny_study):
    study, result, out = tiny_study
    for ext in ("json", "md", "png"):
        assert os.path.getsize(os.path.join(out, f"masking_study.{ext}")) > 0
    with open(os.path.join(out, "masking_study.json")) as f:
        saved = json.load(f)
    assert saved["sizes"] == [4]
    assert set(saved["results"]["4"]) == set(VARIANTS)
    table = open(os.path.join(out, "masking_study.md")).read()
    for variant in VARIANTS:
        assert f"| {variant} |" in table
    assert "40 ± 0 / 9%" in table  # the paper's masking row on 4x4


def test_masked_variants_take_fewer_invalid_actions_than_hidden_masks(tiny_study):
    _, result, _ = tiny_study
    res = result["results"]["4"]
    # Without the mask an untrained policy picks a random source cell: 2 of 16 are its units.
    # With it, only a unit locked by an undoable produce (looking idle, µRTS's NONE for the
    # same duration) can still be an invalid source.
    assert res["masking_removed"]["invalid_rate"] > 0.5 > res["masking"]["invalid_rate"]


def test_parts_run_apart_merge_into_the_whole_study(tiny_study):
    study, result, _ = tiny_study
    parts = [{**result, "variants": [v], "results": {"4": {v: result["results"]["4"][v]}}} for v in VARIANTS]
    merged = study.merge_studies(parts)
    assert merged["results"] == result["results"] and merged["variants"] == list(VARIANTS)
    assert study.markdown(merged) == study.markdown(result)
    alone = study.merge_studies(parts[:1])
    assert "| masking_removed |" not in study.markdown(alone)
    with pytest.raises(ValueError, match="one budget"):
        study.merge_studies([result, {**result, "env_steps": 1}])


def test_bad_settings_are_rejected(tmp_path):
    study = load_study()
    with pytest.raises(SystemExit, match=r"maps are \[4, 10, 16, 24\], got 30"):
        study.main(["--sizes", "30"])
    with pytest.raises(ValueError, match="unknown variants"):
        study.run_study((4,), 256, 1, str(tmp_path), variants=("masking", "typo"))
