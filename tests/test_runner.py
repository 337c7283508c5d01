"""The chunked runner against a tiny fake trainer (shared by the other workflow tests via
`from test_runner import ...`), and against PPO when it exists.

The fake follows the Trainer protocol with a carry like the real loops' (agent state, RNG
key, step counter, ErrorFlag): its "return" drifts toward 10 at rate `lr` plus seeded noise,
so every (lr, seed) pair gives a distinct, reproducible curve."""
from __future__ import annotations

import dataclasses
import io
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from jaxrl_actions.agents.base import Agent
from jaxrl_actions.environment import EnvSpec, Environment, scalar_timestep
from jaxrl_actions.spaces import Box, Discrete
from jaxrl_actions.training.common import EmptyMaskError, ErrorFlag, Trainer, fused_train
from jaxrl_actions.run.experiment import Experiment

ROLLOUT = 4
TRACES = {"init": 0, "update": 0}  # incremented when JAX traces the fake's functions


@struct.dataclass
class FakeConfig:
    lr: float = 0.1
    noise: float = 0.05
    num_envs: int = struct.field(pytree_node=False, default=2)
    total_steps: int = struct.field(pytree_node=False, default=96)  # 12 updates of 8 steps
    hidden: tuple = struct.field(pytree_node=False, default=(4,))
    fail_at_update: int = struct.field(pytree_node=False, default=-1)


@struct.dataclass
class FakeState:
    w: jax.Array  # float32[num_envs]


@struct.dataclass
class FakeCarry:
    agent_state: FakeState
    key: jax.Array
    step: jax.Array  # int32[]
    error: ErrorFlag


