"""Benchmark: our DQN against rejax's DQN on CartPole, same hyper-parameters, one process.

    pip install -e .[bench]          # rejax==0.1.3, gymnax==0.0.9 (best in its own environment)
    python experiments/bench_dqn.py --out runs/bench_dqn.json [--total-steps 1e5] [--seeds 64]

Settings: rejax's own CartPole DQN configuration (rejax repo, configs/gymnax/cartpole.yaml,
`dqn`): double DQN with a dueling head, swish (64, 64) MLP, 10 envs, 5 gradient steps of
batch 100 per iteration (one step of every env), replay 50k, 5k uniform warm-up steps,
Adam lr 1e-3, gamma 0.99, Polyak target 0.98 once per iteration, epsilon 1 -> 0.05 over
half the run, gradients clipped at 10, squared-error loss; 100k env steps.

Timing as in bench_cartpole (see `_bench_common.py`): ahead-of-time compiled programs,
interleaved calls, the median reported; `--seeds N` vmaps both sides over N seeds.
`final_return` (mean over seeds): rejax's own evaluation at the end of training (128
episodes, epsilon 0.005; inside its compiled program, so in its wall_s); ours
`training.evaluate` after training (128 episodes, greedy; not timed).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _bench_common beside this file

import _bench_common as bench  # noqa: E402
import numpy as np  # noqa: E402

EVAL_EPISODES = 128

# rejax configs/gymnax/cartpole.yaml, `dqn` (both sides).
HPARAMS = dict(
    total_steps=100_000, num_envs=10, buffer_size=50_000, warmup_steps=5_000, batch_size=100,
    gradient_steps=5, hidden_sizes=(64, 64), activation="swish", dueling=True, double=True, lr=1e-3,
    gamma=0.99, polyak=0.98, eps_start=1.0, eps_end=0.05, exploration_fraction=0.5, max_grad_norm=10.0,
)

DIFFERENCES = [
    "gradient clipping: ours optax.clip_by_global_norm(10); rejax optax.clip(10) (element-wise)",
    "replay sampling: ours uniform with replacement (flashbax); rejax without replacement (jax.random.choice over the whole buffer)",
    "initialisation: ours orthogonal (sqrt 2 hidden, 1.0 heads); rejax flax defaults (lecun normal)",
    "warm-up: ours 500 iterations of uniform actions; rejax 501 (it learns once global_step > fill_buffer)",
    "truncation: ours bootstraps at the 500-step time limit; rejax (gymnax) treats it as termination",
    "evaluation: ours greedy; rejax epsilon 0.005; rejax's is inside its timed program, ours outside",
]


def our_config(hp: dict):
    from jaxrl_actions.agents import dqn

    return dqn.DQNConfig(
        total_steps=hp["total_steps"], num_envs=hp["num_envs"], buffer_size=hp["buffer_size"],
        warmup_steps=hp["warmup_steps"], batch_size=hp["batch_size"], utd=hp["gradient_steps"],
        hidden_sizes=tuple(hp["hidden_sizes"]), activation="silu",  # silu == swish
        dueling=hp["dueling"], double=hp["double"], lr=hp["lr"], gamma=hp["gamma"],
        # rejax moves the target once per iteration, after its gradient steps
        tau=1.0 - hp["polyak"], target_period=hp["gradient_steps"],
        eps_start=hp["eps_start"], eps_end=hp["eps_end"],
        eps_decay_steps=float(hp["exploration_fraction"] * hp["total_steps"]),
        max_grad_norm=hp["max_grad_norm"], loss="mse",  # mse is 0.5 * error^2, as optax.l2_loss
    )


def ours(hp: dict, seed: int, seeds: int) -> bench.Side:
    import jax

    import envs
    from jaxrl_actions.agents import dqn
    from jaxrl_actions.training import make_train
    from jaxrl_actions.training.evaluate import agent_state_of

    env = envs.make("cartpole")
    config = our_config(hp)
    compile_s, run = bench.compile_call(make_train(env, dqn.AGENT, config), bench.seed_keys(seed, seeds), seeds > 0)

    def summary(out) -> dict:
        carry, _ = out
        state = agent_state_of(carry)
        eval_key = jax.random.PRNGKey(seed + 1)
        greedy = bench.evaluate_batched(env, dqn.AGENT, state, eval_key, EVAL_EPISODES, True, seeds > 0)
        return {
            **bench.return_fields(greedy),
            "final_return_source": f"training.evaluate: {EVAL_EPISODES} episodes, greedy, after training",
            "last_training_episode_return": float(np.mean(carry.episodes.last_return)),
            "env_steps": config.total_steps // config.num_envs * config.num_envs,
        }

    return bench.Side(compile_s, run, summary)


def rejax(hp: dict, seed: int, seeds: int) -> bench.Side:
    try:
        from rejax import DQN
    except ImportError as err:
        raise SystemExit(f"rejax is not installed ({err}); {bench.PEER_INSTALL}")

    algo = DQN.create(
        env="CartPole-v1", agent="DuelingQNetwork" if hp["dueling"] else "QNetwork",
        agent_kwargs={"activation": hp["activation"]},  # rejax's DQN fixes hidden sizes at (64, 64)
        total_timesteps=hp["total_steps"], num_envs=hp["num_envs"], buffer_size=hp["buffer_size"],
        fill_buffer=hp["warmup_steps"], batch_size=hp["batch_size"], num_epochs=hp["gradient_steps"],
        learning_rate=hp["lr"], gamma=hp["gamma"], polyak=hp["polyak"], target_update_freq=1,
        eps_start=hp["eps_start"], eps_end=hp["eps_end"], exploration_fraction=hp["exploration_fraction"],
        max_grad_norm=hp["max_grad_norm"], ddqn=hp["double"],
        eval_freq=hp["total_steps"], skip_initial_evaluation=True,  # one evaluation, at the end
    )
    assert tuple(algo.agent.hidden_layer_sizes) == tuple(hp["hidden_sizes"])
    compile_s, run = bench.compile_call(algo.train, bench.seed_keys(seed, seeds), seeds > 0)

    def summary(out) -> dict:
        _, (_, returns) = out  # float32[(seeds,) evaluations, 128]
        return {
            **bench.return_fields(np.mean(np.asarray(returns)[..., -1, :], axis=-1)),
            "final_return_source": f"rejax's own evaluation: {EVAL_EPISODES} episodes, epsilon 0.005, end of training",
            "env_steps": int(algo.total_timesteps),
        }

    return bench.Side(compile_s, run, summary)


def main(argv=None) -> int:
    parser = bench.base_parser(__doc__.split("\n\n")[0], "runs/bench_dqn.json", HPARAMS["total_steps"])
    args = parser.parse_args(argv)
    bench.check_args(parser, args)
    num_envs = HPARAMS["num_envs"]
    if int(args.total_steps) <= HPARAMS["warmup_steps"] + num_envs:
        parser.error(f"--total-steps {int(args.total_steps)} ends before learning starts ({HPARAMS['warmup_steps']} warm-up steps)")
    hp = dict(HPARAMS, total_steps=int(args.total_steps) // num_envs * num_envs)  # whole iterations on both sides

    sides = {"ours": ours(hp, args.seed, args.seeds), "rejax": rejax(hp, args.seed, args.seeds)}
    result = bench.report("dqn_cartpole_vs_rejax", sides, args, hp, DIFFERENCES, peer="rejax")
    bench.write(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
