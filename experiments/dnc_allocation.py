"""Huge structured action spaces: DNC vs Wolpertinger vs factorised baselines vs random on
joint inventory replenishment (`inventory`, K order levels for each of M items, K^M joint
actions) at growing M.

    python experiments/dnc_allocation.py --quick --out runs/dnc_allocation
    python experiments/dnc_allocation.py --M 2 5 10 30 --K 5 --seeds 3

Agents (each trained by its family's loop, then evaluated greedily):
  dnc           proxy actor + simulated annealing over critic-scored neighbourhoods
  wolpertinger  proto-action + k nearest grid actions re-ranked by the critic
  ppo           factorised policy over MultiDiscrete (one categorical per item)
  decqn         factorised Q-learning (Seyde et al.), when agents/factorised.py is present
  dqn           flat DQN over the flattened Discrete(K^M) space, only while K^M <= FLAT_LIMIT
  random        uniform joint actions
Final return: mean undiscounted return of `--episodes` greedy evaluation episodes (per seed,
then mean and std over seeds). Compile time: XLA lowering + compilation of the fused
`train`; steps/s: env steps over the compiled run's wall time (all seeds at once, vmap).
Writes DIR/results.json and DIR/results.md; prints the markdown table.

`EXPERIMENT` (DNC at M=30, K=5) also runs under `jaxrl-actions run experiments/dnc_allocation.py`.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any, Callable, NamedTuple, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a script from anywhere

import jax  # noqa: E402
import numpy as np  # noqa: E402

import envs  # noqa: E402
from jaxrl_actions import agents  # noqa: E402
from jaxrl_actions.actions import flatten, transform_actions  # noqa: E402
from jaxrl_actions.agents import dnc, ppo, wolpertinger  # noqa: E402
from jaxrl_actions.agents.base import Agent  # noqa: E402
from jaxrl_actions.training import make_train  # noqa: E402
from jaxrl_actions.training.evaluate import agent_state_of, evaluate  # noqa: E402
from jaxrl_actions.cli import main_for  # noqa: E402
from jaxrl_actions.run import Experiment  # noqa: E402

FLAT_LIMIT = 5_000  # flat DQN only while the joint action space is this small
GAMMA = 0.95  # 50-period episodes: a short horizon keeps targets well scaled


def reward_scale(M: int) -> float:
    """Costs grow with M (about 10 M per period under a random policy): keep rewards O(1)."""
    return 1.0 / (10.0 * M)


class Budget(NamedTuple):
    off_policy_steps: int
    on_policy_steps: int
    episodes: int


QUICK = Budget(off_policy_steps=12_000, on_policy_steps=40_000, episodes=16)
FULL = Budget(off_policy_steps=60_000, on_policy_steps=400_000, episodes=32)


def proxy_common(M: int, steps: int) -> dict:
    return dict(total_steps=steps, num_envs=4, utd=2, batch_size=64, buffer_size=50_000, warmup_steps=1_000,
                actor_hidden=(128, 128), critic_hidden=(128, 128), gamma=GAMMA, tau=0.01,
                actor_lr=1e-3, critic_lr=1e-3, exploration_noise=0.2, reward_scale=reward_scale(M))


def dnc_config(M: int, budget: Budget) -> dnc.DNCConfig:
    return dnc.DNCConfig(**proxy_common(M, budget.off_policy_steps), search_steps=6, target_search_steps=1,
                         num_random=8, move_prob=min(0.5, 3.0 / M), max_distance=1)


def wolpertinger_config(M: int, budget: Budget) -> wolpertinger.WolpertingerConfig:
    return wolpertinger.WolpertingerConfig(**proxy_common(M, budget.off_policy_steps), k=16)


def ppo_config(M: int, budget: Budget) -> ppo.PPOConfig:
    return ppo.PPOConfig(total_steps=budget.on_policy_steps, num_envs=8, rollout_len=64, update_epochs=4,
                         num_minibatches=4, hidden_sizes=(128, 128), lr=1e-3, gamma=GAMMA, ent_coef=0.01,
                         reward_scale=reward_scale(M))


def dqn_config(cls, M: int, budget: Budget):
    return cls(total_steps=budget.off_policy_steps, num_envs=8, batch_size=128, buffer_size=50_000,
               warmup_steps=1_000, hidden_sizes=(128, 128), lr=5e-4, gamma=GAMMA,
               eps_decay_steps=budget.off_policy_steps / 2, reward_scale=reward_scale(M))


class Contender(NamedTuple):
    name: str
    agent: Optional[Agent]  # None: uniform random actions
    make_config: Optional[Callable[[int, Budget], Any]]
    flat: bool = False  # acts on the flattened Discrete(K^M) space


def contenders() -> list[Contender]:
    """What runs, given which agents are registered (the factorised Q-learners may be absent)."""
    out = [Contender("dnc", dnc.AGENT, dnc_config), Contender("wolpertinger", wolpertinger.AGENT, wolpertinger_config),
           Contender("ppo", ppo.AGENT, ppo_config)]
    known = agents.names()
    if "decqn" in known:
        decqn = agents.get("decqn")
        out.append(Contender("decqn", decqn, lambda M, b: dqn_config(decqn.config_cls, M, b)))
    if "dqn" in known:
        flat_dqn = agents.get("dqn")
        out.append(Contender("dqn", flat_dqn, lambda M, b: dqn_config(flat_dqn.config_cls, M, b), flat=True))
    out.append(Contender("random", None, None))
    return out


def random_agent(space) -> Agent:
    return Agent(name="random", family="off_policy", config_cls=type(None), init=lambda *a: None,
                 act=lambda state, obs, mask, key, deterministic=False: space.sample(key, mask), update=None)


def run_one(contender: Contender, M: int, K: int, budget: Budget, seeds: int, key) -> dict:
    env = envs.make("inventory", M=M, K=K)
    row = {"agent": contender.name, "M": M, "K": K, "log10_actions": M * math.log10(K)}
    if contender.flat:
        if K ** M > FLAT_LIMIT:
            return {**row, "skipped": f"K^M = 10^{row['log10_actions']:.1f} joint actions > {FLAT_LIMIT}"}
        env = transform_actions(env, flatten(FLAT_LIMIT))
    k_train, k_eval = jax.random.split(key)
    if contender.agent is None:
        agent, states, compile_s, run_s, steps = random_agent(env.spec.action_space), [None] * seeds, 0.0, 0.0, 0
    else:
        agent, config = contender.agent, contender.make_config(M, budget)
        train = jax.jit(jax.vmap(make_train(env, agent, config)))
        keys = jax.random.split(k_train, seeds)
        start = time.perf_counter()
        compiled = train.lower(keys).compile()
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        carry, _ = jax.block_until_ready(compiled(keys))
        run_s = time.perf_counter() - start
        steps = config.total_steps * seeds
        batched = agent_state_of(carry)
        states = [jax.tree_util.tree_map(lambda x, i=i: x[i], batched) for i in range(seeds)]
    returns = [float(evaluate(env, agent, s, jax.random.fold_in(k_eval, i), budget.episodes, deterministic=True).mean())
               for i, s in enumerate(states)]
    return {**row, "final_return_mean": float(np.mean(returns)), "final_return_std": float(np.std(returns)),
            "final_return_per_seed": returns, "compile_s": compile_s,
            "steps_per_s": steps / run_s if run_s > 0 else None, "env_steps_per_seed": steps // max(seeds, 1)}


def markdown(rows: list[dict]) -> str:
    lines = ["| M | K^M | agent | final return | compile s | steps/s |", "|---|---|---|---|---|---|"]
    for r in rows:
        size = f"10^{r['log10_actions']:.1f}"
        if "skipped" in r:
            lines.append(f"| {r['M']} | {size} | {r['agent']} | skipped: {r['skipped']} | | |")
            continue
        sps = f"{r['steps_per_s']:,.0f}" if r["steps_per_s"] else "-"
        comp = f"{r['compile_s']:.1f}" if r["compile_s"] else "-"
        lines.append(f"| {r['M']} | {size} | {r['agent']} | {r['final_return_mean']:.0f} ± {r['final_return_std']:.0f} "
                     f"| {comp} | {sps} |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small budget, one seed: a few minutes on CPU")
    parser.add_argument("--M", type=int, nargs="+", default=None, help="item counts (default 2 5 10 30; --quick: 2 30)")
    parser.add_argument("--K", type=int, default=5, help="order levels per item")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--agents", nargs="+", default=None, help="subset of contenders to run")
    parser.add_argument("--out", default="runs/dnc_allocation")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    budget = QUICK if args.quick else FULL
    ms = args.M or ([2, 30] if args.quick else [2, 5, 10, 30])
    seeds = args.seeds or (1 if args.quick else 3)
    chosen = contenders()
    if args.agents:
        unknown = set(args.agents) - {c.name for c in chosen}
        if unknown:
            raise SystemExit(f"unknown agents {sorted(unknown)}; available: {[c.name for c in chosen]}")
        chosen = [c for c in chosen if c.name in args.agents]
    if "dqn" not in agents.names():
        print("note: flat DQN (agents/dqn.py) is not registered: skipped")
    rows = []
    for M in ms:
        print(f"M={M}, K={args.K}: 10^{M * math.log10(args.K):.1f} joint actions", flush=True)
        for i, contender in enumerate(chosen):
            key = jax.random.fold_in(jax.random.key(args.seed), 1000 * M + i)
            row = run_one(contender, M, args.K, budget, seeds, key)
            rows.append(row)
            print("   ", {k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()
                          if k not in ("final_return_per_seed",)}, flush=True)
    table = markdown(rows)
    print(table)
    largest = max(ms)
    by_agent = {r["agent"]: r.get("final_return_mean") for r in rows if r["M"] == largest and "skipped" not in r}
    if "dnc" in by_agent:
        for rival in ("wolpertinger", "random"):
            if rival in by_agent:
                verdict = "beats" if by_agent["dnc"] > by_agent[rival] else "does NOT beat"
                print(f"M={largest}: DNC ({by_agent['dnc']:.0f}) {verdict} {rival} ({by_agent[rival]:.0f})")
    result = {"experiment": "dnc_allocation", "env": "inventory", "K": args.K, "quick": args.quick, "seeds": seeds,
              "budget": budget._asdict(), "rows": rows}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(table + "\n")
    return result


EXPERIMENT = Experiment(
    name="dnc_allocation",
    description="DNC on joint inventory replenishment, M=30 items x K=5 levels (5^30 ~ 9e20 actions)",
    make_env=lambda **kwargs: envs.make("inventory", **kwargs),
    agent=dnc.AGENT,
    config=dnc_config(30, FULL),
    env_kwargs={"M": 30, "K": 5},
)

if __name__ == "__main__":
    main()