def fake_make_trainer(env, agent, config: FakeConfig) -> Trainer:
    steps_per_update = config.num_envs * ROLLOUT

    def init(key):
        TRACES["init"] += 1
        key, sub = jax.random.split(key)
        return FakeCarry(FakeState(jax.random.uniform(sub, (config.num_envs,))), key, jnp.int32(0), ErrorFlag.clear())

    def update(carry):
        TRACES["update"] += 1
        key, sub = jax.random.split(carry.key)
        w = carry.agent_state.w
        w = w + config.lr * (1.0 - w) + config.noise * jax.random.normal(sub, w.shape)
        bad = (jnp.arange(config.num_envs) == 1) & (carry.step == config.fail_at_update)
        metrics = {
            "episode_return": 10.0 * jnp.mean(w),
            "env_steps": (carry.step + 1) * steps_per_update,
            "loss": jnp.mean((1.0 - w) ** 2),
        }
        return FakeCarry(FakeState(w), key, carry.step + 1, carry.error.record(bad, carry.step)), metrics

    return Trainer(init, update, config.total_steps // steps_per_update, steps_per_update)


@struct.dataclass
class CopyBitState:
    obs: jax.Array  # float32[2] one-hot of the bit to copy
    time: jax.Array  # int32[]


class CopyBit(Environment):
    """Copy a random bit (kept here so these tests do not depend on the envs package).

    Observation: float32[2], one-hot of a fresh random bit. Action: Discrete(2).
    Reward: 1 when the action equals the bit. Termination: never; truncation after
    `episode_length` steps (optimal return: episode_length)."""

    name = "copy_bit"

    def __init__(self, episode_length: int = 8):
        self.episode_length = int(episode_length)

    @property
    def spec(self):
        return EnvSpec(Box(0.0, 1.0, (2,)), Discrete(2), self.episode_length)

    def _draw(self, key, time):
        return CopyBitState(jax.nn.one_hot(jax.random.bernoulli(key).astype(jnp.int32), 2), time)

    def reset_env(self, key, params):
        state = self._draw(key, jnp.int32(0))
        return state, scalar_timestep(state.obs, 0.0, False)

    def step_env(self, key, state, action, params):
        reward = state.obs[action]
        state = self._draw(key, state.time + 1)
        return state, scalar_timestep(state.obs, reward, False, state.time >= self.episode_length)


def fake_act(state, obs, mask, key, deterministic=False):
    """Copies the observed bit when deterministic, else guesses."""
    guess = jax.random.bernoulli(key).astype(jnp.int32)
    return jnp.where(deterministic, jnp.argmax(obs).astype(jnp.int32), guess)


FAKE_AGENT = Agent("fake", "fake", FakeConfig, init=lambda key, spec, config: None, act=fake_act,
                   update=lambda *a: None, description="test double")

FAKE_EXPERIMENT = Experiment(
    name="fake",
    description="A fake trainer on a copy-bit env for workflow tests",
    make_env=lambda **kw: CopyBit(**kw),
    agent=FAKE_AGENT,
    config=FakeConfig(),
    env_kwargs={"episode_length": 8},
    make_trainer=fake_make_trainer,
)

VARIANT_EXPERIMENT = dataclasses.replace(
    FAKE_EXPERIMENT,
    name="fake_variants",
    variants={
        "quiet": {"agent.noise": 0.0},
        "short": lambda exp: dataclasses.replace(exp, env_kwargs={"episode_length": 4},
                                                 agent=dataclasses.replace(FAKE_AGENT, name="fake_renamed")),
    },
)


def read_metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    """2 seeds x 2 lrs in 4 chunks, shared by the tests below."""
    from jaxrl_actions.run.runner import run_experiment

    out = str(tmp_path_factory.mktemp("run") / "r")
    stream = io.StringIO()
    summary = run_experiment(FAKE_EXPERIMENT, seeds=2, sweep={"lr": ["0.1", "0.3"]}, out=out, chunks=4,
                             stream=stream, tensorboard=True)
    return out, summary, stream.getvalue()


def test_chunked_run_equals_fused_train(sweep_run):
    from jaxrl_actions.run.programs import run_keys, stack_configs

    out, summary, _ = sweep_run
    configs = [FakeConfig(lr=0.1), FakeConfig(lr=0.3)]
    fused = jax.jit(jax.vmap(lambda k, c: fused_train(fake_make_trainer(None, FAKE_AGENT, c))(k)))
    _, metrics = fused(run_keys([0, 1], 2), stack_configs(configs, 2))
    rows = read_metrics(out)
    assert len(rows) == 4 * 4  # chunks x runs
    for row in rows:
        r = row["trial"] * 2 + row["seed"]
        u = row["update"] - 1
        assert row["episode_return"] == float(metrics["episode_return"][r, u])  # exact, not approximate
        assert row["loss"] == float(metrics["loss"][r, u])
        assert row["step"] == row["update"] * 8 == row["env_steps"]


def test_run_directory_contents(sweep_run):
    out, summary, text = sweep_run
    for name in ("config.json", "metrics.jsonl", "summary.json", "curves.png"):
        assert os.path.isfile(os.path.join(out, name)), name
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["sweep"] == {"agent.lr": [0.1, 0.3]}
    assert [t["config"]["lr"] for t in config["trials"]] == [0.1, 0.3]
    assert "agent.num_envs" in config["static_fields"] and "agent.lr" in config["numeric_fields"]
    assert config["env"] == "copy_bit" and config["agent"] == "fake" and config["seeds"] == [0, 1]
    assert json.load(open(os.path.join(out, "summary.json"))) == json.loads(json.dumps(summary))
    assert summary["env_steps"] == 96 and summary["runs"] == 4 and summary["compile_s"] > 0
    assert [t["hparams"] for t in summary["trials"]] == [{"agent.lr": 0.1}, {"agent.lr": 0.3}]
    final = {(r["trial"], r["seed"]): r["episode_return"] for r in read_metrics(out) if r["update"] == 12}
    for t in summary["trials"]:
        per_seed = [final[(t["trial"], s)] for s in (0, 1)]
        assert t["final_return_per_seed"] == per_seed
        assert t["final_return_mean"] == pytest.approx(np.mean(per_seed))
        assert t["final_return_std"] == pytest.approx(np.std(per_seed))
    # not a TTY: one plain progress line per chunk
    assert sum("chunk" in line and "steps/s" in line for line in text.splitlines()) == 4
    assert len(os.listdir(os.path.join(out, "tb"))) == 4  # trial{i}_seed{j}
    assert os.path.isdir(os.path.join(out, "tb", "trial1_seed0"))


def test_error_flag_raises_between_chunks(tmp_path):
    from jaxrl_actions.run.runner import run_experiment

    with pytest.raises(EmptyMaskError, match=r"trial 0 \(lr=0\.1\), seed 0: .* update 5 .*env index 1"):
        run_experiment(FAKE_EXPERIMENT, seeds=1, overrides={"fail_at_update": 5}, sweep={"lr": [0.1, 0.3]},
                       out=str(tmp_path / "r"), chunks=4, quiet=True, plot=False,
                       on_chunk=lambda info: None)
    # update 5 is in the second chunk: the first chunk's rows are written, nothing after
    rows = read_metrics(str(tmp_path / "r"))
    assert {r["update"] for r in rows} == {3}


def test_trained_policy_is_the_greedy_policy_of_a_checkpointed_run(sweep_run):
    """A trained prior (CAMEL's expert mask) from a run directory: the agent's deterministic act
    on the restored state; a trial or seed the run does not have is refused by name."""
    from jaxrl_actions.run.evaluate_run import trained_policy

    out, _, _ = sweep_run
    policy = trained_policy(out, trial=1, seed_index=1, experiment=FAKE_EXPERIMENT)
    for bit in (0, 1):
        assert int(jax.jit(policy)(jax.nn.one_hot(bit, 2))) == bit
    with pytest.raises(ValueError, match="no trial 5"):
        trained_policy(out, trial=5, experiment=FAKE_EXPERIMENT)
    with pytest.raises(ValueError, match="seed_index=2"):
        trained_policy(out, trial=0, seed_index=2, experiment=FAKE_EXPERIMENT)


def test_evaluate_run_in_another_env_with_the_same_spaces(sweep_run):
    """A run's policies evaluated in another env (CAMEL's unmasked evaluation): the returns are
    the other env's (3-step episodes here, not 8), and an env that acts differently is refused
    by naming both spaces."""
    from jaxrl_actions.run.evaluate_run import evaluate_run

    out, _, _ = sweep_run
    own = evaluate_run(out, episodes=2, deterministic=True, experiment=FAKE_EXPERIMENT)
    short = evaluate_run(out, episodes=2, deterministic=True, experiment=FAKE_EXPERIMENT, env=CopyBit(episode_length=3))
    assert max(t["return_mean"] for t in own["trials"]) > 3
    assert all(0 <= r <= 3 for t in short["trials"] for r in t["return_per_seed"])

    class CopyTrit(CopyBit):
        @property
        def spec(self):
            return EnvSpec(Box(0.0, 1.0, (2,)), Discrete(3), self.episode_length)

    with pytest.raises(ValueError, match=r"Discrete\(3\).*Discrete\(2\)"):
        evaluate_run(out, episodes=2, experiment=FAKE_EXPERIMENT, env=CopyTrit())


def test_fresh_run_refuses_existing_run_dir(sweep_run):
    from jaxrl_actions.run.runner import RunDirError, run_experiment

    with pytest.raises(RunDirError, match="--resume"):
        run_experiment(FAKE_EXPERIMENT, out=sweep_run[0], quiet=True)


def test_variants_are_trials_with_their_own_programs(tmp_path):
    from jaxrl_actions.run.runner import run_experiment

    stream = io.StringIO()
    summary = run_experiment(VARIANT_EXPERIMENT, seeds=1, out=str(tmp_path / "v"), chunks=2, stream=stream, plot=False)
    assert [t["hparams"] for t in summary["trials"]] == [{"variant": "quiet"}, {"variant": "short"}]
    assert "in 2 program group(s)" in stream.getvalue()
    assert "static settings differ: env.episode_length, variant" in stream.getvalue()
    assert summary["compiles"] == 4  # init + chunk, per program
    assert summary["agent"] == "fake, fake_renamed"  # every trial's agent, not only the experiment's


def test_ppo_cartpole_runs_through_the_runner(tmp_path):
    ppo = pytest.importorskip("jaxrl_actions.agents.ppo", reason="PPO not written yet")
    import envs
    from jaxrl_actions.run.runner import run_experiment

    config = ppo.PPOConfig()
    fields = {f.name for f in dataclasses.fields(config)}
    small = {k: v for k, v in dict(num_envs=4, rollout_length=8, num_minibatches=2, num_epochs=1,
                                   total_steps=4 * 8 * 4).items() if k in fields}
    exp = Experiment("ppo_tiny", "tiny PPO", lambda **kw: envs.make("cartpole", **kw), ppo.AGENT,
                     dataclasses.replace(config, **small))
    summary = run_experiment(exp, seeds=2, sweep={"agent.lr": [1e-3, 3e-4]} if "lr" in fields else None,
                             out=str(tmp_path / "p"), chunks=2, quiet=True, plot=False)
    assert all(np.isfinite(t["final_return_mean"]) for t in summary["trials"])


def test_reference_policies_are_evaluated_next_to_the_trained_one(tmp_path):
    """Experiment.references: each reference and the trained policy (greedy and sampled) run
    the same whole episodes; the results land in summary.json. On copy-bit, copying scores
    the episode length (8) and guessing half of it."""
    from jaxrl_actions.run.references import random_valid
    from jaxrl_actions.run.runner import run_experiment

    copy = lambda env: lambda obs, mask, key: jnp.argmax(obs).astype(jnp.int32)  # noqa: E731
    exp = dataclasses.replace(FAKE_EXPERIMENT, name="fake_refs", references={"copy": copy, "random_valid": random_valid})
    out = str(tmp_path / "r")
    summary = run_experiment(exp, seeds=2, out=out, chunks=2, stream=io.StringIO())
    with open(os.path.join(out, "summary.json")) as f:
        assert json.load(f)["references"] == summary["references"]
    (group,) = summary["references"]["groups"]
    assert summary["references"]["episodes"] == 1000 and group["env"] == "copy_bit"
    assert group["policies"]["copy"] == {"return_mean": 8.0, "return_std": 0.0}
    assert abs(group["policies"]["random_valid"]["return_mean"] - 4.0) < 0.2  # 1000 episodes: std of the mean ~0.045
    (greedy,), (sampled,) = group["agent"]["deterministic"], group["agent"]["sampled"]
    assert greedy["return_per_seed"] == [8.0, 8.0]  # the fake agent copies when deterministic
    assert abs(sampled["return_mean"] - 4.0) < 0.2


def test_log_rows_take_learner_metrics_from_the_last_learning_phase():
    """A loop that learns every few iterations reports zeros in between; the row for a chunk
    takes `learn/` metrics from its last learning iteration, everything else from its end."""
    from jaxrl_actions.run.runner import value_at_chunk_end

    learned = np.array([0.0, 1.0, 0.0, 1.0, 0.0])
    loss = np.array([0.0, 2.0, 0.0, 3.0, 0.0])
    assert value_at_chunk_end("learn/q_loss", loss, learned) == 3.0
    assert value_at_chunk_end("episode_return", loss, learned) == 0.0
    assert value_at_chunk_end("learn/q_loss", loss, np.zeros(5)) == 0.0  # no learning yet: the last value
    assert value_at_chunk_end("learn/q_loss", loss, None) == 0.0  # loops without the flag
    assert value_at_chunk_end("learn/q_loss", np.float32(4.0), None) == 4.0
