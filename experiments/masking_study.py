"""Invalid-action masking study after Huang & Ontañón (FLAIRS 2022), "A Closer Look at
Invalid Action Masking in Policy Gradient Algorithms": PPO on Gym-µRTS's MicrortsMining maps
(`envs/microrts.py`) with the paper's variants, PPO settings, 500k steps and 4 seeds.

Variants (same PPO settings, env steps and seeds; vwxyzjn/invalid-action-masking scripts):
  masking          the env's partial mask when sampling and in the update (`ppo_*.py`)
  naive_masking    masked when sampling, unmasked log-probs in the update (`ppo_no_adj_*.py`;
                   our `mask_in_gradient=False`)
  penalty_<r>      no mask; each invalid source unit costs r (r = 0, -0.01, -0.1, -1;
                   `ppo_no_mask_*.py --invalid-action-penalty r`); the logged return is the
                   env's own (EpisodeStats sits below the penalty)
  masking_removed  the masking policy sampled from unmasked logits (the paper evaluates it
                   after every update; we do it once, after training, on 16 episodes)

PPO as the paper's scripts (their `mask.sh` flags): 1 env, 2048 steps per update, 8
minibatches of 256, 10 epochs, Adam lr 3e-4 annealed, gamma 0.99, lambda 0.97, clip 0.2,
clipped value loss, gradient norm 0.5, observation normalisation, separate policy and value
CNNs per map size (the masked scripts' networks). As theirs: one ratio per action
component, each clipped and the surrogate averaged over components; their entropy term,
+0.01 x mean(-p log p) of the taken actions (a penalty that sharpens the policy); one Adam
and one gradient clip per network. Each has a flag for our PPO's own choice instead:
`--joint-ratio` (one ratio of the joint action), `--no-entropy-term` (none) and
`--joint-optimizer` (one Adam and one clip over both networks, vf_coef 0.5); earlier studies
in docs/results.md ran with some of them (each table names its settings). Differences kept
deliberately: advantages normalised per minibatch (theirs: per batch); the 200-step limit is
a truncation (theirs: terminal); orthogonal init (theirs: PyTorch's default); Adam eps 1e-5
(theirs: 1e-8).

Metrics (their plots/analysis.py): return = the episode return of the last update (about
10 episodes) averaged over seeds; time to solve = the first env step at which an update's
mean episode return reaches 40, as a share of the budget (100% if never); invalid = invalid
source units per env step; KL = PPO's approximate KL per update (k1: mean(old - new log-prob),
the authors' estimator), averaged over training, next
to the paper's KL plots as numbers (PAPER_KL). Writes DIR/masking_study.json, .md (table with the paper's
numbers) and .png (curves).

    python experiments/masking_study.py --out runs/masking_study              # 4x4, 10x10: paper budget
    python experiments/masking_study.py --quick --out /tmp/ms                 # CI-sized smoke run
    python experiments/masking_study.py --sizes 16 24 --out runs/ms_large     # GPU
    python experiments/masking_study.py --merge runs/ms_a runs/ms_b --out runs/ms # one table from parts
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _study_common beside this file

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import envs  # noqa: E402
from _study_common import write_study  # noqa: E402
from jaxrl_actions.actions import invalid_penalty, transform_actions  # noqa: E402
from jaxrl_actions.agents import ppo  # noqa: E402
from jaxrl_actions.training import make_trainer  # noqa: E402
from jaxrl_actions.training.common import LEARN_PREFIX, fused_train  # noqa: E402
from jaxrl_actions.types import INVALID_ACTION  # noqa: E402
from jaxrl_actions.wrappers import EpisodeStats  # noqa: E402

PENALTIES = {"penalty_0": 0.0, "penalty_-0.01": -0.01, "penalty_-0.1": -0.1, "penalty_-1": -1.0}
TRAINED = ("masking", "naive_masking") + tuple(PENALTIES)
EVAL_ONLY = "masking_removed"
VARIANTS = TRAINED + (EVAL_ONLY,)
PAPER_STEPS, PAPER_SEEDS = 500_000, 4  # every map size (the paper's section 5; mask.sh)
SOLVED_RETURN = 40.0  # the near resource exhausted (plots/analysis.py)
QUICK_SIZES, QUICK_STEPS = (4,), 4096

# The masked scripts' CNN trunks per map size (invalid_action_masking/ppo_{4x4,10x10,16x16,24x24}.py):
# (features, kernel, max-pool window) then Linear(128).
CONV = {4: ((16, 2, 1),), 10: ((16, 3, 1), (32, 3, 1)), 16: ((16, 3, 1), (32, 3, 1)), 24: ((16, 3, 2), (32, 2, 2))}

CONFIG = ppo.PPOConfig(
    total_steps=PAPER_STEPS, num_envs=1, rollout_len=2048,  # batch 2048 from one env
    num_minibatches=8, update_epochs=10,  # minibatch 256, 10 epochs
    hidden_sizes=(128,), activation="relu", lr=3e-4, anneal_lr=True, gamma=0.99, gae_lambda=0.97,
    clip_eps=0.2, clip_value=True, max_grad_norm=0.5, normalize_obs=True,
    ratio_per_component=True,  # ppo_*.py: ratio = (newlogproba - logprobs).exp() over [components, batch]
    # ppo_*.py: policy_loss = -min(...) + ent_coef * entropy, entropy = -(p * log p) of the
    # taken actions, ent_coef 0.01 (their default; mask.sh does not set it): a penalty
    entropy_term="sampled_penalty", ent_coef=0.01,
    # ppo_*.py: pg_optimizer and v_optimizer, each Adam with clip_grad_norm_(0.5); their value
    # loss is 0.5 x the clipped squared error, our clipped_value_loss, so vf_coef 1
    separate_optimizers=True, vf_coef=1.0,
)

# Recomputed by our research from the authors' logged runs (the repository's cached wandb
# curves, plots/charts_episode_reward/data/*.pkl, about 500 points per run, so time to solve
# is approximate); the exact cells of the paper's Table 2 could not be read here.
PAPER = {
    "4": {"masking": (40.0, 0.0, 0.093), "naive_masking": (59.5, 22.0, 0.125), "masking_removed": (34.1, 11.8, 0.70),
          "penalty_0": (30.25, 19.5, 0.379), "penalty_-0.01": (40.0, 0.0, 0.181), "penalty_-0.1": (30.0, 20.0, 0.518),
          "penalty_-1": (0.0, 0.0, 1.0)},
    "10": {"masking": (39.98, 0.05, 0.122), "naive_masking": (40.0, 0.0, 0.163),
           "masking_removed": (25.6, 17.5, 0.864), "penalty_0": (0.25, None, 1.0), "penalty_-0.01": (0.5, None, 1.0),
           "penalty_-0.1": (0.0, None, 1.0), "penalty_-1": (0.0, None, 1.0)},
    "16": {"masking": (38.4, 3.2, 0.125), "naive_masking": (39.98, 0.05, 0.314), "masking_removed": (17.3, 18.3, 1.0),
           "penalty_0": (1.0, None, 1.0), "penalty_-0.01": (1.0, None, 1.0), "penalty_-0.1": (0.75, None, 1.0),
           "penalty_-1": (0.25, None, 1.0)},
    "24": {"masking": (40.0, 0.0, 0.232), "naive_masking": (38.5, 3.0, 0.513), "masking_removed": (16.9, 15.8, 1.0),
           "penalty_0": (0.5, None, 1.0), "penalty_-0.01": (0.5, None, 1.0), "penalty_-0.1": (0.25, None, 1.0),
           "penalty_-1": (0.0, None, 1.0)},
}
# The paper's KL plots (losses/approx_kl): the mean over training of each run's logged value,
# averaged over the 4 seeds, recomputed from plots/losses_approx_kl/data/*.pkl of the same
# repository. Their estimator is mean(old - new log-prob) per action component on the last
# minibatch of each update; ours (PPO's `approx_kl_k1`) is the same mean(old - new), per
# component (or of the joint action under --joint-ratio) over every minibatch, so compare
# each variant's ratio to masking, not the values. PPO's `approx_kl` (mean(exp(r) - 1 - r))
# is kept as kl_k3_*.
PAPER_KL = {
    "4": {"masking": 0.0055, "naive_masking": 0.1151, "penalty_0": 0.0068, "penalty_-0.01": 0.0069,
          "penalty_-0.1": 0.0062, "penalty_-1": 0.0036},
    "10": {"masking": 0.0075, "naive_masking": 0.3277, "penalty_0": 0.0053, "penalty_-0.01": 0.0058,
           "penalty_-0.1": 0.0035, "penalty_-1": 0.006},
    "16": {"masking": 0.0079, "naive_masking": 0.1397, "penalty_0": 0.0057, "penalty_-0.01": 0.0043,
           "penalty_-0.1": 0.0047, "penalty_-1": 0.0045},
    "24": {"masking": 0.0054, "naive_masking": 0.0773, "penalty_0": 0.0054, "penalty_-0.01": 0.0052,
           "penalty_-0.1": 0.0048, "penalty_-1": 0.0053},
}
PAPER_SOURCE = ("recomputed from the authors' logged runs (vwxyzjn/invalid-action-masking, "
                "plots/charts_episode_reward/data/*.pkl; metric definitions of plots/analysis.py)")


def env_name(size: int) -> str:
    return f"microrts_mining_{size}x{size}"


def make_env(variant: str, size: int):
    """The masked env, or (penalty variants) the env under `invalid_penalty` with the mask
    hidden and EpisodeStats below it, so the logged return is the env's own."""
    if variant in ("masking", "naive_masking"):
        return envs.make(env_name(size))
    return transform_actions(EpisodeStats(envs.make(env_name(size))), invalid_penalty(PENALTIES[variant]))


