"""SEQUOIA against the coRMAB paper's baselines on its four domains, 4-state arms (Xu et al.
2025; lily-x/combinatorial-rmab @ 895a382, run.sh / driver.py protocol).

    python experiments/cormab.py --out runs/cormab            # 6 instances per domain
    python experiments/cormab.py --quick --out runs/cormab_q  # CI-sized smoke run

Domains: sigmoid (multiple interventions), capacity, path, scheduling (envs/cormab.py). Per
domain: instances drawn from seeds 20..25 (run.sh's seed range; our generator, so not
their instances), J = 20 arms, B = 5 (interventions or workers), N = 10 interventions, H = 20.
Each policy is scored as driver.py does: 50 episodes from states with P(state 1) = 0.2,
the mean expected reward per step. SEQUOIA trains on each instance (warm start, then 100
DQN episodes; training/cormab.py); "iterative DQN" is the same network with a greedy
step. The local search that replaces SEQUOIA's MILP is checked against the exact MILP
(scipy HiGHS) on states sampled uniformly: the gap is (exact - ours) / |exact| (not for
the path domain, whose walk constraint the MILP here does not encode).

Writes DIR/cormab.json (per domain and policy: mean, 95% CI and per-instance values; the
gap's mean and worst) and DIR/cormab.md (the table).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a script from anywhere
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _study_common beside this file

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import envs  # noqa: E402
from _study_common import mean_ci, write_study  # noqa: E402
from jaxrl_actions import combinatorial  # noqa: E402
from jaxrl_actions.agents import cormab as C  # noqa: E402
from jaxrl_actions.training import cormab as T  # noqa: E402

DOMAINS = ("sigmoid", "capacity", "path", "scheduling")
FIRST_SEED = 20  # run.sh: seeds 20..25
BASELINES = ("null", "random", "sampling", "myopic", "iterative_myopic", "whittle")
POLICIES = BASELINES + ("iterative_dqn", "sequoia")  # the table's rows
NAMES = {"null": "null", "random": "random", "sampling": "sampling (best of 100)", "myopic": "myopic",
         "iterative_myopic": "iterative myopic", "whittle": "Whittle index", "iterative_dqn": "iterative DQN",
         "sequoia": "SEQUOIA (ours: local search for the MILP)"}


def applies(name: str, problem: C.CoupledProblem) -> bool:
    """Whittle indices need arms whose dynamics depend on their own pull (not the sigmoid link)."""
    return name != "whittle" or problem.link == "direct"


def baseline_policy(name: str, problem: C.CoupledProblem, feasible_actions, search: C.SearchSettings):
    """policy(states, key) of baseline `name` for one instance (inside jit/vmap)."""
    if name == "null":
        return lambda s, k: C.null_action(problem)
    if name == "random":
        return lambda s, k: C.random_action(problem, s, k)
    if name == "sampling":
        return lambda s, k: C.sampling_action(problem, s, k)
    if name == "iterative_myopic":
        return lambda s, k: C.iterative_myopic_action(problem, s, k)
    if name == "myopic" and feasible_actions is not None:
        return lambda s, k: C.exact_myopic_action(problem, s, feasible_actions)
    if name == "myopic":
        return lambda s, k: C.myopic_search_action(problem, s, k, search)
    indices = C.whittle_indices(problem)
    return lambda s, k: C.whittle_action(problem, indices, s)


def optimality_gaps(problem_i, result_i, config: T.SequoiaConfig, num_states: int, key) -> list[float]:
    """(exact - local search) / |exact| of the trained network's argmax at random states."""
    network = C.QNetwork(tuple(config.hidden))
    params = result_i.params["params"]
    layers = [(params[f"Dense_{i}"]["kernel"], params[f"Dense_{i}"]["bias"]) for i in range(len(config.hidden) + 1)]
    argmax = jax.jit(lambda s, k: C.q_argmax(network, result_i.params, problem_i, s, k, config.search))
    gaps = []
    for i in range(num_states):
        k_state, k_search = jax.random.split(jax.random.fold_in(key, i))
        states = jax.random.randint(k_state, (problem_i.num_arms,), 0, C.NUM_STATES)
        ours = float(network.apply(result_i.params, C.pulls(argmax(states, k_search)), states))
        _, exact = C.milp_argmax(layers, problem_i, np.asarray(states))
        gaps.append((exact - ours) / max(abs(exact), 1e-9))
    return gaps


