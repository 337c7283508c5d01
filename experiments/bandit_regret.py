"""Regret curves of every bandit agent on the four stochastic bandits, each averaged over
>= 1000 random instances run at once (`vmap` over instances, `lax.scan` over steps).

    python experiments/bandit_regret.py --quick --out runs/bandit_regret

Writes DIR/regret.json (per env and agent: cumulative expected regret, mean and 95% CI
half-width over instances, at the recorded steps) and DIR/regret.png (one panel per env).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a script from anywhere

import jax  # noqa: E402
import numpy as np  # noqa: E402

import envs  # noqa: E402
from jaxrl_actions import agents
from jaxrl_actions.training.bandit import run_bandit

# (env name, env kwargs, agents to compare), each agent with its default config.
SETTINGS = (
    ("bandit_bernoulli", {}, ("epsilon_greedy", "ucb1", "ts_beta", "ts_gaussian")),
    ("bandit_gaussian", {}, ("epsilon_greedy", "ucb1", "ts_gaussian")),
    ("bandit_semi", {}, ("epsilon_greedy", "cucb", "cts", "ts_gaussian")),
    ("bandit_linear", {}, ("epsilon_greedy", "linucb", "lin_ts")),
)
MAX_POINTS = 200  # points per curve kept in the JSON


def cumulative_stats(regret: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """regret [I, T] per step -> (mean [T], 95% CI half-width [T]) of the cumulative regret."""
    cumulative = np.cumsum(regret, axis=1)
    return cumulative.mean(axis=0), 1.96 * cumulative.std(axis=0, ddof=1) / np.sqrt(cumulative.shape[0])


def run(num_instances: int, horizon: int, seed: int) -> dict:
    steps = np.unique(np.linspace(1, horizon, min(MAX_POINTS, horizon)).astype(int))
    results = {"num_instances": num_instances, "horizon": horizon, "seed": seed, "steps": steps.tolist(), "envs": {}}
    for env_name, env_kwargs, agent_names in SETTINGS:
        env = envs.make(env_name, horizon=horizon, **env_kwargs)
        k_params, k_run = jax.random.split(jax.random.fold_in(jax.random.key(seed), len(results["envs"])))
        params = jax.vmap(env.sample_params)(jax.random.split(k_params, num_instances))
        keys = jax.random.split(k_run, num_instances)
        per_agent = {}
        for name in agent_names:
            agent = agents.get(name)
            config = agent.config_cls()
            start = time.time()
            regret = np.asarray(run_bandit(env, agent, config, keys, params, horizon))
            mean, ci = cumulative_stats(regret)
            per_agent[name] = {"mean": mean[steps - 1].tolist(), "ci95": ci[steps - 1].tolist(),
                               "final_mean": float(mean[-1]), "final_ci95": float(ci[-1])}
            print(f"{env_name:18s} {name:15s} regret@{horizon} = {mean[-1]:9.2f} +- {ci[-1]:.2f}  ({time.time() - start:.1f}s)")
        results["envs"][env_name] = per_agent
    return results


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["envs"])
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6))
    steps = np.asarray(results["steps"])
    for ax, env_name in zip(np.atleast_1d(axes), names):
        for agent, curve in results["envs"][env_name].items():
            mean, ci = np.asarray(curve["mean"]), np.asarray(curve["ci95"])
            ax.plot(steps, mean, label=agent)
            ax.fill_between(steps, mean - ci, mean + ci, alpha=0.25)
        ax.set_title(env_name)
        ax.set_xlabel("step")
        ax.set_ylabel("cumulative regret")
        ax.legend(fontsize=8)
    fig.suptitle(f"mean and 95% CI over {results['num_instances']} instances")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/bandit_regret", help="output directory")
    parser.add_argument("--quick", action="store_true", help="1000 instances x 500 steps (under 2 minutes on CPU)")
    parser.add_argument("--instances", type=int, default=None, help="instances per env (>= 1000 by default)")
    parser.add_argument("--horizon", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    instances = args.instances or (1000 if args.quick else 2000)
    horizon = args.horizon or (500 if args.quick else 5000)
    if instances < 2 or horizon < 1:
        parser.error(f"--instances must be >= 2 and --horizon >= 1, got {instances} and {horizon}")
    os.makedirs(args.out, exist_ok=True)
    start = time.time()
    results = run(instances, horizon, args.seed)
    results["wall_s"] = time.time() - start
    with open(os.path.join(args.out, "regret.json"), "w") as f:
        json.dump(results, f)
    plot(results, os.path.join(args.out, "regret.png"))
    print(f"wrote {args.out}/regret.json and regret.png in {results['wall_s']:.0f}s")
    return results


if __name__ == "__main__":
    main()