def variant_config(variant: str, size: int, total_steps: int, config: ppo.PPOConfig = CONFIG) -> ppo.PPOConfig:
    return dataclasses.replace(config, total_steps=total_steps, conv_layers=CONV[size],
                               mask_in_gradient=variant != "naive_masking")


def config_fields(config: ppo.PPOConfig) -> dict:
    """What a seed is trained with: {field: repr(value)} for every PPOConfig field."""
    return {f.name: repr(getattr(config, f.name)) for f in dataclasses.fields(config)}


def seed_file(cache_dir: str, variant: str, size: int, seed: int, config: ppo.PPOConfig) -> str:
    """Where one finished seed is kept. The name carries a digest of the settings that
    differ from PPOConfig's defaults, so a field added later with a default leaves the
    saved seeds readable; the file itself holds every setting, and `load_seed` checks them."""
    default = config_fields(ppo.PPOConfig())
    changed = sorted((name, value) for name, value in config_fields(config).items() if default[name] != value)
    digest = hashlib.sha256(repr((variant, size, changed)).encode()).hexdigest()[:12]
    return os.path.join(cache_dir, f"{variant}_{size}x{size}_seed{seed}_{digest}.npz")


def save_seed(path: str, result, run_settings: dict) -> None:
    leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(result)]
    tmp = path + ".tmp.npz"
    np.savez(tmp, *leaves, settings=np.asarray(json.dumps(run_settings, sort_keys=True)))
    os.replace(tmp, path)  # a run killed mid-write leaves no half file behind


