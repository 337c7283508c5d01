"""Every agent of the two-state coupled restless bandits (`envs/restless.py`: multiple
interventions, route, bipartite matching, capacity) on random instances: mean episode return
per agent and domain (`vmap` over instances; the learners train on each instance first).

These are simplified envs (2-state arms with monotone rewards, per-arm additive
interventions), not the coRMAB paper's setting: `experiments/cormab.py` runs SEQUOIA and the
paper's baselines on its 4-state arms and four domains, after the authors' code.

    python experiments/restless_bandits.py --quick --out runs/restless

Writes DIR/restless_bandits.json and DIR/restless_bandits.md (a table: mean return +- 95% CI
over instances). `sampling` acts by the best of K random feasible actions under the
Q-values that `q_learning` learned on the same instance.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a script from anywhere
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _study_common beside this file

import jax  # noqa: E402
import numpy as np  # noqa: E402

import envs  # noqa: E402
from _study_common import mean_ci, write_study  # noqa: E402
from envs.restless import DOMAINS
from jaxrl_actions import agents
from jaxrl_actions.training.bandit import evaluate_restless, train_restless

PLANNERS = ("restless_null", "restless_random", "restless_myopic", "restless_iterative_myopic", "restless_whittle")
LEARNER = "restless_q"
SAMPLER = "restless_sampling"
NAMES = {"restless_null": "null", "restless_random": "random", "restless_myopic": "myopic",
         "restless_iterative_myopic": "iterative myopic", "restless_whittle": "Whittle",
         "restless_q": "Q-learning + combinatorial step", "restless_sampling": "sampling (best of K by Q)"}


def evaluate_domain(domain: str, num_instances: int, iterations: int, num_envs: int, episodes: int, seed: int) -> dict:
    env = envs.make(f"restless_{domain}")
    key = jax.random.fold_in(jax.random.key(seed), list(DOMAINS).index(domain))
    k_params, k_train, k_eval = jax.random.split(key, 3)
    params = jax.vmap(env.sample_params)(jax.random.split(k_params, num_instances))
    train_keys = jax.random.split(k_train, num_instances)
    eval_keys = jax.random.split(k_eval, num_instances)
    returns = {}

    for name in PLANNERS:
        agent = agents.get(name)

        def score(p, k, agent=agent):
            state = agent.init(k, env.spec, agent.config_cls(problem=p.problem))
            return evaluate_restless(env, agent, state, p, k, episodes)

        returns[name] = np.asarray(jax.jit(jax.vmap(score))(params, eval_keys))

    learner, sampler = agents.get(LEARNER), agents.get(SAMPLER)

    def learn_and_score(p, k_train, k_eval):
        state, curve = train_restless(env, learner, learner.config_cls(problem=p.problem), k_train, p, iterations, num_envs)
        q_return = evaluate_restless(env, learner, state, p, k_eval, episodes)
        sampling_state = sampler.init(k_eval, env.spec, sampler.config_cls(problem=p.problem)).replace(table=state.table)
        return q_return, evaluate_restless(env, sampler, sampling_state, p, k_eval, episodes), curve

    q_return, sampling_return, curve = jax.jit(jax.vmap(learn_and_score))(params, train_keys, eval_keys)
    returns[LEARNER], returns[SAMPLER] = np.asarray(q_return), np.asarray(sampling_return)
    return {name: mean_ci(r) for name, r in returns.items()} | {
        "_training_curve": np.asarray(curve).mean(axis=0).tolist()}


def markdown(results: dict) -> str:
    domains = list(results["domains"])
    lines = [f"Mean episode return (horizon 20, 20 arms, budget 8) +- 95% CI over {results['num_instances']} instances",
             "", "| agent | " + " | ".join(domains) + " |", "|---|" + "---|" * len(domains)]
    for name in PLANNERS + (LEARNER, SAMPLER):
        cells = [f"{results['domains'][d][name]['mean']:.1f} +- {results['domains'][d][name]['ci95']:.1f}" for d in domains]
        lines.append(f"| {NAMES[name]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/restless", help="output directory")
    parser.add_argument("--quick", action="store_true", help="few instances and short training")
    parser.add_argument("--instances", type=int, default=None)
    parser.add_argument("--iterations", type=int, default=None, help="training iterations of the learner")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS), choices=list(DOMAINS))
    args = parser.parse_args(argv)
    instances = args.instances or (3 if args.quick else 10)
    iterations = args.iterations or (60 if args.quick else 400)
    num_envs, episodes = (8, 32) if args.quick else (16, 200)
    if instances < 1 or iterations < 1:
        parser.error(f"--instances and --iterations must be >= 1, got {instances} and {iterations}")
    os.makedirs(args.out, exist_ok=True)
    start = time.time()
    results = {"num_instances": instances, "iterations": iterations, "num_envs": num_envs, "episodes": episodes,
               "seed": args.seed, "domains": {}}
    for domain in args.domains:
        t = time.time()
        results["domains"][domain] = evaluate_domain(domain, instances, iterations, num_envs, episodes, args.seed)
        print(f"{domain}: {time.time() - t:.0f}s  " + ", ".join(
            f"{NAMES[n]}={results['domains'][domain][n]['mean']:.1f}" for n in PLANNERS + (LEARNER, SAMPLER)))
    results["wall_s"] = time.time() - start
    write_study(args.out, "restless_bandits", results, markdown(results))
    return results


if __name__ == "__main__":
    main()
