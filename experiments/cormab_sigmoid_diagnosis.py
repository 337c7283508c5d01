"""Why SEQUOIA loses to myopic on the coRMAB sigmoid domain: does the warm-started Q-network
rank the interventions the way their next-step expected reward does?

For each instance (the seeds of experiments/cormab.py), SEQUOIA is trained for one DQN
episode (its warm start, as in the authors' code, then one episode), and the network's
Q(s, a) is compared with the expected next-step reward r(s, a) over all C(N, B) intervention
sets of exactly B, at two kinds of state:
  visited     the states exact myopic visits in evaluation episodes (P(state 1) = 0.2 at
              the start, H = 20), where SEQUOIA has to act;
  warm_start  states of the warm-start set (the authors' get_training_data: arms in state
              0 or 1 only, B of them up), where the network was fitted.
Per kind: Spearman rank correlation of Q and r within a state; the share of the gain of
the best set over the average set that Q's argmax obtains; the spread of r across the sets
(within-state std) against the network's error (RMSE); the mean number of arms above
state 0 and the highest arm state.

    python experiments/cormab_sigmoid_diagnosis.py --out runs/cormab_diag
    python experiments/cormab_sigmoid_diagnosis.py --quick --out /tmp/cd   # 1 instance, 20 states

Writes DIR/cormab_sigmoid_diagnosis.json and .md.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a script from anywhere
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _study_common beside this file

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import envs  # noqa: E402
from _study_common import write_study  # noqa: E402
from cormab import FIRST_SEED  # noqa: E402
from jaxrl_actions import combinatorial  # noqa: E402
from jaxrl_actions.agents import cormab as C  # noqa: E402
from jaxrl_actions.training import cormab as T  # noqa: E402

KINDS = ("visited", "warm_start")


def visited_states(problem, feasible, key, episodes: int, settings: T.EvalSettings = T.EvalSettings()):
    """int32[episodes * H, J]: the states exact myopic passes through in evaluation episodes."""
    def episode(k):
        def step(states, kk):
            action = C.exact_myopic_action(problem, states, feasible)
            return C.step_arms(kk, problem, states, action), states

        k_start, k_steps = jax.random.split(k)
        start = T.start_states(k_start, problem.num_arms, settings.start_up)
        return jax.lax.scan(step, start, jax.random.split(k_steps, settings.horizon))[1]

    return jax.jit(jax.vmap(episode))(jax.random.split(key, episodes)).reshape(-1, problem.num_arms)


def warm_start_states(problem, key, config: T.SequoiaConfig, count: int) -> np.ndarray:
    states, _ = T.warm_start_pairs(problem, key, config)
    unique = np.unique(np.asarray(states), axis=0)
    return unique[np.random.default_rng(0).permutation(len(unique))[:count]]


def _ranks(x: np.ndarray) -> np.ndarray:
    ranks = np.argsort(np.argsort(x, axis=1), axis=1).astype(float)
    return ranks - ranks.mean(axis=1, keepdims=True)


def ranking(network, params, problem, feasible, states) -> dict:
    """How Q ranks the feasible sets against r, averaged over `states`."""
    states = jnp.asarray(states)
    reward = jax.jit(jax.vmap(lambda s: jax.vmap(lambda a: C.expected_reward(problem, s, a))(feasible)))(states)
    q = jax.jit(jax.vmap(lambda s: jax.vmap(lambda a: network.apply(params, C.pulls(a), s))(feasible)))(states)
    reward, q = np.asarray(reward), np.asarray(q)
    rr, rq = _ranks(reward), _ranks(q)
    spearman = (rr * rq).sum(1) / np.sqrt((rr ** 2).sum(1) * (rq ** 2).sum(1))
    best, average = reward.max(1), reward.mean(1)
    picked = reward[np.arange(len(reward)), q.argmax(1)]
    return {
        "states": int(len(reward)),
        "arms_up": float((np.asarray(states) > 0).sum(1).mean()), "highest_state": int(np.asarray(states).max()),
        "spearman": float(np.nanmean(spearman)),
        "share_of_best_gain": float(np.mean((picked - average) / np.maximum(best - average, 1e-9))),
        "reward_spread_std": float(np.sqrt(reward.var(1).mean())),
        "q_rmse": float(np.sqrt(np.mean((q - reward) ** 2))),
    }


def diagnose(instance: int, episodes: int, config: T.SequoiaConfig) -> dict:
    env = envs.make("cormab_sigmoid")
    key = jax.random.key(FIRST_SEED + instance)
    problem = env.sample_params(key).problem
    feasible = jnp.asarray(combinatorial.feasible_joint_actions(problem.constraints))
    result = jax.jit(lambda p, k: T.train_sequoia(p, k, config))(problem, jax.random.fold_in(key, 2))
    network = C.QNetwork(tuple(config.hidden))
    states = {"visited": visited_states(problem, feasible, jax.random.fold_in(key, 9), episodes),
              "warm_start": warm_start_states(problem, jax.random.fold_in(key, 99), config, episodes * 20)}
    row = {"instance_seed": FIRST_SEED + instance, "warm_mse_last": float(result.warm_loss[-1])}
    row.update({kind: ranking(network, result.params, problem, feasible, states[kind]) for kind in KINDS})
    return row


def markdown(study: dict) -> str:
    rows = study["instances"]
    mean = lambda kind, name: float(np.mean([r[kind][name] for r in rows]))  # noqa: E731
    lines = [f"SEQUOIA's network after its warm start and {study['episodes_trained']} DQN episode(s), "
             f"{len(rows)} sigmoid instances (mean over instances); warm-start MSE at the end: "
             + ", ".join(f"{r['warm_mse_last']:.4f}" for r in rows) + ".", "",
             "| states | arms above state 0 | highest state | Spearman(Q, r) | share of best gain | "
             "r spread (std) | Q error (RMSE) |", "|---|---|---|---|---|---|---|"]
    for kind in KINDS:
        lines.append(f"| {kind} | {mean(kind, 'arms_up'):.2f} | {max(r[kind]['highest_state'] for r in rows)} | "
                     f"{mean(kind, 'spearman'):.2f} | {mean(kind, 'share_of_best_gain'):.0%} | "
                     f"{mean(kind, 'reward_spread_std'):.2f} | {mean(kind, 'q_rmse'):.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/cormab_sigmoid_diagnosis")
    parser.add_argument("--instances", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="1 instance, 1 episode of states, a short warm start")
    args = parser.parse_args(argv)
    if args.instances < 1:
        parser.error(f"--instances must be >= 1, got {args.instances}")
    config = T.SequoiaConfig(episodes=1)
    instances, episodes = args.instances, 10
    if args.quick:
        config, instances, episodes = config._replace(warm_epochs=2, random_warm_states=20), 1, 1
    rows = [diagnose(i, episodes, config) for i in range(instances)]
    study = {"experiment": "cormab_sigmoid_diagnosis", "episodes_trained": config.episodes,
             "warm_epochs": config.warm_epochs, "instances": rows}
    write_study(args.out, "cormab_sigmoid_diagnosis", study, markdown(study))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