def settings_conflict(saved: dict, current: dict) -> str | None:
    """The first setting both runs have with different values ('name: saved -> current'),
    or None. A field only the current run has was added since, and is at its default
    (a value other than the default changes the file name)."""
    for name in sorted(saved.keys() & current.keys()):
        if saved[name] != current[name]:
            return f"{name}: {saved[name]} -> {current[name]}"
    return None


def load_seed(path: str, template, run_settings: dict):
    """The (agent state, metrics) saved at `path`, in the structure of `template`; a clear
    error when the file is damaged or was trained with other settings."""
    leaves, treedef = jax.tree_util.tree_flatten(template)
    try:
        with np.load(path) as saved:
            arrays = [saved[f"arr_{i}"] for i in range(len(saved.files) - ("settings" in saved.files))]
            saved_settings = json.loads(str(saved["settings"])) if "settings" in saved.files else None
    except Exception as err:  # zip, pickle or header damage
        raise ValueError(f"seed file {path} is corrupt ({err}); delete it to rerun that seed") from err
    conflict = settings_conflict(saved_settings, run_settings) if saved_settings is not None else "no settings saved"
    if conflict:
        raise ValueError(f"seed file {path} was trained with other settings ({conflict}); delete it to rerun that seed")
    shapes_match = len(arrays) == len(leaves) and all(a.shape == t.shape for a, t in zip(arrays, leaves))
    if not shapes_match:
        raise ValueError(f"seed file {path} does not match this run's agent and metrics; delete it to rerun that seed")
    return jax.tree_util.tree_unflatten(treedef, arrays)


