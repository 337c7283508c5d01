"""Evaluate a run directory: restore the last checkpoint of every compiled program and run
every (trial, seed)'s policy for whole episodes (`training.evaluate.evaluation_fn`).

    evaluate_run("runs/x", episodes=10, deterministic=True) -> {"episodes", "deterministic",
        "seed", "trials": [{"trial", "hparams", "seeds", "return_mean", "return_std",
        "return_per_seed", "updates_done"}]}
    evaluate_run("runs/x", env=envs.make("hopper"))  -> the same, in another env with the run's
        spaces (e.g. a masked run's task without its mask)
    trained_policy("runs/x", trial=0, seed_index=0) -> policy(obs) -> greedy action
        (a prior for CAMEL's expert mask, `actions.interval_mask`)
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import jax
import numpy as np

from jaxrl_actions import checkpoint
from jaxrl_actions.environment import Environment
from jaxrl_actions.run.experiment import Experiment
from jaxrl_actions.run.plan import CHECKPOINT_DIR, RunDirError, plan_of_run_dir
from jaxrl_actions.run.programs import GroupProgram
from jaxrl_actions.training.evaluate import agent_state_of, evaluation_fn


def saved_padding(ckpt_dir: str) -> Optional[int]:
    """The padded run axis of the newest checkpoint in `ckpt_dir` (None: unknown, as in
    checkpoints from before it was recorded, which one device wrote unpadded)."""
    steps = checkpoint.complete_steps(ckpt_dir)
    if not steps:
        return None
    try:
        return checkpoint.read_meta(ckpt_dir, steps[-1])["meta"].get("padded_runs")
    except (OSError, ValueError, KeyError):
        return None  # restore names the damaged checkpoint


def _restore_agent_states(run_dir: str, group, seeds) -> tuple[Any, Any]:
    """(agent states [runs], checkpoint meta) of the last checkpoint of one compiled group."""
    ckpt_dir = f"{run_dir}/{CHECKPOINT_DIR}/group{group.index}"
    # The run axis as the run padded it (another device or process count may have padded
    # it differently), on this process's devices when they divide it, else on one.
    size = saved_padding(ckpt_dir)
    devices = None if size is None or size % jax.device_count() == 0 else jax.devices()[:1]
    program = GroupProgram.build(group, seeds, devices, size)
    restored = checkpoint.restore(ckpt_dir, program.abstract_carry())
    if restored is None:
        raise RunDirError(f"{run_dir} has no checkpoint for program {group.index} ({ckpt_dir} is empty)")
    return jax.tree.map(lambda x: x[: program.num_runs], agent_state_of(restored.tree)), restored.meta


def trained_policy(run_dir: str, trial: int = 0, seed_index: int = 0,
                   experiment: Optional[Experiment] = None) -> Callable[[Any], Any]:
    """The greedy policy of one (trial, seed) of a run's last checkpoint, as a pure function
    of one observation (no mask): a trained prior, e.g. for an expert mask."""
    _, plan = plan_of_run_dir(run_dir, experiment)
    for group in plan.groups:
        positions = [pos for pos, t in enumerate(group.trials) if t.index == trial]
        if positions:
            break
    else:
        raise ValueError(f"{run_dir} has no trial {trial}; it has {sorted(t.index for g in plan.groups for t in g.trials)}")
    if not 0 <= seed_index < len(plan.seeds):
        raise ValueError(f"seed_index={seed_index}: {run_dir} ran {len(plan.seeds)} seed(s)")
    states, _ = _restore_agent_states(run_dir, group, plan.seeds)
    state = jax.tree.map(lambda x: x[positions[0] * len(plan.seeds) + seed_index], states)
    agent = group.agent
    return lambda obs: agent.act(state, obs, None, jax.random.PRNGKey(0), deterministic=True)


def _check_same_spaces(env: Environment, run_env: Environment, run_dir: str) -> None:
    """Raises naming both specs unless `env` observes and acts like the run's env."""
    ours, theirs = env.spec, run_env.spec
    if (ours.obs_space, ours.action_space) != (theirs.obs_space, theirs.action_space):
        raise ValueError(f"cannot evaluate {run_dir} in {env!r}: its observation and action spaces are "
                         f"{ours.obs_space}, {ours.action_space}; the run trained on {theirs.obs_space}, "
                         f"{theirs.action_space}")


def evaluate_run(run_dir: str, episodes: int = 10, deterministic: bool = False, seed: int = 0,
                 experiment: Optional[Experiment] = None, env: Optional[Environment] = None) -> dict:
    """Returns of the last checkpointed policy of every (trial, seed) in `run_dir`, in the
    run's own env or in `env` (same spaces, e.g. the task without the run's mask)."""
    _, plan = plan_of_run_dir(run_dir, experiment)
    results = []
    for group in plan.groups:
        if env is not None:
            _check_same_spaces(env, group.env, run_dir)
        states, meta = _restore_agent_states(run_dir, group, plan.seeds)
        fn = evaluation_fn(env if env is not None else group.env, group.agent, episodes, deterministic)
        keys = jax.random.split(jax.random.PRNGKey(seed), len(group.trials) * len(plan.seeds))
        returns = np.asarray(jax.vmap(fn)(states, keys))  # [runs, episodes]
        for t_pos, trial in enumerate(group.trials):
            per_seed = returns[t_pos * len(plan.seeds):(t_pos + 1) * len(plan.seeds)]
            results.append({
                "trial": trial.index,
                "hparams": trial.hparams,
                "seeds": plan.seeds,
                "return_mean": float(per_seed.mean()),
                "return_std": float(per_seed.std()),
                "return_per_seed": [float(v) for v in per_seed.mean(axis=1)],
                "updates_done": meta.get("updates_done"),
            })
    results.sort(key=lambda r: r["trial"])
    return {"episodes": int(episodes), "deterministic": bool(deterministic), "seed": seed, "trials": results}