def run_domain(domain: str, instances: int, config: T.SequoiaConfig, settings: T.EvalSettings, gap_states: int) -> dict:
    env = envs.make(f"cormab_{domain}")
    keys = jnp.stack([jax.random.key(FIRST_SEED + i) for i in range(instances)])
    problems = jax.vmap(lambda k: env.sample_params(k).problem)(keys)
    first = jax.tree.map(lambda x: x[0], problems)
    # the sigmoid domain's feasible set is small, and the same for every instance
    feasible = jnp.asarray(combinatorial.feasible_joint_actions(first.constraints)) if domain == "sigmoid" else None
    # the myopic local search; the path domain's Held-Karp checks make each move costly there
    search = config.search if domain == "path" else C.SearchSettings(starts=8, rounds=10)
    eval_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
    train_keys = jax.vmap(lambda k: jax.random.fold_in(k, 2))(keys)
    out: dict = {}
    t0 = time.time()
    for name in (b for b in BASELINES if applies(b, first)):
        score = lambda problem, key, name=name: T.evaluate(baseline_policy(name, problem, feasible, search), problem, key, settings)  # noqa: E731
        out[name] = np.asarray(jax.jit(jax.vmap(score))(problems, eval_keys))
    baselines_s = time.time() - t0
    t0 = time.time()
    results = jax.jit(jax.vmap(lambda p, k: T.train_sequoia(p, k, config)))(problems, train_keys)
    jax.block_until_ready(results)
    train_s = time.time() - t0
    for name, selection in (("sequoia", "local_search"), ("iterative_dqn", "greedy")):
        score = lambda p, r, k, selection=selection: T.evaluate(T.sequoia_policy(p, r, config, selection), p, k, settings)  # noqa: E731
        out[name] = np.asarray(jax.jit(jax.vmap(score))(problems, results, eval_keys))
    gaps = []
    walk = problems.constraints.walk_slots > 0  # milp_argmax does not encode the walk
    for i in range(0 if walk else instances):
        pick = lambda tree, i=i: jax.tree.map(lambda x: x[i], tree)  # noqa: E731
        gaps += optimality_gaps(pick(problems), pick(results), config, gap_states, jax.random.fold_in(keys[i], 3))
    summary = {name: mean_ci(values) for name, values in out.items()}
    summary["_gap"] = {"mean": float(np.mean(gaps)), "worst": float(np.max(gaps)), "states": len(gaps)} if gaps else None
    summary["_training"] = {"warm_loss_last": np.asarray(results.warm_loss)[:, -1].tolist(),
                            "episode_reward": np.asarray(results.episode_reward).mean(axis=0).tolist(),
                            "train_s": train_s, "baselines_s": baselines_s}
    summary["_myopic"] = "exact (enumeration)" if feasible is not None else f"local search ({search.starts} starts x {search.rounds} moves)"
    return summary


def markdown(results: dict) -> str:
    domains = list(results["domains"])
    head = (f"Mean expected reward per step ({results['eval_episodes']} episodes x H=20 from P(state 1)=0.2) "
            f"+- 95% CI over {results['instances']} instances; J=20, B=5, N=10")
    lines = [head, "", "| policy | " + " | ".join(domains) + " |", "|---|" + "---|" * len(domains)]
    for name in POLICIES:
        cells = []
        for d in domains:
            row = results["domains"][d].get(name)
            cells.append(f"{row['mean']:.2f} +- {row['ci95']:.2f}" if row else "n/a")
        lines.append(f"| {NAMES[name]} | " + " | ".join(cells) + " |")
    gaps = [results["domains"][d]["_gap"] for d in domains]
    percent = lambda x: f"{0.0 if abs(x) < 1e-6 else x:.2%}"  # noqa: E731  (float32 vs HiGHS's float64: ~1e-8)
    gap_cells = [f"{percent(g['mean'])} / {percent(g['worst'])}" if g else "not measured" for g in gaps]
    lines.append("| local search vs exact MILP: gap mean / worst | " + " | ".join(gap_cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/cormab", help="output directory")
    parser.add_argument("--quick", action="store_true", help="2 instances, short warm start and training")
    parser.add_argument("--instances", type=int, default=None)
    parser.add_argument("--domains", nargs="*", default=list(DOMAINS), choices=list(DOMAINS))
    args = parser.parse_args(argv)
    instances = args.instances or (2 if args.quick else 6)
    if instances < 1:
        parser.error(f"--instances must be >= 1, got {instances}")
    if args.quick:
        config = T.SequoiaConfig(warm_epochs=3, random_warm_states=20, episodes=5, search=C.SearchSettings(2, 3))
        settings, gap_states = T.EvalSettings(episodes=4), 2
    else:
        config, settings, gap_states = T.SequoiaConfig(), T.EvalSettings(), 10
    start = time.time()
    results = {"instances": instances, "eval_episodes": settings.episodes, "config": config._asdict(), "domains": {}}
    results["config"]["search"] = config.search._asdict()
    for domain in args.domains:
        t = time.time()
        results["domains"][domain] = run_domain(domain, instances, config, settings, gap_states)
        print(f"{domain}: {time.time() - t:.0f}s  " + ", ".join(
            f"{n}={r['mean']:.2f}" for n, r in results["domains"][domain].items() if not n.startswith("_")), flush=True)
    results["wall_s"] = time.time() - start
    write_study(args.out, "cormab", results, markdown(results))
    return results


if __name__ == "__main__":
    main()
