"""Invalid-action masking study (after Huang & Ontanon 2022, "A Closer Look at Invalid
Action Masking in Policy Gradient Algorithms"): PPO on `mining` at growing map sizes, where
the share of invalid actions grows with the map.

Variants (same PPO settings, env steps and seeds):
  masked             the policy sees the mask when sampling and in the gradient (default PPO)
  sample_mask_only   the mask is applied when sampling only (`mask_in_gradient=False`:
                     log-probs and entropy of the unmasked logits; "naive masking")
  invalid_penalty    the mask is hidden; an invalid action is a no-op costing `penalty`
  no_handling        the mask is hidden; an invalid action is a no-op, no penalty
  masked_eval_unmasked  the `masked` policy evaluated with mask=None (sampled episodes)

Reported per variant and map size: the env's own return (EpisodeStats sits below the
penalty transform) over the last 10% of training (mean over seeds, +- std), and the
invalid-action rate (invalid actions / env steps; for the evaluation variant over its
evaluation episodes). Writes DIR/masking_study.json, .md (table) and .png (curves).

    python experiments/masking_study.py --quick --out runs/masking_study   # CPU, minutes
    python experiments/masking_study.py --seeds 4 --out runs/masking_study  # 4..24 maps

`--quick` trains on 4x4 and 10x10 for 100k steps with 2 seeds and a (64, 64) network; the full study on 4x4,
10x10, 16x16 and 24x24 for the steps in FULL_STEPS (hours on CPU: use a GPU).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import envs
from jaxrl_actions.actions import invalid_penalty, transform_actions
from jaxrl_actions.agents import ppo
from jaxrl_actions.training.common import fused_train
from jaxrl_actions.training.on_policy import make_trainer
from jaxrl_actions.types import INVALID_ACTION
from jaxrl_actions.wrappers import EpisodeStats

TRAINED = ("masked", "sample_mask_only", "invalid_penalty", "no_handling")
EVAL_ONLY = "masked_eval_unmasked"
VARIANTS = TRAINED + (EVAL_ONLY,)
FULL_STEPS = {4: 500_000, 10: 1_000_000, 16: 2_000_000, 24: 4_000_000}
QUICK_SIZES, QUICK_STEPS = (4, 10), 100_000
PENALTY = -0.1

CONFIG = ppo.PPOConfig(
    total_steps=1_000_000, num_envs=16, rollout_len=64, update_epochs=4, num_minibatches=4,
    hidden_sizes=(128, 128), activation="relu", lr=5e-4, gamma=0.99, gae_lambda=0.95, ent_coef=0.01,
)
QUICK_CONFIG = dataclasses.replace(CONFIG, hidden_sizes=(64, 64))


def make_env(variant: str, size: int):
    """The training env of a variant: the bare env (masks visible) or the env under
    `invalid_penalty` (masks hidden) with EpisodeStats below it (the env's own return)."""
    if variant in ("masked", "sample_mask_only"):
        return envs.make("mining", size=size)
    penalty = PENALTY if variant == "invalid_penalty" else 0.0
    return transform_actions(EpisodeStats(envs.make("mining", size=size)), invalid_penalty(penalty))


def variant_config(variant: str, total_steps: int, config: ppo.PPOConfig = CONFIG) -> ppo.PPOConfig:
    return dataclasses.replace(config, total_steps=total_steps, mask_in_gradient=variant != "sample_mask_only")


def train(variant: str, size: int, total_steps: int, seeds: int, config: ppo.PPOConfig = CONFIG):
    """(agent states [seeds], metrics {name: [seeds, updates]}) of one variant."""
    cfg = variant_config(variant, total_steps, config)
    trainer = make_trainer(make_env(variant, size), ppo.AGENT, cfg)
    keys = jax.random.split(jax.random.PRNGKey(size), seeds)
    carry, metrics = jax.jit(jax.vmap(fused_train(trainer)))(keys)
    return carry.agent_state, jax.device_get(metrics)


def unmasked_rollouts(agent_state, size: int, episodes: int, key) -> tuple[np.ndarray, np.ndarray]:
    """Sampled episodes of each seed's policy on the bare env with mask=None:
    (returns [seeds, episodes], invalid actions per step [seeds])."""
    env = envs.make("mining", size=size)
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


def summarise_training(metrics: dict, total_steps: int) -> dict:
    returns = np.asarray(metrics["episode_return"])  # [seeds, updates]
    tail = max(1, returns.shape[1] // 10)
    final = returns[:, -tail:].mean(axis=1)
    invalid = np.asarray(metrics["invalid_actions"])[:, -1] / float(np.asarray(metrics["env_steps"])[0, -1])
    every = max(1, returns.shape[1] // 50)
    return {
        "return_mean": float(final.mean()), "return_std": float(final.std()),
        "return_per_seed": final.tolist(), "invalid_rate": float(invalid.mean()),
        "curve_steps": np.asarray(metrics["env_steps"])[0, ::every].tolist(),
        "curve_return": returns.mean(axis=0)[::every].tolist(), "env_steps": int(total_steps),
    }


def run_study(sizes, steps: dict, seeds: int, out: str, eval_episodes: int = 16, config: ppo.PPOConfig = CONFIG,
              log=print, variants=VARIANTS) -> dict:
    """Trains the trained `variants` on every map size (and evaluates the masked policy
    unmasked when `masked_eval_unmasked` is asked for) and writes the three result files."""
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variants {sorted(unknown)}; choose from {VARIANTS}")
    if EVAL_ONLY in variants and "masked" not in variants:
        raise ValueError(f"{EVAL_ONLY!r} evaluates the 'masked' policy: ask for 'masked' too")
    variants = tuple(v for v in VARIANTS if v in variants)
    results: dict = {}
    for size in sizes:
        results[str(size)] = {}
        for variant in (v for v in variants if v in TRAINED):
            start = time.perf_counter()
            state, metrics = train(variant, size, steps[size], seeds, config)
            row = summarise_training(metrics, steps[size])
            row["wall_s"] = time.perf_counter() - start
            results[str(size)][variant] = row
            log(f"mining {size}x{size} {variant:17s} return {row['return_mean']:7.2f} +- {row['return_std']:.2f}  "
                f"invalid {row['invalid_rate']:.3f}  ({row['wall_s']:.0f}s)")
            if variant == "masked" and EVAL_ONLY in variants:
                ret, rate = unmasked_rollouts(state, size, eval_episodes, jax.random.PRNGKey(1000 + size))
                per_seed = ret.mean(axis=1)
                results[str(size)][EVAL_ONLY] = {
                    "return_mean": float(per_seed.mean()), "return_std": float(per_seed.std()),
                    "return_per_seed": per_seed.tolist(), "invalid_rate": float(rate.mean()),
                    "env_steps": int(steps[size]),
                }
    study = {"sizes": list(sizes), "steps": {str(s): steps[s] for s in sizes}, "seeds": seeds, "penalty": PENALTY,
             "variants": list(variants), "results": results}
    write_outputs(study, out)
    return study


def markdown(study: dict) -> str:
    sizes = study["sizes"]
    head = "| variant | " + " | ".join(f"{s}x{s} return | {s}x{s} invalid" for s in sizes) + " |"
    rule = "|---|" + "---|---|" * len(sizes)
    rows = []
    for v in study["variants"]:
        cells = []
        for s in sizes:
            r = study["results"][str(s)][v]
            cells += [f"{r['return_mean']:.2f} ± {r['return_std']:.2f}", f"{r['invalid_rate']:.3f}"]
        rows.append(f"| {v} | " + " | ".join(cells) + " |")
    steps = ", ".join(f"{s}x{s}: {study['steps'][str(s)]:,}" for s in sizes)
    return (f"# Invalid-action masking study (PPO on mining)\n\nEnv steps per run: {steps}; seeds: {study['seeds']}; "
            f"penalty: {study['penalty']}.\nReturn: the env's own return over the last 10% of training (mean ± std "
            f"over seeds; `{EVAL_ONLY}`: sampled evaluation episodes). Invalid: invalid actions per env step.\n\n"
            + "\n".join([head, rule] + rows) + "\n")


def plot(study: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = study["sizes"]
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.5 * len(sizes), 3.5), squeeze=False)
    for ax, s in zip(axes[0], sizes):
        res = study["results"][str(s)]
        for v in (v for v in study["variants"] if v in TRAINED):
            ax.plot(res[v]["curve_steps"], res[v]["curve_return"], label=v)
        if EVAL_ONLY in res:
            ax.axhline(res[EVAL_ONLY]["return_mean"], color="gray", linestyle="--", label=EVAL_ONLY)
        ax.set_title(f"mining {s}x{s}")
        ax.set_xlabel("env steps")
        ax.set_ylabel("episode return")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_outputs(study: dict, out: str) -> None:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "masking_study.json"), "w") as f:
        json.dump(study, f, indent=2)
    with open(os.path.join(out, "masking_study.md"), "w") as f:
        f.write(markdown(study))
    plot(study, os.path.join(out, "masking_study.png"))


