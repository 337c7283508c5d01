"""The masking study's pipeline on a tiny run (the masked variant and its unmasked
evaluation): the JSON, Markdown table (with the paper's numbers) and plot are written with
one entry per variant. The penalty variants' env stack is checked step by step against the
bare env, without training."""
import dataclasses
import importlib.util
import json
import os

import jax
import numpy as np
import pytest
from flax import struct

from jaxrl_actions.agents import ppo
from jaxrl_actions.types import INVALID_ACTION

VARIANTS = ("masking", "masking_removed")
TINY_CONFIG = ppo.PPOConfig(num_envs=1, rollout_len=64, update_epochs=1, num_minibatches=1, hidden_sizes=(16,),
                            normalize_obs=True)
TINY_STEPS = 256
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
    result = study.run_study((4,), TINY_STEPS, seeds=1, out=out, eval_episodes=2, config=TINY_CONFIG,
                             log=lambda *_: None, variants=VARIANTS)
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
    kl_table = table.split("KL:")[1]
    assert "| masking | " in kl_table and "| 0.0055 (x1.0) |" in kl_table  # the paper's masking KL, 4x4
    row = saved["results"]["4"]["masking"]  # a trained variant logs a KL per update
    assert len(row["curve_kl"]) == len(row["curve_steps"])
    # One epoch of one minibatch scores the rollout's own policy: the KL is exactly 0.
    assert abs(row["kl_mean"]) < 1e-6


def test_masked_variants_take_fewer_invalid_actions_than_hidden_masks(tiny_study):
    _, result, _ = tiny_study
    res = result["results"]["4"]
    # Without the mask an untrained policy picks a random source cell: 2 of 16 are its units.
    # With it, only a unit locked by an undoable produce (looking idle, µRTS's NONE for the
    # same duration) can still be an invalid source.
    assert res["masking_removed"]["invalid_rate"] > 0.5 > res["masking"]["invalid_rate"]


def test_penalty_variant_hides_the_mask_and_charges_each_invalid_source():
    """Random actions through the study's penalty_-0.1 env and the bare env, same keys:
    no mask reaches the agent, and each reward is the env's minus 0.1 per invalid source."""
    study = load_study()
    penalised, bare = study.make_env("penalty_-0.1", 4), study.envs.make(study.env_name(4))
    space = bare.spec.action_space

    def rollout(env, key):
        state, ts = env.reset(key)

        def step(carry, k):
            state, _ = carry
            state, ts = env.step(k, state, space.sample(k))
            return (state, ts), (ts.reward, ts.info[INVALID_ACTION], ts.action_mask is None)

        return jax.lax.scan(step, (state, ts), jax.random.split(key, 64))[1]

    both = jax.jit(lambda key: (rollout(penalised, key), rollout(bare, key)))
    (reward, invalid, unmasked), (bare_reward, bare_invalid, _) = both(jax.random.PRNGKey(5))
    assert np.all(unmasked)
    np.testing.assert_array_equal(invalid, bare_invalid)
    assert np.mean(bare_invalid) > 0.5  # 2 of 16 cells hold the agent's units
    np.testing.assert_allclose(reward, bare_reward - 0.1 * np.asarray(bare_invalid), atol=1e-6)


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
    for setting in ("ratio", "entropy_term", "optimizers"):  # e.g. a joint-ratio part and a per-component one
        with pytest.raises(ValueError, match="PPO settings"):
            study.merge_studies([result, {**result, setting: result[setting] + "_other"}])
    earlier = {k: v for k, v in result.items() if k not in ("entropy_term", "optimizers")}
    assert study.study_settings(earlier) == {"ratio": result["ratio"], "entropy_term": "none", "optimizers": "joint"}