def train(variant: str, size: int, total_steps: int, seeds: int, config: ppo.PPOConfig = CONFIG,
          cache_dir: str | None = None):
    """(agent states [seeds], metrics {name: [seeds, updates]}) of one variant; seeds 1..N,
    one after another through one compiled program: vmapping the seeds turns the CNNs into
    grouped convolutions, which XLA:CPU ran 2.3x slower than the seeds in turn (measured on
    4x4, 5 updates). With `cache_dir`, each finished seed is saved there and read back on a
    rerun, so a run stopped after k seeds resumes at seed k + 1."""
    run_config = variant_config(variant, size, total_steps, config)
    trainer = make_trainer(make_env(variant, size), ppo.AGENT, run_config)
    train_fn = fused_train(trainer)
    run_seed = jax.jit(lambda key: _state_and_metrics(train_fn(key)))
    fields = config_fields(run_config)  # recorded in each saved seed, checked when one is read
    template = None  # the shapes of one seed's result, traced once when a saved seed is read
    runs = []
    for s in range(1, seeds + 1):
        key = jax.random.PRNGKey(s)
        path = seed_file(cache_dir, variant, size, s, run_config) if cache_dir else None
        if path and os.path.exists(path):
            if template is None:
                template = jax.eval_shape(run_seed, key)
            runs.append(load_seed(path, template, fields))
            continue
        runs.append(jax.device_get(run_seed(key)))
        if path:
            os.makedirs(cache_dir, exist_ok=True)
            save_seed(path, runs[-1], fields)
    stack = lambda *xs: np.stack(xs)
    states = jax.tree_util.tree_map(stack, *[state for state, _ in runs])
    metrics = jax.tree_util.tree_map(stack, *[m for _, m in runs])
    return states, metrics


def _state_and_metrics(result):
    carry, metrics = result
    return carry.agent_state, metrics


def unmasked_rollouts(agent_state, size: int, episodes: int, key) -> tuple[np.ndarray, np.ndarray]:
    """Sampled episodes of each seed's policy on the env with mask=None:
    (returns [seeds, episodes], invalid source units per step [seeds])."""
    env = envs.make(env_name(size))
    steps = env.spec.max_episode_steps

    def episode(state, key):
        k_reset, key = jax.random.split(key)
        env_state, ts = env.reset(k_reset)

        def step(carry, k):
            env_state, ts, ret, invalid, count, done = carry
            k_act, k_env = jax.random.split(k)
            action = ppo.act(state, ts.obs, None, k_act, False)
            env_state, ts = env.step(k_env, env_state, action)
            live = ~done
            return (env_state, ts, ret + jnp.where(live, ts.reward, 0.0),
                    invalid + (live & ts.info[INVALID_ACTION]), count + live, done | ts.done), None

        init = (env_state, ts, jnp.float32(0), jnp.int32(0), jnp.int32(0), jnp.bool_(False))
        (_, _, ret, invalid, count, _), _ = jax.lax.scan(step, init, jax.random.split(key, steps))
        return ret, invalid, count

    def per_seed(state, key):
        ret, invalid, count = jax.vmap(lambda k: episode(state, k))(jax.random.split(key, episodes))
        return ret, invalid.sum() / jnp.maximum(count.sum(), 1)

    seeds = jax.tree_util.tree_leaves(agent_state)[0].shape[0]
    ret, rate = jax.jit(jax.vmap(per_seed))(agent_state, jax.random.split(key, seeds))
    return np.asarray(ret), np.asarray(rate)


def time_to_solve(steps: np.ndarray, returns: np.ndarray, total_steps: int) -> float:
    """Share of the budget before an update's mean episode return first reaches 40 (1.0: never)."""
    solved = np.nonzero(returns >= SOLVED_RETURN)[0]
    return float(steps[solved[0]] / total_steps) if solved.size else 1.0


