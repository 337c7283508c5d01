"""Benchmark: our PPO against rejax's PPO on CartPole, same hyper-parameters, one process,
one CPU.

    pip install -e .[bench]          # rejax==0.1.3, gymnax==0.0.9
    python experiments/bench_cartpole.py --out runs/bench_cartpole.json [--total-steps 5e5]

Each side is compiled ahead of time (`jax.jit(train).lower(key).compile()`, timed as
`compile_s`), then the compiled call is timed with `block_until_ready`, best of `--repeats`
(`wall_s`, compile excluded); the two sides' timed calls alternate, so a busy machine
slows both alike. Writes JSON:

    {"ours": {"wall_s", "compile_s", "final_return", "final_return_source", ...},
     "rejax": {...}, "time_ratio" (= ours / rejax wall_s), "hparams", "differences", "device", ...}

`final_return`: for rejax, its own evaluation at the end of training (mean over 128
episodes, actions sampled from the policy; part of its compiled program, so included in its
wall_s); for ours, `training.evaluate` after training (the same protocol: 128 episodes,
sampled actions; not timed). Our deterministic-policy return and the mean return of the last
finished training episodes are reported beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any, Callable, NamedTuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a script from anywhere

import jax  # noqa: E402
import numpy as np  # noqa: E402

EVAL_EPISODES = 128  # rejax's evaluation size; ours uses the same

# One set of hyper-parameters for both sides (PureJaxRL's CartPole settings, constant lr:
# rejax's PPO has no learning-rate annealing).
HPARAMS = dict(
    total_steps=500_000, num_envs=4, rollout_len=128, update_epochs=4, num_minibatches=4,
    hidden_sizes=(64, 64), activation="tanh", lr=2.5e-4, gamma=0.99, gae_lambda=0.95,
    clip_eps=0.2, ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5,
)

# What the two implementations still do differently with these settings.
DIFFERENCES = [
    "gradient clipping: ours optax.clip_by_global_norm(max_grad_norm); rejax optax.clip(max_grad_norm) (element-wise)",
    "optimiser: ours one Adam(eps=1e-5) over actor+critic; rejax one Adam(eps=1e-8) each, actor then critic step per minibatch",
    "initialisation: ours orthogonal (sqrt 2 hidden, 0.01 policy, 1.0 value); rejax flax defaults (lecun normal)",
    "truncation: ours bootstraps at the 500-step time limit; rejax (gymnax) treats it as termination",
    "rejax's wall_s includes its final 128-episode evaluation (inside its compiled train); ours evaluates outside the timing",
]


class Side(NamedTuple):
    """One implementation, compiled: `run()` is one timed training call; `summary(out)`
    turns its output into the JSON fields besides the timings."""

    compile_s: float
    run: Callable[[], Any]
    summary: Callable[[Any], dict]


def compile_train(train, key) -> tuple[float, Callable[[], Any]]:
    start = time.perf_counter()
    compiled = jax.jit(train).lower(key).compile()
    return time.perf_counter() - start, lambda: jax.block_until_ready(compiled(key))


def ours(hp: dict, seed: int) -> Side:
    import envs
    from jaxrl_actions.agents import ppo
    from jaxrl_actions.training import make_train
    from jaxrl_actions.training.evaluate import agent_state_of, evaluate

    env = envs.make("cartpole")
    config = ppo.PPOConfig(
        total_steps=hp["total_steps"], num_envs=hp["num_envs"], rollout_len=hp["rollout_len"],
        update_epochs=hp["update_epochs"], num_minibatches=hp["num_minibatches"],
        hidden_sizes=tuple(hp["hidden_sizes"]), activation=hp["activation"], anneal_lr=False,
        lr=hp["lr"], gamma=hp["gamma"], gae_lambda=hp["gae_lambda"], clip_eps=hp["clip_eps"],
        ent_coef=hp["ent_coef"], vf_coef=hp["vf_coef"], max_grad_norm=hp["max_grad_norm"],
    )
    compile_s, run = compile_train(make_train(env, ppo.AGENT, config), jax.random.PRNGKey(seed))

    def summary(out) -> dict:
        carry, _ = out
        state = agent_state_of(carry)
        eval_key = jax.random.PRNGKey(seed + 1)
        sampled = evaluate(env, ppo.AGENT, state, eval_key, EVAL_EPISODES, deterministic=False)
        greedy = evaluate(env, ppo.AGENT, state, eval_key, EVAL_EPISODES, deterministic=True)
        return {
            "final_return": float(np.mean(sampled)),
            "final_return_source": f"training.evaluate: {EVAL_EPISODES} episodes, sampled actions, after training",
            "final_return_deterministic": float(np.mean(greedy)),
            "last_training_episode_return": float(carry.last_return),
            "env_steps": config.num_updates * config.steps_per_update,
            "max_episode_steps": env.spec.max_episode_steps,
        }

    return Side(compile_s, run, summary)


def rejax(hp: dict, seed: int) -> Side:
    try:
        from rejax import PPO
    except ImportError as err:
        raise SystemExit(f"rejax is not installed ({err}); install the bench extra: pip install -e .[bench]")

    algo = PPO.create(
        env="CartPole-v1", total_timesteps=hp["total_steps"], num_envs=hp["num_envs"],
        num_steps=hp["rollout_len"], num_epochs=hp["update_epochs"], num_minibatches=hp["num_minibatches"],
        learning_rate=hp["lr"], gamma=hp["gamma"], gae_lambda=hp["gae_lambda"], clip_eps=hp["clip_eps"],
        ent_coef=hp["ent_coef"], vf_coef=hp["vf_coef"], max_grad_norm=hp["max_grad_norm"],
        agent_kwargs={"activation": hp["activation"], "hidden_layer_sizes": tuple(hp["hidden_sizes"])},
        eval_freq=hp["total_steps"], skip_initial_evaluation=True,  # one evaluation, at the end
    )
    compile_s, run = compile_train(algo.train, jax.random.PRNGKey(seed))

    def summary(out) -> dict:
        _, (_, returns) = out  # evaluation returns: float32[evaluations, 128]
        return {
            "final_return": float(np.mean(returns[-1])),
            "final_return_source": f"rejax's own evaluation: {EVAL_EPISODES} episodes, sampled actions, end of training",
            "env_steps": int(algo.total_timesteps),  # a whole number of updates (main rounds it)
        }

    return Side(compile_s, run, summary)


def best_times(sides: dict[str, Side], repeats: int) -> tuple[dict[str, float], dict[str, Any]]:
    """Best wall time per side; the sides' calls alternate so both see the same machine load."""
    best = {name: float("inf") for name in sides}
    last = {}
    for _ in range(repeats):
        for name, side in sides.items():
            start = time.perf_counter()
            last[name] = side.run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best, last


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/bench_cartpole.json")
    parser.add_argument("--total-steps", type=float, default=HPARAMS["total_steps"])
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per side; the best is kept")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    per_update = HPARAMS["num_envs"] * HPARAMS["rollout_len"]
    if int(args.total_steps) < per_update:
        parser.error(f"--total-steps {int(args.total_steps)} is less than one update ({per_update} env steps)")
    # Whole updates only: rejax rounds the update count up, ours down; equal when it divides.
    hp = dict(HPARAMS, total_steps=int(args.total_steps) // per_update * per_update)

    sides = {"ours": ours(hp, args.seed), "rejax": rejax(hp, args.seed)}
    wall, outputs = best_times(sides, args.repeats)
    report = {name: {"wall_s": wall[name], "compile_s": side.compile_s, **side.summary(outputs[name])}
              for name, side in sides.items()}
    result = {
        "benchmark": "ppo_cartpole_vs_rejax",
        **report,
        "time_ratio": wall["ours"] / wall["rejax"],
        "hparams": hp, "differences": DIFFERENCES, "seed": args.seed, "repeats": args.repeats,
        "device": str(jax.devices()[0]), "cpu_count": os.cpu_count(), "jax": jax.__version__,
        "python": platform.python_version(),
    }
    if os.path.dirname(args.out):
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps({k: result[k] for k in ("ours", "rejax", "time_ratio")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
