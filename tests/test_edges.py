"""The edges a new user hit: out-of-range actions, bad masks given to an agent's `act`,
--seeds 0, an --out that cannot be written, and what the CLI says about its outputs."""
import dataclasses
import errno
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from jaxrl_actions import cli
from jaxrl_actions.agents import dqn, ppo
from jaxrl_actions.training import make_trainer
from jaxrl_actions.training.common import ACTION_OUT_OF_RANGE, ActionOutOfRangeError, fused_train, raise_if_set
from test_cli import project  # noqa: F401  (a project folder holding experiments/fake.py)
from test_runner import FAKE_EXPERIMENT


@pytest.fixture(scope="module")
def cartpole():
    env = envs.make("cartpole")
    state, ts = env.reset(jax.random.PRNGKey(0))
    return env, state, ts


@pytest.mark.parametrize("action", [5, -1, 2])
def test_out_of_range_discrete_action_raises_eagerly(cartpole, action):
    env, state, _ = cartpole
    with pytest.raises(ValueError, match=rf"cartpole.step: action {action} is outside Discrete\(2\)"):
        env.step(jax.random.PRNGKey(1), state, jnp.int32(action))


def test_out_of_range_action_in_a_loop_is_a_checked_error():
    """Under jit the action cannot raise; the loop's error flag records it and the host raises."""
    out_of_range = dataclasses.replace(
        ppo.AGENT, policy_step=lambda s, o, m, k: ppo.policy_step(s, o, m, k)._replace(
            action=ppo.policy_step(s, o, m, k).action + 2))
    config = ppo.PPOConfig(total_steps=64, num_envs=2, rollout_len=16, hidden_sizes=(4,), num_minibatches=2)
    trainer = make_trainer(envs.make("cartpole"), out_of_range, config)
    carry, _ = jax.jit(fused_train(trainer))(jax.random.PRNGKey(0))
    assert bool(carry.error.set) and int(carry.error.kind) == ACTION_OUT_OF_RANGE and int(carry.error.update) == 0
    with pytest.raises(ActionOutOfRangeError, match="outside the action space at update 0"):
        raise_if_set(carry.error, trainer.steps_per_update)


@pytest.mark.parametrize("agent, config", [(ppo, ppo.PPOConfig()), (dqn, dqn.DQNConfig())], ids=["ppo", "dqn"])
def test_act_checks_the_mask(cartpole, agent, config):
    env, _, ts = cartpole
    state = agent.init(jax.random.PRNGKey(0), env.spec, config)
    with pytest.raises(ValueError, match=r"action mask has shape \(3,\), expected \(2,\)"):
        agent.act(state, ts.obs, jnp.ones(3, bool), jax.random.PRNGKey(1))
    with pytest.raises(ValueError, match=r"allows no action \(all False\)"):
        agent.act(state, ts.obs, jnp.zeros(2, bool), jax.random.PRNGKey(1))
    # a valid mask still works, under jit too (where the emptiness check cannot run)
    action = jax.jit(agent.act)(state, ts.obs, jnp.array([False, True]), jax.random.PRNGKey(1))
    assert int(action) == 1


def test_seeds_zero_is_an_error(tmp_path, capsys):
    assert cli.main_for(FAKE_EXPERIMENT, ["--seeds", "0", "--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "--seeds must be >= 1, got 0" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "r")


def test_out_that_is_a_file_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    assert cli.main_for(FAKE_EXPERIMENT, ["--out", str(blocker / "run"), "--quiet"]) == 2
    assert f"cannot make run directory {blocker / 'run'}: a file is in the way" in capsys.readouterr().err


def test_out_on_a_read_only_file_system_is_a_clear_error(tmp_path, capsys, monkeypatch):
    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)

    monkeypatch.setattr(os, "makedirs", read_only)
    assert cli.main_for(FAKE_EXPERIMENT, ["--out", str(tmp_path / "r"), "--quiet"]) == 2
    assert "cannot write run directory" in capsys.readouterr().err


def test_quiet_run_still_prints_its_result_and_labels_set_overrides(project, tmp_path, capsys):
    out = str(tmp_path / "r")
    fake = str(project / "experiments" / "fake.py")
    assert cli.main(["run", fake, "--out", out, "--quiet", "--no-plot", "--set", "lr=0.3"]) == 0
    printed = capsys.readouterr().out
    assert "trial 0 lr=0.3: final return" in printed and "(defaults)" not in printed
    assert f"results in {out}" in printed
    # eval says where it wrote; plot writes into the run directory by default
    assert cli.main(["eval", out, "--episodes", "2"]) == 0
    assert f"wrote {os.path.join(out, 'eval.json')}" in capsys.readouterr().out
    assert json.load(open(os.path.join(out, "eval.json")))["episodes"] == 2
    assert cli.main(["plot", out]) == 0
    assert os.path.isfile(os.path.join(out, "curves.png"))


def test_plan_counts_programs_and_summary_counts_compiles(tmp_path, capsys):
    out = str(tmp_path / "r")
    assert cli.main_for(FAKE_EXPERIMENT, ["--out", out, "--no-plot", "--chunks", "3"]) == 0
    printed = capsys.readouterr().out
    summary = json.load(open(os.path.join(out, "summary.json")))
    assert "1 program group(s)" in printed and f"{summary['compiles']} compilation(s)" in printed
    assert np.isfinite(summary["steps_per_s"])
