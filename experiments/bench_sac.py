"""Benchmark: our SAC against rejax's SAC on Pendulum, same hyper-parameters, one process.

    pip install -e .[bench]          # rejax==0.1.3, gymnax==0.0.9 (best in its own environment)
    python experiments/bench_sac.py --out runs/bench_sac.json [--total-steps 1e4] [--seeds 64]

Settings: rejax's own Pendulum SAC configuration (rejax repo, configs/gymnax/pendulum.yaml,
`sac`): one env, one gradient step of batch 256 per env step, replay 10k, learning from
256 stored steps (policy actions before that, as rejax acts with its policy from the
start), Adam lr 0.01 for actor, critics and temperature, gamma 0.99, Polyak 0.98 per step
(tau 0.02), twin critics, swish (64, 64) MLPs, log-std within [-10, 2], alpha from 1,
target entropy -1, observations normalised; 10k env steps.

Timing as in bench_cartpole (see `_bench_common.py`). `final_return` (mean over seeds):
rejax's own evaluation at the end of training (128 episodes, sampled actions; inside its
compiled program, so in its wall_s); ours `training.evaluate` after training (128
episodes, sampled actions; not timed); our deterministic return beside it.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _bench_common beside this file

import _bench_common as bench  # noqa: E402
import numpy as np  # noqa: E402

EVAL_EPISODES = 128

# rejax configs/gymnax/pendulum.yaml, `sac` (both sides); hidden sizes: rejax's SAC default.
HPARAMS = dict(
    total_steps=10_000, num_envs=1, buffer_size=10_000, learning_starts=256, batch_size=256, gradient_steps=1,
    hidden_sizes=(64, 64), activation="swish", lr=0.01, gamma=0.99, polyak=0.98, log_std_range=(-10.0, 2.0),
    normalize_obs=True,
)

DIFFERENCES = [
    "update order: ours critic step, then actor and temperature; rejax actor, then critic, then temperature",
    "critic loss: ours sum over critics of mean squared error; rejax half of it (optax.l2_loss); Adam makes the scale nearly irrelevant",
    "log-std: ours squashed smoothly into [-10, 2] (tanh); rejax clipped to [-10, 2]",
    "observation statistics: ours from the replayed batches, updated in each gradient step; rejax from every collected observation",
    "initialisation: ours orthogonal (sqrt 2 hidden, 0.01 policy heads); rejax flax defaults (lecun normal)",
    "truncation: ours bootstraps at the 200-step time limit; rejax (gymnax) treats it as termination",
    "replay sampling: ours uniform with replacement (flashbax); rejax without replacement",
    "evaluation: rejax's is inside its timed program, ours outside",
]


def our_config(hp: dict):
    from jaxrl_actions.agents import sac

    low, high = hp["log_std_range"]
    return sac.SACConfig(
        total_steps=hp["total_steps"], num_envs=hp["num_envs"], buffer_size=hp["buffer_size"],
        warmup_steps=0,  # policy actions from the start; learning starts once a batch is stored
        batch_size=hp["batch_size"], utd=hp["gradient_steps"],
        actor_hidden=tuple(hp["hidden_sizes"]), critic_hidden=tuple(hp["hidden_sizes"]), activation="silu",
        actor_lr=hp["lr"], critic_lr=hp["lr"], alpha_lr=hp["lr"], gamma=hp["gamma"], tau=1.0 - hp["polyak"],
        init_alpha=1.0, target_entropy_per_dim=-1.0, log_std_min=low, log_std_max=high,
        normalize_obs=hp["normalize_obs"],
    )


def ours(hp: dict, seed: int, seeds: int) -> bench.Side:
    import jax

    import envs
    from jaxrl_actions.agents import sac
    from jaxrl_actions.training import make_train
    from jaxrl_actions.training.config import learning_starts
    from jaxrl_actions.training.evaluate import agent_state_of

    env = envs.make("pendulum")
    config = our_config(hp)
    assert learning_starts(config) * config.num_envs == hp["learning_starts"]
    compile_s, run = bench.compile_call(make_train(env, sac.AGENT, config), bench.seed_keys(seed, seeds), seeds > 0)

    def summary(out) -> dict:
        carry, _ = out
        state = agent_state_of(carry)
        eval_key = jax.random.PRNGKey(seed + 1)
        sampled = bench.evaluate_batched(env, sac.AGENT, state, eval_key, EVAL_EPISODES, False, seeds > 0)
        greedy = bench.evaluate_batched(env, sac.AGENT, state, eval_key, EVAL_EPISODES, True, seeds > 0)
        return {
            **bench.return_fields(sampled),
            "final_return_source": f"training.evaluate: {EVAL_EPISODES} episodes, sampled actions, after training",
            "final_return_deterministic": float(np.mean(greedy)),
            "last_training_episode_return": float(np.mean(carry.episodes.last_return)),
            "env_steps": config.total_steps // config.num_envs * config.num_envs,
        }

    return bench.Side(compile_s, run, summary)


def rejax(hp: dict, seed: int, seeds: int) -> bench.Side:
    try:
        from rejax import SAC
    except ImportError as err:
        raise SystemExit(f"rejax is not installed ({err}); {bench.PEER_INSTALL}")

    algo = SAC.create(
        env="Pendulum-v1", agent_kwargs={"activation": hp["activation"]}, hidden_layer_sizes=tuple(hp["hidden_sizes"]),
        total_timesteps=hp["total_steps"], num_envs=hp["num_envs"], buffer_size=hp["buffer_size"],
        fill_buffer=hp["learning_starts"], batch_size=hp["batch_size"], num_epochs=hp["gradient_steps"],
        learning_rate=hp["lr"], gamma=hp["gamma"], polyak=hp["polyak"], target_update_freq=1,
        normalize_observations=hp["normalize_obs"],
        eval_freq=hp["total_steps"], skip_initial_evaluation=True,  # one evaluation, at the end
    )
    assert tuple(algo.actor.log_std_range) == tuple(hp["log_std_range"])
    compile_s, run = bench.compile_call(algo.train, bench.seed_keys(seed, seeds), seeds > 0)

    def summary(out) -> dict:
        _, (_, returns) = out  # float32[(seeds,) evaluations, 128]
        return {
            **bench.return_fields(np.mean(np.asarray(returns)[..., -1, :], axis=-1)),
            "final_return_source": f"rejax's own evaluation: {EVAL_EPISODES} episodes, sampled actions, end of training",
            "env_steps": int(algo.total_timesteps),
        }

    return bench.Side(compile_s, run, summary)


def main(argv=None) -> int:
    parser = bench.base_parser(__doc__.split("\n\n")[0], "runs/bench_sac.json", HPARAMS["total_steps"])
    args = parser.parse_args(argv)
    bench.check_args(parser, args)
    if int(args.total_steps) <= HPARAMS["learning_starts"]:
        parser.error(f"--total-steps {int(args.total_steps)} ends before learning starts ({HPARAMS['learning_starts']} steps)")
    hp = dict(HPARAMS, total_steps=int(args.total_steps))

    sides = {"ours": ours(hp, args.seed, args.seeds), "rejax": rejax(hp, args.seed, args.seeds)}
    result = bench.report("sac_pendulum_vs_rejax", sides, args, hp, DIFFERENCES, peer="rejax")
    bench.write(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
