"""Sweeps: settings -> trials (checked before compiling), compile groups, one program for
seeds x numeric grid, and sharding over devices equal to the single-device run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from jaxrl_actions.run.programs import group_trials, pad_runs, padded_size, run_keys, stack_configs, unpad_runs
from jaxrl_actions.run.experiment import resolve_trials
from jaxrl_actions.run.runner import run_experiment
from test_runner import FAKE_EXPERIMENT, TRACES, VARIANT_EXPERIMENT, FakeConfig, read_metrics

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def test_grid_is_the_product_with_typed_values():
    trials = resolve_trials(FAKE_EXPERIMENT, {"noise": "0"}, {"agent.lr": ["0.1", "0.2"], "env.episode_length": [4, "6"]})
    assert [t.hparams for t in trials] == [
        {"agent.lr": 0.1, "env.episode_length": 4},
        {"agent.lr": 0.1, "env.episode_length": 6},
        {"agent.lr": 0.2, "env.episode_length": 4},
        {"agent.lr": 0.2, "env.episode_length": 6},
    ]
    assert all(t.config.noise == 0.0 for t in trials)
    assert trials[1].env_kwargs == {"episode_length": 6}
    # env kwargs are structural: one program per episode length
    groups = group_trials(trials)
    assert [[t.index for t in g.trials] for g in groups] == [[0, 2], [1, 3]]


def test_numeric_sweep_shares_a_program_static_sweep_does_not():
    assert len(group_trials(resolve_trials(FAKE_EXPERIMENT, sweep={"lr": [0.1, 0.2, 0.3]}))) == 1
    groups = group_trials(resolve_trials(FAKE_EXPERIMENT, sweep={"num_envs": [2, 4], "hidden": ["(4,)", "(8, 8)"]}))
    assert len(groups) == 4
    assert groups[3].trials[0].config.hidden == (8, 8) and groups[3].steps_per_update == 16


@pytest.mark.parametrize(
    "overrides, sweep, message",
    [
        ({"agent.lrr": 1}, None, r"unknown setting 'agent.lrr'.*did you mean 'agent.lr'.*valid keys: agent.fail_at_update, agent.hidden"),
        (None, {"gamma": [1]}, r"unknown setting 'gamma'.*valid keys:.*env.episode_length"),
        ({"num_envs": "four"}, None, r"agent.num_envs expects int, got 'four'"),
        ({"lr": "fast"}, None, r"agent.lr expects float, got 'fast'"),
        ({"lr": True}, None, r"agent.lr expects float, got True"),
        ({"hidden": "wide"}, None, r"agent.hidden expects tuple, got 'wide'"),
        ({"hidden": "(4, 'a')"}, None, r"agent.hidden\[1\] expects int"),
        ({"env.episode_length": 2.5}, None, r"env.episode_length expects int, got 2.5"),
        ({"variant": "quiet"}, None, r"has no variants"),
        ({"lr": 0.1}, {"lr": [0.2]}, r"agent.lr is both set and swept"),
    ],
)
def test_bad_settings_fail_before_anything_compiles(overrides, sweep, message):
    before = dict(TRACES)
    with pytest.raises((KeyError, ValueError), match=message):
        run_experiment(FAKE_EXPERIMENT, overrides=overrides, sweep=sweep, out="/nonexistent/never", quiet=True)
    assert TRACES == before


def test_variants_select_and_sweep():
    assert [t.hparams for t in resolve_trials(VARIANT_EXPERIMENT, {"variant": "short"})] == [{"variant": "short"}]
    trials = resolve_trials(VARIANT_EXPERIMENT, sweep={"lr": [0.1, 0.2]})
    assert [t.hparams for t in trials] == [
        {"variant": "quiet", "agent.lr": 0.1}, {"variant": "quiet", "agent.lr": 0.2},
        {"variant": "short", "agent.lr": 0.1}, {"variant": "short", "agent.lr": 0.2},
    ]
    assert trials[0].config.noise == 0.0 and trials[2].env_kwargs == {"episode_length": 4}
    with pytest.raises(KeyError, match=r"unknown variant 'loud'.*\['quiet', 'short'\]"):
        resolve_trials(VARIANT_EXPERIMENT, {"variant": "loud"})


def test_run_axis_layout_and_padding():
    keys = np.asarray(run_keys([3, 7], 2))
    assert keys.shape == (4, 2)
    np.testing.assert_array_equal(keys[0], keys[2])  # same seed, same key in every trial
    assert not np.array_equal(keys[0], keys[1])
    configs = stack_configs([FakeConfig(lr=0.1), FakeConfig(lr=0.2)], 2)
    np.testing.assert_allclose(configs.lr, [0.1, 0.1, 0.2, 0.2])
    assert configs.num_envs == 2  # static fields stay static
    assert padded_size(6, 4) == 8 and padded_size(8, 4) == 8
    padded = pad_runs(configs, 7)
    np.testing.assert_allclose(padded.lr, [0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.2])
    np.testing.assert_allclose(unpad_runs(padded, 4).lr, configs.lr)


def test_seeds_by_grid_is_one_compile_with_distinct_rows(tmp_path):
    before = TRACES["update"]
    summary = run_experiment(FAKE_EXPERIMENT, seeds=4, sweep={"lr": [0.1, 0.3]}, out=str(tmp_path / "r"),
                             chunks=3, quiet=True, plot=False)
    assert TRACES["update"] - before == 1  # the update was traced once for all 8 runs
    assert summary["compiles"] == 2  # init + chunk
    final = [r for r in read_metrics(str(tmp_path / "r")) if r["update"] == 12]
    assert sorted((r["trial"], r["seed"]) for r in final) == [(t, s) for t in (0, 1) for s in range(4)]
    assert len({r["episode_return"] for r in final}) == 8


SHARDED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax
    from jaxrl_actions.run.runner import run_experiment
    from test_runner import FAKE_EXPERIMENT
    assert jax.device_count() == 4, jax.devices()
    summary = run_experiment(FAKE_EXPERIMENT, seeds=3, sweep={"lr": [0.1, 0.3]}, out=sys.argv[1],
                             chunks=3, quiet=True, plot=False)
    print(json.dumps({"devices": summary["devices"]}))
    """
)


def test_sharded_over_four_devices_equals_single_device(tmp_path):
    """6 runs padded to 8 over 4 fake CPU devices give the single-device numbers."""
    single = run_experiment(FAKE_EXPERIMENT, seeds=3, sweep={"lr": [0.1, 0.3]}, out=str(tmp_path / "one"),
                            chunks=3, quiet=True, plot=False)
    assert single["devices"] == 1
    # The child keeps this process's XLA flags (conftest's compile level), so both sides compile alike.
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4".strip()
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu",
               PYTHONPATH=os.pathsep.join([TESTS_DIR, os.path.dirname(TESTS_DIR), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", SHARDED_SCRIPT, str(tmp_path / "four")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"devices": 4}
    one, four = read_metrics(str(tmp_path / "one")), read_metrics(str(tmp_path / "four"))
    assert [(r["trial"], r["seed"], r["update"]) for r in one] == [(r["trial"], r["seed"], r["update"]) for r in four]
    for a, b in zip(one, four):
        np.testing.assert_allclose([a["episode_return"], a["loss"]], [b["episode_return"], b["loss"]], rtol=1e-6)
