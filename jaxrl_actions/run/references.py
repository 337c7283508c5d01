"""Reference policies (a random valid policy, problem heuristics) evaluated next to a trained
agent, so a run directory says how the agent compares with them.

    Experiment(..., references={"random_valid": random_valid, "greedy": my_heuristic})

A reference is `make_policy(env) -> act(obs, mask, key) -> action`, built from the unbatched
env the experiment trains on (`make_env(**env_kwargs)`, action transforms included), so it
sees the agent's observations, masks and action space. After training the runner evaluates
each reference and the trained policies for the same number of whole episodes
(`training.evaluate`) and adds them to summary.json:

    "references": {"episodes", "seed", "groups": [{"group", "env",
        "policies": {name: {"return_mean", "return_std"}},
        "agent": {"deterministic": {"return_mean", "return_std", "return_per_seed"},
                  "sampled": {...}}}]}
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import jax
import numpy as np

from jaxrl_actions.agents.base import Agent
from jaxrl_actions.training.evaluate import evaluation_fn

REFERENCE_EPISODES = 1000  # whole episodes per policy (and per trained seed)
ReferenceFactory = Callable[[Any], Callable]  # env -> act(obs, mask, key) -> action


def random_valid(env: Any) -> Callable:
    """Uniform over the actions the mask allows (over all actions without a mask)."""
    space = env.spec.action_space
    return lambda obs, mask, key: space.sample(key, mask)


def as_agent(name: str, act: Callable) -> Agent:
    """A stateless policy as an `Agent` that `training.evaluate` can run."""

    def agent_act(state, obs, mask, key, deterministic=False):
        return act(obs, mask, key)

    return Agent(name=f"reference:{name}", family="reference", config_cls=type(None), init=None,
                 act=agent_act, update=None)


def _stats(returns: np.ndarray) -> dict:
    return {"return_mean": float(returns.mean()), "return_std": float(returns.std())}


def evaluate_policies(env: Any, references: Mapping[str, ReferenceFactory], episodes: int = REFERENCE_EPISODES,
                      seed: int = 0) -> dict:
    """{name: {"return_mean", "return_std"}} over `episodes` whole episodes of `env`."""
    out = {}
    for name, make_policy in references.items():
        fn = evaluation_fn(env, as_agent(name, make_policy(env)), episodes)
        out[name] = _stats(np.asarray(fn(None, jax.random.key(seed))))
    return out


def reference_report(plan: Any, run_dir: str, episodes: int = REFERENCE_EPISODES, seed: int = 0) -> dict:
    """summary.json's "references": every reference policy on each compiled program's env,
    and the trained policies (last checkpoint, greedy and sampled) for the same episodes."""
    from jaxrl_actions.run.evaluate_run import evaluate_run

    trained = {mode: evaluate_run(run_dir, episodes=episodes, deterministic=mode == "deterministic", seed=seed,
                                  experiment=plan.experiment)
               for mode in ("deterministic", "sampled")}
    groups = []
    for group in plan.groups:
        agent = {}
        for mode, result in trained.items():
            agent[mode] = [{"trial": t["trial"], "hparams": t["hparams"], "return_mean": t["return_mean"],
                            "return_std": t["return_std"], "return_per_seed": t["return_per_seed"]}
                           for t in result["trials"] if t["trial"] in {tr.index for tr in group.trials}]
        groups.append({"group": group.index, "env": group.env.name,
                       "policies": evaluate_policies(group.env, plan.experiment.references, episodes, seed),
                       "agent": agent})
    return {"episodes": int(episodes), "seed": int(seed), "groups": groups}
