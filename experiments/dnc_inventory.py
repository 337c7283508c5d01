"""DNC on the paper's joint replenishment problem (Akkerman et al., ICLR 2024; env and learner
as the authors' code, tumBAIS/dynamicNeighborhoodConstruction): DNC against the k-NN
(Wolpertinger-style) and MinMax ("vanilla actor-critic") mappings on the same online Q
actor-critic, random order-up-to levels, and (s, S) policies.

    python experiments/dnc_inventory.py --quick --out runs/dnc_inventory_quick
    python experiments/dnc_inventory.py --out runs/dnc_inventory              # M = 2 and 10
    python experiments/dnc_inventory.py --M 2 5 10 20 --steps 2000000 --seeds 5   # a GPU host

Contenders (cost = minus the undiscounted return of a 100-period episode, lower is better):
  dnc         online QAC + DNC (`agents/dnc.py`, the authors' defaults)
  qac_knn     the same learner, the critic's best of the k=2 grid actions nearest the proxy
  qac_minmax  the same learner, the proxy rounded to the grid (no search)
  random      uniform order-up-to levels
  sS_paper    (s, S) = ([22, 11], [28, 16]) by item parity (the authors' simPolicy)
  sS_tuned    the best (s, S) of a grid search by item parity (common random numbers), the
              analytic reference

Learners train `--steps` env steps per seed (one env, one update per step, as the paper) and
are then evaluated on `--episodes` episodes: `final_cost` with the authors' evaluation
(`get_action(training=False)`: proxy still sampled, search without random moves) and
`greedy_cost` with the actor's mean proxy. Variants of a learner are named
`<learner>+<option>...` with options from `OPTIONS` (`rs`: rewards x 1e-3, `sa10`: ten
annealing iterations, `std03`: proxy std 0.3; `obs23` and `std05`: the feature scaling and
proxy std of the authors' May-2023 code); none is the published parser's setting.

Writes DIR/dnc_inventory.json ({"M": {m: {"agents": {name: {"final_cost_mean",
"final_cost_per_seed", ...}}}}}), DIR/dnc_inventory.md (the table) and DIR/dnc_inventory.png
(learning curves with the baselines as lines). `EXPERIMENT` (DNC at M=2) also runs under
`jaxrl-actions run experiments/dnc_inventory.py`.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from typing import Any, Callable, NamedTuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a script from anywhere
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _study_common beside this file

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import envs  # noqa: E402
from _study_common import write_study  # noqa: E402
from envs.combinatorial import PAPER_BIG_S, PAPER_S, SMAX as SMAX_LEVEL, authors_obs_bounds, by_parity, reorder_policy  # noqa: E402
from jaxrl_actions.agents import dnc, qac  # noqa: E402
from jaxrl_actions.agents.base import Agent  # noqa: E402
from jaxrl_actions.run import Experiment  # noqa: E402
from jaxrl_actions.training import make_trainer  # noqa: E402
from jaxrl_actions.training.evaluate import evaluate  # noqa: E402

NAME = "dnc_inventory"
OBS_LOW, OBS_HIGH = authors_obs_bounds()  # the authors' observation box, [-40, 66]
REWARD_SCALE = 1e-3  # the `+rs` variants only (the paper scales nothing)
LEARNERS: dict[str, tuple[Agent, type]] = {
    "dnc": (dnc.AGENT, dnc.DNCConfig),
    "qac_knn": (qac.KNN, qac.KNNConfig),
    "qac_minmax": (qac.MINMAX, qac.QACConfig),
}
# Options a learner name may carry (`dnc+rs+sa10`); none is the paper's setting.
OPTIONS: dict[str, dict] = {
    "rs": {"reward_scale": REWARD_SCALE},  # rewards scaled by 1e-3
    "sa10": {"search_steps": 10},  # ten annealing iterations instead of one
    "std03": {"gauss_std": 0.3},  # proxy std 0.3 instead of 1
    # The authors' May-2023 code (commits 2e49175..6c9a2fb, before 40dbffb): the env divided the
    # inventory by 106 and Basis.preprocess normalised it again as (x + 40) / 106, so every
    # feature sat in [0.374, 0.383] and the policy was in effect one constant level per item;
    # (obs / 106 + 40) / 106 = (obs + 4240) / 11236, i.e. the bounds below.
    "obs23": {"obs_low": -40.0 * 106.0, "obs_high": -40.0 * 106.0 + 106.0 * 106.0},
    "std05": {"gauss_std": 0.5},  # --gauss_variance 0.5 of the same commits
}
BASELINES = ("random", "sS_paper", "sS_tuned")


class Budget(NamedTuple):
    sizes: tuple  # item counts M
    steps: int  # env steps per learner seed
    seeds: int
    episodes: int  # evaluation episodes per seed / per baseline
    chunk: int  # env steps per learning-curve point
    grid_episodes: int  # episodes per (s, S) candidate
    grid_step: int = 4  # spacing of the coarse (s, S) grid
    grid_rounds: int = 2  # coordinate-refinement rounds after it


QUICK = Budget(sizes=(2,), steps=2_000, seeds=2, episodes=8, chunk=500, grid_episodes=16, grid_step=8, grid_rounds=1)
FULL = Budget(sizes=(2, 10), steps=200_000, seeds=3, episodes=100, chunk=10_000, grid_episodes=200)


def learner_config(name: str, steps: int):
    """The authors' defaults (the config classes' own) plus the Fourier bounds and budget;
    `name` may carry `+option` suffixes from OPTIONS."""
    base, *options = name.split("+")
    _, config_cls = LEARNERS[base]
    fields: dict[str, Any] = {"total_steps": steps, "num_envs": 1, "obs_low": OBS_LOW, "obs_high": OBS_HIGH}
    for option in options:
        if option not in OPTIONS:
            raise SystemExit(f"unknown option {option!r} in {name!r}; known: {sorted(OPTIONS)}")
        fields.update(OPTIONS[option])
    return config_cls(**fields)


def learner_agent(name: str) -> Agent:
    base = name.split("+")[0]
    if base not in LEARNERS:
        raise SystemExit(f"unknown learner {base!r}; known: {sorted(LEARNERS)} and baselines {list(BASELINES)}")
    return LEARNERS[base][0]


# ---------------------------------------------------------------------------------------
# Policies without learning


def policy_agent(name: str, policy: Callable) -> Agent:
    """An Agent record around policy(obs, key) -> action (for `evaluate`)."""
    return Agent(name=name, family="online", config_cls=type(None), init=lambda *a: None,
                 act=lambda state, obs, mask, key, deterministic=False: policy(obs, key), update=None)


def ss_agent(M: int, s, big_s) -> Agent:
    s_items, big_s_items = jnp.asarray(by_parity(M, *s)), jnp.asarray(by_parity(M, *big_s))
    return policy_agent("sS", lambda obs, key: reorder_policy(obs, s_items, big_s_items))


def episode_costs(env, policy: Callable, key, episodes: int) -> jax.Array:
    """float32[episodes]: the cost of `policy(obs, key)` on whole episodes (pure, vmappable)."""

    def episode(k):
        k_reset, k = jax.random.split(k)
        state, ts = env.reset(k_reset)

        def step(carry, k_step):
            state, obs, cost = carry
            k_act, k_env = jax.random.split(k_step)
            state, ts = env.step(k_env, state, policy(obs, k_act))
            return (state, ts.obs, cost - ts.reward), None

        (_, _, cost), _ = jax.lax.scan(step, (state, ts.obs, jnp.float32(0.0)), jax.random.split(k, env.horizon))
        return cost

    return jax.vmap(episode)(jax.random.split(key, episodes))


def ss_grid(M: int, key, episodes: int, step: int = 4, rounds: int = 2) -> dict:
    """The best (s, S) by item parity on common random numbers (every candidate on the same
    episodes): a joint coarse grid over the (s, S) of even and odd items at once (`step` apart,
    `episodes // 8` episodes each), then coordinate refinement in steps of 1 around the best
    (`episodes` each), `rounds` times; the paper's values are kept if the result does not
    beat them."""
    env = envs.make("joint_replenishment", M=M)
    even = jnp.arange(M) % 2 == 0

    def costs(s_pairs, big_pairs, k, n: int) -> np.ndarray:
        def one(s, big):
            s_items, big_items = jnp.where(even, s[0], s[1]), jnp.where(even, big[0], big[1])
            return episode_costs(env, lambda obs, kk: reorder_policy(obs, s_items, big_items), k, n).mean()

        return np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(s_pairs), jnp.asarray(big_pairs)))

    k_coarse, k_fine = jax.random.split(key)
    coarse_even = [(s, s + gap) for s in range(10, 39, step) for gap in range(0, 37, step)]
    coarse_odd = ([(s, s + gap) for s in range(2, 27, step) for gap in range(0, 29, step)] if M > 1
                  else [(PAPER_S[1], PAPER_BIG_S[1])])
    pairs = [(e, o) for e in coarse_even for o in coarse_odd]
    values = costs([[e[0], o[0]] for e, o in pairs], [[e[1], o[1]] for e, o in pairs], k_coarse, max(1, episodes // 8))
    (s_e, big_e), (s_o, big_o) = pairs[int(np.argmin(values))]
    best = [[s_e, s_o], [big_e, big_o]]  # [s by parity, S by parity]
    evaluated = len(pairs)
    for _ in range(rounds):
        for parity in (0, 1) if M > 1 else (0,):
            s0, big0 = best[0][parity], best[1][parity]
            local = [(sv, bv) for sv in range(max(0, s0 - 3), s0 + 4)
                     for bv in range(max(sv, big0 - 3), min(SMAX_LEVEL, big0 + 3) + 1)]
            s_pairs = [[sv if parity == 0 else best[0][0], sv if parity == 1 else best[0][1]] for sv, _ in local]
            big_pairs = [[bv if parity == 0 else best[1][0], bv if parity == 1 else best[1][1]] for _, bv in local]
            j = int(np.argmin(costs(s_pairs, big_pairs, k_fine, episodes)))
            best = [s_pairs[j], big_pairs[j]]
            evaluated += len(local)
    tuned, paper = costs([best[0], list(PAPER_S)], [best[1], list(PAPER_BIG_S)], k_fine, episodes)
    if paper <= tuned:
        best = [list(PAPER_S), list(PAPER_BIG_S)]
    return {"s": [int(v) for v in best[0]], "S": [int(v) for v in best[1]], "candidates_evaluated": evaluated,
            "episodes_per_candidate": episodes}


# ---------------------------------------------------------------------------------------
# Learners


def train_learner(name: str, M: int, budget: Budget, key) -> dict:
    """Trains `budget.seeds` seeds of learner `name` at once (vmap), then evaluates each."""
    env = envs.make("joint_replenishment", M=M)
    agent, config = learner_agent(name), learner_config(name, budget.steps)
    trainer = make_trainer(env, agent, config)
    num_chunks = max(1, budget.steps // budget.chunk)
    chunk = budget.steps // num_chunks

    def run(k):
        carry = trainer.init(k)

        def one_chunk(c, _):
            c, m = jax.lax.scan(lambda c, _: trainer.update(c), c, None, length=chunk)
            return c, {"episode_return": m["episode_return"][-1], "q_mean": m["learn/q_mean"].mean(),
                       "critic_loss": m["learn/critic_loss"].mean()}

        return jax.lax.scan(one_chunk, carry, None, length=num_chunks)

    k_train, k_eval = jax.random.split(key)
    keys = jax.random.split(k_train, budget.seeds)
    start = time.perf_counter()
    compiled = jax.jit(jax.vmap(run)).lower(keys).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    carry, curves = jax.block_until_ready(compiled(keys))
    wall_s = time.perf_counter() - start
    states = [jax.tree_util.tree_map(lambda x, i=i: x[i], carry.agent_state) for i in range(budget.seeds)]
    greedy_agent = agent  # the same functions; the config decides how the proxy is read
    final, greedy = [], []
    for i, state in enumerate(states):
        k = jax.random.fold_in(k_eval, i)
        final.append(-float(evaluate(env, agent, state, k, budget.episodes, deterministic=True).mean()))
        mean_state = state.replace(config=state.config.replace(sample_proxy_at_eval=False))
        greedy.append(-float(evaluate(env, greedy_agent, mean_state, k, budget.episodes, deterministic=True).mean()))
    return {
        "final_cost_mean": float(np.mean(final)), "final_cost_std": float(np.std(final)), "final_cost_per_seed": final,
        "greedy_cost_mean": float(np.mean(greedy)), "greedy_cost_per_seed": greedy,
        "train_steps_per_seed": num_chunks * chunk, "compile_s": compile_s, "wall_s": wall_s,
        "steps_per_s": budget.seeds * num_chunks * chunk / wall_s,
        "curve_steps": [(i + 1) * chunk for i in range(num_chunks)],
        "curve_cost": (-np.asarray(curves["episode_return"])).mean(axis=0).tolist(),
        "curve_q_mean": np.asarray(curves["q_mean"]).mean(axis=0).tolist(),
        "config": {k: (v if isinstance(v, (int, float, bool, type(None))) else str(v))
                   for k, v in vars(config).items()},
    }


def baseline_costs(name: str, M: int, budget: Budget, key, tuned: dict) -> dict:
    env = envs.make("joint_replenishment", M=M)
    if name == "random":
        space = env.spec.action_space
        agent = policy_agent("random", lambda obs, k: space.sample(k))
    elif name == "sS_paper":
        agent = ss_agent(M, PAPER_S, PAPER_BIG_S)
    else:
        agent = ss_agent(M, tuned["s"], tuned["S"])
    per_seed = [-float(evaluate(env, agent, None, jax.random.fold_in(key, i), budget.episodes).mean())
                for i in range(budget.seeds)]
    row = {"final_cost_mean": float(np.mean(per_seed)), "final_cost_std": float(np.std(per_seed)),
           "final_cost_per_seed": per_seed}
    if name != "random":
        row["s"], row["S"] = (list(PAPER_S), list(PAPER_BIG_S)) if name == "sS_paper" else (tuned["s"], tuned["S"])
    return row


# ---------------------------------------------------------------------------------------
# Study, table, plot


def run_study(budget: Budget, names: list[str], out: str, seed: int = 0, log=print) -> dict:
    results: dict[str, dict] = {}
    for M in budget.sizes:
        key = jax.random.fold_in(jax.random.key(seed), M)
        k_grid, k_base, k_learn = jax.random.split(key, 3)
        log(f"M={M}: 67^{M} = 10^{M * np.log10(67):.1f} joint actions")
        tuned = ss_grid(M, k_grid, budget.grid_episodes, budget.grid_step, budget.grid_rounds)
        log(f"  (s, S) grid search: s={tuned['s']}, S={tuned['S']}")
        agents_out = {}
        for name in names:
            if name in BASELINES:
                agents_out[name] = baseline_costs(name, M, budget, k_base, tuned)
            else:
                agents_out[name] = train_learner(name, M, budget, jax.random.fold_in(k_learn, names.index(name)))
            row = agents_out[name]
            log(f"  {name:<16} cost {row['final_cost_mean']:10.0f} +- {row['final_cost_std']:.0f}"
                + (f"  greedy {row['greedy_cost_mean']:.0f}  compile {row['compile_s']:.0f}s run {row['wall_s']:.0f}s"
                   if "greedy_cost_mean" in row else ""))
        results[str(M)] = {"agents": agents_out, "sS_grid": tuned, "verdict": verdict(agents_out)}
    study = {"experiment": NAME, "env": "joint_replenishment", "budget": budget._asdict(), "seed": seed,
             "machine": {"platform": platform.platform(), "processor": platform.processor(),
                         "cpus": os.cpu_count(), "jax_backend": jax.default_backend()},
             "M": results}
    write_study(out, NAME, study, markdown(study) + "\n")
    plot(study, os.path.join(out, f"{NAME}.png"))
    return study


def verdict(agents_out: dict) -> dict:
    """DNC against each rival (lower cost wins) and its gap to the tuned (s, S) policy."""
    if "dnc" not in agents_out:
        return {}
    ours = agents_out["dnc"]["final_cost_mean"]
    out = {f"dnc_beats_{r}": ours < agents_out[r]["final_cost_mean"]
           for r in ("qac_knn", "qac_minmax", "random") if r in agents_out}
    if "sS_tuned" in agents_out:
        ref = agents_out["sS_tuned"]["final_cost_mean"]
        out["dnc_gap_to_sS_tuned"] = ours / ref - 1.0
        out["dnc_within_10pct_of_sS_tuned"] = ours <= 1.1 * ref
    return out


def markdown(study: dict) -> str:
    lines = ["| M | contender | cost (authors' eval) | cost (mean proxy) | vs tuned (s,S) |", "|---|---|---|---|---|"]
    for m, res in study["M"].items():
        agents_out = res["agents"]
        ref = agents_out.get("sS_tuned", {}).get("final_cost_mean")
        for name, row in agents_out.items():
            extra = f" (s={row['s']}, S={row['S']})" if "s" in row else ""
            greedy = f"{row['greedy_cost_mean']:.0f}" if "greedy_cost_mean" in row else "-"
            gap = f"{100 * (row['final_cost_mean'] / ref - 1):+.1f}%" if ref else "-"
            lines.append(f"| {m} | {name}{extra} | {row['final_cost_mean']:.0f} ± {row['final_cost_std']:.0f} "
                         f"| {greedy} | {gap} |")
    budget = study["budget"]
    lines.append("")
    lines.append(f"{budget['seeds']} seeds, {budget['steps']} env steps per learner seed, {budget['episodes']} "
                 f"evaluation episodes per seed; cost = minus the 100-period return (lower is better).")
    return "\n".join(lines)


def plot(study: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(study["M"])
    fig, axes = plt.subplots(1, len(sizes), figsize=(5 * len(sizes), 3.6), squeeze=False)
    for ax, m in zip(axes[0], sizes):
        agents_out = study["M"][m]["agents"]
        for name, row in agents_out.items():
            if "curve_cost" in row:
                ax.plot(row["curve_steps"], row["curve_cost"], label=f"{name} (training)")
        for name, style in (("random", ":"), ("sS_paper", "--"), ("sS_tuned", "-.")):
            if name in agents_out:
                ax.axhline(agents_out[name]["final_cost_mean"], color="gray", linestyle=style, label=name)
        ax.set_title(f"joint replenishment, M={m}")
        ax.set_xlabel("env steps (one seed)")
        ax.set_ylabel("episode cost (lower is better)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="M=2, 2k steps, 2 seeds: a smoke test")
    parser.add_argument("--M", type=int, nargs="+", default=None, help="item counts (default 2 10)")
    parser.add_argument("--steps", type=int, default=None, help="env steps per learner seed")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--episodes", type=int, default=None, help="evaluation episodes per seed")
    parser.add_argument("--agents", nargs="+", default=None,
                        help=f"contenders (default all): {sorted(LEARNERS)}, <learner>+rs, {list(BASELINES)}")
    parser.add_argument("--out", default=f"runs/{NAME}")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    budget = QUICK if args.quick else FULL
    budget = budget._replace(sizes=tuple(args.M or budget.sizes), steps=args.steps or budget.steps,
                             seeds=args.seeds or budget.seeds, episodes=args.episodes or budget.episodes)
    if any(m < 1 for m in budget.sizes):
        raise SystemExit(f"--M: item counts must be >= 1, got {list(budget.sizes)}")
    if budget.steps < 1 or budget.seeds < 1 or budget.episodes < 1:
        raise SystemExit("--steps, --seeds and --episodes must be >= 1")
    names = args.agents or [*LEARNERS, *BASELINES]
    for name in names:
        if name not in BASELINES:
            learner_config(name, 1)  # unknown names and options fail here, before anything runs
            learner_agent(name)
    study = run_study(budget, names, args.out, args.seed)
    for m, res in study["M"].items():
        print(f"M={m}: {res['verdict']}")
    print(f"wrote {args.out}/{NAME}.{{json,md,png}}")
    return 0


EXPERIMENT = Experiment(
    name=NAME,
    description="DNC (online QAC + simulated annealing) on the paper's joint replenishment, M=2 (67^2 actions)",
    make_env=lambda **kwargs: envs.make("joint_replenishment", **kwargs),
    agent=dnc.AGENT,
    config=learner_config("dnc", FULL.steps),
    env_kwargs={"M": 2},
)

if __name__ == "__main__":
    raise SystemExit(main())