def summarise_training(metrics: dict, total_steps: int) -> dict:
    returns = np.asarray(metrics["episode_return"])  # [seeds, updates]
    steps = np.asarray(metrics["env_steps"])[0]
    final = returns[:, -1]
    invalid = np.asarray(metrics["invalid_actions"])[:, -1] / float(steps[-1])
    solve = [time_to_solve(steps, r, total_steps) for r in returns]
    kl = np.asarray(metrics[LEARN_PREFIX + "approx_kl_k1"])  # [seeds, updates]; the authors' estimator
    kl_k3 = np.asarray(metrics[LEARN_PREFIX + "approx_kl"])
    every = max(1, returns.shape[1] // 60)
    return {
        "return_mean": float(final.mean()), "return_std": float(final.std()), "return_per_seed": final.tolist(),
        "time_to_solve_mean": float(np.mean(solve)), "time_to_solve_per_seed": solve,
        "invalid_rate": float(invalid.mean()),
        "curve_steps": steps[::every].tolist(), "curve_return": returns.mean(axis=0)[::every].tolist(),
        "kl_mean": float(kl.mean()), "kl_per_seed": kl.mean(axis=1).tolist(), "curve_kl": kl.mean(axis=0)[::every].tolist(),
        "kl_k3_mean": float(kl_k3.mean()), "kl_k3_per_seed": kl_k3.mean(axis=1).tolist(),
        "env_steps": int(steps[-1]),
    }


def run_study(sizes, total_steps: int, seeds: int, out: str, eval_episodes: int = 16,
              config: ppo.PPOConfig = CONFIG, log=print, variants=VARIANTS) -> dict:
    """Trains the `variants` on every map size (and samples the masking policy unmasked when
    `masking_removed` is asked for) and writes the three result files."""
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; choose from {VARIANTS}")
    if EVAL_ONLY in variants and "masking" not in variants:
        raise ValueError(f"{EVAL_ONLY!r} samples the 'masking' policy: ask for 'masking' too")
    variants = tuple(v for v in VARIANTS if v in variants)
    results: dict = {}
    for size in sizes:
        results[str(size)] = {}
        for variant in (v for v in variants if v in TRAINED):
            start = time.perf_counter()
            state, metrics = train(variant, size, total_steps, seeds, config, cache_dir=os.path.join(out, "seeds"))
            row = summarise_training(metrics, total_steps)
            row["wall_s"] = time.perf_counter() - start
            results[str(size)][variant] = row
            log(f"microrts {size}x{size} {variant:14s} return {row['return_mean']:6.2f} +- {row['return_std']:5.2f} "
                f"solve {row['time_to_solve_mean']:.0%} invalid {row['invalid_rate']:.3f} ({row['wall_s']:.0f}s)")
            if variant == "masking" and EVAL_ONLY in variants:
                ret, rate = unmasked_rollouts(state, size, eval_episodes, jax.random.PRNGKey(1000 + size))
                per_seed = ret.mean(axis=1)
                results[str(size)][EVAL_ONLY] = {
                    "return_mean": float(per_seed.mean()), "return_std": float(per_seed.std()),
                    "return_per_seed": per_seed.tolist(), "invalid_rate": float(rate.mean()),
                    "env_steps": int(total_steps)}
    study = {"env": "microrts_mining", "sizes": list(sizes), "env_steps": total_steps, "seeds": seeds,
             "variants": list(variants), "results": results, **ppo_settings(config),
             **paper_entries(sizes), "paper_source": PAPER_SOURCE,
             "machine": f"{jax.devices()[0].device_kind}, {os.cpu_count()} CPU cores"}
    write_outputs(study, out)
    return study


def ppo_settings(config: ppo.PPOConfig) -> dict:
    """The study's PPO choices where the authors' scripts and our PPO's defaults differ."""
    return {"ratio": "per_component" if config.ratio_per_component else "joint",
            "entropy_term": f"{config.entropy_term} {config.ent_coef:g}" if config.ent_coef else "none",
            "optimizers": "per_network" if config.separate_optimizers else "joint"}


# What studies written before each option ran with (the key was absent then).
EARLIER_SETTINGS = {"ratio": "joint", "entropy_term": "none", "optimizers": "joint"}


def study_settings(study: dict) -> dict:
    return {key: study.get(key, earlier) for key, earlier in EARLIER_SETTINGS.items()}


def paper_entries(sizes) -> dict:
    """The study's "paper" (return / solve) and "paper_kl" entries for these map sizes."""
    keys = [str(s) for s in sizes]
    return {"paper": {s: PAPER[s] for s in keys if s in PAPER}, "paper_kl": {s: PAPER_KL[s] for s in keys if s in PAPER_KL}}


def merge_studies(studies: list[dict]) -> dict:
    """One study from parts run separately (e.g. one variant per process) at the same budget."""
    budgets = {(st["env_steps"], st["seeds"], tuple(study_settings(st).values())) for st in studies}
    if len(budgets) != 1:
        raise ValueError(f"can only merge studies of one budget and PPO settings, got (env_steps, seeds, (ratio, "
                         f"entropy term, optimizers)) = {sorted(budgets)}")
    results: dict = {}
    for st in studies:
        for size, rows in st["results"].items():
            results.setdefault(size, {}).update(rows)
    sizes = sorted(int(s) for s in results)
    variants = [v for v in VARIANTS if any(v in rows for rows in results.values())]
    return {**studies[0], "sizes": sizes, "variants": variants, "results": results,
            **paper_entries(sizes)}


def _paper_cell(study: dict, size: str, variant: str) -> str:
    paper = study["paper"].get(size, {}).get(variant)
    if paper is None:
        return "—"
    mean, std, solve = paper
    spread = "" if std is None else f" ± {std:g}"
    return f"{mean:g}{spread} / {solve:.0%}" if variant != EVAL_ONLY else f"{mean:g}{spread}"


def _kl_cell(kl: dict, variant: str) -> str:
    """A variant's mean KL and its ratio to masking's."""
    if variant not in kl:
        return "not recorded"
    ratio = f" (x{kl[variant] / kl['masking']:.1f})" if kl.get("masking") else ""
    return f"{kl[variant]:.4f}{ratio}"


def kl_markdown(study: dict) -> str:
    """The KL table (the paper's KL plots as numbers), for the trained variants."""
    sizes = [str(s) for s in study["sizes"]]
    paper_kl = study.get("paper_kl", {})
    head = "| variant | " + " | ".join(f"{s}x{s} ours: KL (x masking) | {s}x{s} paper: KL (x masking)"
                                      for s in sizes) + " |"
    rows = [head, "|---|" + "---|---|" * len(sizes)]
    ours = {s: {name: r["kl_mean"] for name, r in study["results"][s].items() if "kl_mean" in r} for s in sizes}
    for v in (v for v in study["variants"] if v in TRAINED):
        cells = []
        for s in sizes:
            cells += [_kl_cell(ours[s], v), _kl_cell(paper_kl.get(s, {}), v)]
        rows.append(f"| {v} | " + " | ".join(cells) + " |")
    estimator = "per component" if study_settings(study)["ratio"] == "per_component" else "of the joint action"
    return ("KL: the mean over training of each update's approximate KL between the rollout policy and the "
            f"updated one (ours: mean(old - new log-prob) {estimator} over every minibatch; the paper's: "
            "mean(old - new log-prob) per component on the last minibatch), averaged over seeds.\n\n"
            + "\n".join(rows) + "\n")


def markdown(study: dict) -> str:
    sizes = [str(s) for s in study["sizes"]]
    head = "| variant | " + " | ".join(f"{s}x{s} ours: return / solve / invalid | {s}x{s} paper: return / solve"
                                      for s in sizes) + " |"
    rule = "|---|" + "---|---|" * len(sizes)
    rows = []
    for v in study["variants"]:
        cells = []
        for s in sizes:
            r = study["results"][s].get(v)
            if r is None:
                cells += ["not run", _paper_cell(study, s, v)]
                continue
            solve = f" / {r['time_to_solve_mean']:.0%}" if "time_to_solve_mean" in r else ""
            cells += [f"{r['return_mean']:.2f} ± {r['return_std']:.2f}{solve} / {r['invalid_rate']:.3f}",
                      _paper_cell(study, s, v)]
        rows.append(f"| {v} | " + " | ".join(cells) + " |")
    settings = study_settings(study)
    return (f"Env steps per run: {study['env_steps']:,}; seeds: {study['seeds']}; PPO ratio: {settings['ratio']}; "
            f"entropy term: {settings['entropy_term']}; optimizers: {settings['optimizers']}; "
            f"machine: {study['machine']}.\n"
            f"Return: the last update's mean episode return (about 10 episodes), mean ± std over seeds; solve: share "
            f"of the budget before an update's mean return reached {SOLVED_RETURN:g} (100%: never); invalid: invalid "
            f"source units per env step. Paper: {study['paper_source']}.\n\n" + "\n".join([head, rule] + rows) + "\n\n"
            + kl_markdown(study))


def plot(study: dict, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sizes = study["sizes"]
    fig = Figure(figsize=(4.5 * len(sizes), 6.5))
    FigureCanvasAgg(fig)
    grid = fig.subplots(2, len(sizes), squeeze=False)
    axes, kl_axes = grid[0], grid[1]
    for ax, s in zip(kl_axes, sizes):
        res = study["results"][str(s)]
        with_kl = [v for v in study["variants"] if v in TRAINED and "curve_kl" in res.get(v, {})]
        for v in with_kl:
            ax.plot(res[v]["curve_steps"], res[v]["curve_kl"], label=v)
        if with_kl and min(min(res[v]["curve_kl"]) for v in with_kl) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("env steps")
        ax.set_ylabel("approx. KL per update")
    for ax, s in zip(axes, sizes):
        res = study["results"][str(s)]
        for v in (v for v in study["variants"] if v in TRAINED and v in res):
            ax.plot(res[v]["curve_steps"], res[v]["curve_return"], label=v)
        if EVAL_ONLY in res:
            ax.axhline(res[EVAL_ONLY]["return_mean"], color="gray", linestyle="--", label=EVAL_ONLY)
        ax.axhline(SOLVED_RETURN, color="black", linewidth=0.5)
        ax.set_title(f"MicrortsMining {s}x{s} (mean over {study['seeds']} seeds)")
        ax.set_xlabel("env steps")
        ax.set_ylabel("episode return")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_outputs(study: dict, out: str) -> None:
    """DIR/masking_study.json, .md (printed) and .png."""
    write_study(out, "masking_study", study, markdown(study))
    plot(study, os.path.join(out, "masking_study.png"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"4x4, {QUICK_STEPS} steps, 2 seeds (a smoke run)")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=None, help=f"env steps per run (default {PAPER_STEPS:,})")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--out", default="runs/masking_study")
    parser.add_argument("--merge", nargs="+", metavar="DIR", help="write one study from these studies' JSON files")
    parser.add_argument("--joint-ratio", action="store_true",
                        help="PPO's ratio of the joint action (default: one per action component, as the authors' scripts)")
    parser.add_argument("--no-entropy-term", action="store_true",
                        help="no entropy term (default: the authors' +0.01 x mean(-p log p) of the taken actions)")
    parser.add_argument("--joint-optimizer", action="store_true",
                        help="one Adam and one clip over both networks, vf_coef 0.5 (default: one per network, as theirs)")
    args = parser.parse_args(argv)
    if args.merge:
        parts = []
        for part in args.merge:
            with open(os.path.join(part, "masking_study.json")) as f:
                parts.append(json.load(f))
        write_outputs(merge_studies(parts), args.out)
        return 0
    sizes = tuple(args.sizes or (QUICK_SIZES if args.quick else (4, 10)))
    for s in sizes:
        if s not in CONV:
            raise SystemExit(f"--sizes: MicrortsMining maps are {sorted(CONV)}, got {s}")
    steps = args.steps or (QUICK_STEPS if args.quick else PAPER_STEPS)
    seeds = args.seeds or (2 if args.quick else PAPER_SEEDS)
    config = dataclasses.replace(CONFIG, ratio_per_component=not args.joint_ratio)
    if args.no_entropy_term:
        config = dataclasses.replace(config, ent_coef=0.0, entropy_term="exact")
    if args.joint_optimizer:
        config = dataclasses.replace(config, separate_optimizers=False, vf_coef=0.5)
    run_study(sizes, steps, seeds, args.out, config=config, variants=tuple(args.variants))
    print(f"wrote {args.out}/masking_study.{{json,md,png}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
