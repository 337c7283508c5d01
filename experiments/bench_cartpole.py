"""Benchmark: our PPO against rejax's PPO on CartPole, same hyper-parameters, one process,
one CPU.

    pip install -e .[bench]          # rejax==0.1.3, gymnax==0.0.9 (best in its own environment)
    python experiments/bench_cartpole.py --out runs/bench_cartpole.json [--total-steps 5e5]
    python experiments/bench_cartpole.py --seeds 64 --out runs/bench_cartpole_64.json

Each side is compiled ahead of time (timed as `compile_s`); the sides' timed calls
alternate, `--repeats` each, and the median is reported (`wall_s`; `best_s` the fastest;
see `_bench_common.py`). `--seeds N` vmaps both sides over the same N keys in one program
(rejax's own recipe: `jax.vmap(algo.train)(keys)`). Writes JSON:

    {"ours": {"wall_s", "best_s", "times_s", "compile_s", "final_return", ...},
     "rejax": {...}, "time_ratio" (= ours / rejax median wall_s), "hparams", "differences",
     "seeds", "load_avg_before", "load_avg_after", "device", ...}

`final_return` (mean over seeds; per seed with `--seeds`): for rejax, its own evaluation at
the end of training (mean over 128 episodes, actions sampled from the policy; part of its
compiled program, so included in its wall_s); for ours, `training.evaluate` after training
(the same protocol: 128 episodes, sampled actions; not timed). Our deterministic-policy
return and the mean return of the last finished training episodes are reported beside it.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _bench_common beside this file

import _bench_common as bench  # noqa: E402
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


def our_config(hp: dict):
    from jaxrl_actions.agents import ppo

    return ppo.PPOConfig(
        total_steps=hp["total_steps"], num_envs=hp["num_envs"], rollout_len=hp["rollout_len"],
        update_epochs=hp["update_epochs"], num_minibatches=hp["num_minibatches"],
        hidden_sizes=tuple(hp["hidden_sizes"]), activation=hp["activation"], anneal_lr=False,
        lr=hp["lr"], gamma=hp["gamma"], gae_lambda=hp["gae_lambda"], clip_eps=hp["clip_eps"],
        ent_coef=hp["ent_coef"], vf_coef=hp["vf_coef"], max_grad_norm=hp["max_grad_norm"],
    )


def ours(hp: dict, seed: int, seeds: int) -> bench.Side:
    import jax

    import envs
    from jaxrl_actions.agents import ppo
    from jaxrl_actions.training import make_train
    from jaxrl_actions.training.evaluate import agent_state_of

    env = envs.make("cartpole")
    config = our_config(hp)
    compile_s, run = bench.compile_call(make_train(env, ppo.AGENT, config), bench.seed_keys(seed, seeds), seeds > 0)

    def summary(out) -> dict:
        carry, _ = out
        state = agent_state_of(carry)
        eval_key = jax.random.PRNGKey(seed + 1)
        sampled = bench.evaluate_batched(env, ppo.AGENT, state, eval_key, EVAL_EPISODES, False, seeds > 0)
        greedy = bench.evaluate_batched(env, ppo.AGENT, state, eval_key, EVAL_EPISODES, True, seeds > 0)
        return {
            **bench.return_fields(sampled),
            "final_return_source": f"training.evaluate: {EVAL_EPISODES} episodes, sampled actions, after training",
            "final_return_deterministic": float(np.mean(greedy)),
            "last_training_episode_return": float(np.mean(carry.episodes.last_return)),
            "env_steps": config.num_updates * config.steps_per_update,
            "max_episode_steps": env.spec.max_episode_steps,
        }

    return bench.Side(compile_s, run, summary)


def rejax(hp: dict, seed: int, seeds: int) -> bench.Side:
    try:
        from rejax import PPO
    except ImportError as err:
        raise SystemExit(f"rejax is not installed ({err}); {bench.PEER_INSTALL}")

    algo = PPO.create(
        env="CartPole-v1", total_timesteps=hp["total_steps"], num_envs=hp["num_envs"],
        num_steps=hp["rollout_len"], num_epochs=hp["update_epochs"], num_minibatches=hp["num_minibatches"],
        learning_rate=hp["lr"], gamma=hp["gamma"], gae_lambda=hp["gae_lambda"], clip_eps=hp["clip_eps"],
        ent_coef=hp["ent_coef"], vf_coef=hp["vf_coef"], max_grad_norm=hp["max_grad_norm"],
        agent_kwargs={"activation": hp["activation"], "hidden_layer_sizes": tuple(hp["hidden_sizes"])},
        eval_freq=hp["total_steps"], skip_initial_evaluation=True,  # one evaluation, at the end
    )
    compile_s, run = bench.compile_call(algo.train, bench.seed_keys(seed, seeds), seeds > 0)

    def summary(out) -> dict:
        _, (_, returns) = out  # evaluation returns: float32[(seeds,) evaluations, 128]
        return {
            **bench.return_fields(np.mean(np.asarray(returns)[..., -1, :], axis=-1)),
            "final_return_source": f"rejax's own evaluation: {EVAL_EPISODES} episodes, sampled actions, end of training",
            "env_steps": int(algo.total_timesteps),  # a whole number of updates (main rounds it)
        }

    return bench.Side(compile_s, run, summary)


def main(argv=None) -> int:
    parser = bench.base_parser(__doc__.split("\n\n")[0], "runs/bench_cartpole.json", HPARAMS["total_steps"])
    args = parser.parse_args(argv)
    bench.check_args(parser, args)
    per_update = HPARAMS["num_envs"] * HPARAMS["rollout_len"]
    if int(args.total_steps) < per_update:
        parser.error(f"--total-steps {int(args.total_steps)} is less than one update ({per_update} env steps)")
    # Whole updates only: rejax rounds the update count up, ours down; equal when it divides.
    hp = dict(HPARAMS, total_steps=int(args.total_steps) // per_update * per_update)

    sides = {"ours": ours(hp, args.seed, args.seeds), "rejax": rejax(hp, args.seed, args.seeds)}
    result = bench.report("ppo_cartpole_vs_rejax", sides, args, hp, DIFFERENCES, peer="rejax")
    bench.write(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