def test_a_rerun_reads_finished_seeds_back_and_refuses_damaged_ones(tiny_study, tmp_path):
    study, result, out = tiny_study
    cache = os.path.join(out, "seeds")
    (saved,) = os.listdir(cache)  # the fixture's one seed of its one trained variant
    assert saved.startswith("masking_4x4_seed1_")
    states, metrics = study.train("masking", 4, TINY_STEPS, 1, TINY_CONFIG, cache_dir=cache)  # read, not retrained
    row = study.summarise_training(metrics, TINY_STEPS)
    assert row == {k: v for k, v in result["results"]["4"]["masking"].items() if k != "wall_s"}
    # Another budget is another file: the saved seed is not read for it.
    other = study.seed_file(cache, "masking", 4, 1, study.variant_config("masking", 4, 2 * TINY_STEPS, TINY_CONFIG))
    assert os.path.basename(other) != saved
    damaged = os.path.join(tmp_path, "seeds")
    os.makedirs(damaged)
    with open(os.path.join(cache, saved), "rb") as f:
        head = f.read(100)
    with open(os.path.join(damaged, saved), "wb") as f:
        f.write(head)
    with pytest.raises(ValueError, match="corrupt"):
        study.train("masking", 4, TINY_STEPS, 1, TINY_CONFIG, cache_dir=damaged)
    with np.load(os.path.join(cache, saved)) as f:
        settings = f["settings"]
    np.savez(os.path.join(damaged, saved), np.zeros(3), settings=settings)
    with pytest.raises(ValueError, match="does not match"):
        study.train("masking", 4, TINY_STEPS, 1, TINY_CONFIG, cache_dir=damaged)
    np.savez(os.path.join(damaged, saved), np.zeros(3))
    with pytest.raises(ValueError, match="no settings saved"):
        study.train("masking", 4, TINY_STEPS, 1, TINY_CONFIG, cache_dir=damaged)


def test_saved_seeds_survive_a_new_config_field_but_not_a_changed_setting(tiny_study, tmp_path, monkeypatch):
    study, result, out = tiny_study
    cache = os.path.join(out, "seeds")
    (saved,) = os.listdir(cache)

    # A field added to PPOConfig later, at its default: same file name, and the seed reads back.
    @struct.dataclass
    class LaterConfig(ppo.PPOConfig):
        later_option: bool = struct.field(pytree_node=False, default=False)

    monkeypatch.setattr(study.ppo, "PPOConfig", LaterConfig)
    later = LaterConfig(**{f.name: getattr(TINY_CONFIG, f.name) for f in dataclasses.fields(TINY_CONFIG)})
    later_run = study.variant_config("masking", 4, TINY_STEPS, later)
    assert os.path.basename(study.seed_file(cache, "masking", 4, 1, later_run)) == saved
    _, metrics = study.train("masking", 4, TINY_STEPS, 1, later, cache_dir=cache)
    assert os.listdir(cache) == [saved]  # read back, not retrained and saved under another name
    assert study.summarise_training(metrics, TINY_STEPS) == {
        k: v for k, v in result["results"]["4"]["masking"].items() if k != "wall_s"}
    # The same name but a setting the file was not trained with (e.g. a changed default) is refused.
    with np.load(os.path.join(cache, saved)) as f:
        arrays = {k: f[k] for k in f.files}
    fields = json.loads(str(arrays.pop("settings")))
    fields["gamma"] = repr(0.5)
    changed = os.path.join(tmp_path, "seeds")
    os.makedirs(changed)
    np.savez(os.path.join(changed, saved), **arrays, settings=np.asarray(json.dumps(fields)))
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"other settings \(gamma: 0.5 -> "):
        study.train("masking", 4, TINY_STEPS, 1, TINY_CONFIG, cache_dir=changed)


def test_bad_settings_are_rejected(tmp_path):
    study = load_study()
    with pytest.raises(SystemExit, match=r"maps are \[4, 10, 16, 24\], got 30"):
        study.main(["--sizes", "30"])
    with pytest.raises(ValueError, match="unknown variants"):
        study.run_study((4,), 256, 1, str(tmp_path), variants=("masking", "typo"))