def masked_wins(study: dict) -> bool:
    """(a) masked beats (c) invalid_penalty and (d) no_handling on the largest map run."""
    res = study["results"][str(max(study["sizes"]))]
    if not {"masked", "invalid_penalty", "no_handling"} <= set(res):
        return False
    return res["masked"]["return_mean"] > max(res["invalid_penalty"]["return_mean"], res["no_handling"]["return_mean"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="4x4 and 10x10, 100k steps, 2 seeds (CPU minutes)")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=None, help="env steps per run (all sizes)")
    parser.add_argument("--out", default="runs/masking_study")
    args = parser.parse_args(argv)
    sizes = tuple(args.sizes or (QUICK_SIZES if args.quick else sorted(FULL_STEPS)))
    for s in sizes:
        if not 4 <= s <= 24:
            raise SystemExit(f"--sizes: mining maps are 4..24, got {s}")
    steps = {s: args.steps or (QUICK_STEPS if args.quick else FULL_STEPS.get(s, 1_000_000)) for s in sizes}
    seeds = args.seeds or (2 if args.quick else 4)
    study = run_study(sizes, steps, seeds, args.out, config=QUICK_CONFIG if args.quick else CONFIG)
    print(markdown(study))
    print(f"masked beats invalid_penalty and no_handling on {max(sizes)}x{max(sizes)}: {masked_wins(study)}")
    print(f"wrote {args.out}/masking_study.{{json,md,png}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
