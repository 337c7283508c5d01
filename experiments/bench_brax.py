"""GPU benchmark: our PPO and SAC against Brax's own trainers on MJX physics, same
hyper-parameters and env counts, one process.

    python experiments/bench_brax.py --out runs/bench_brax.json              # a GPU
    python experiments/bench_brax.py --smoke --out /tmp/bench_smoke.json     # tiny, CPU, proves it runs
    python experiments/bench_brax.py --only ppo --ppo-steps 5e7

Pairs (Brax's published settings for each task):
  ppo  ant (MJX):    4096 envs, unroll 5, 32 minibatches of 2048 unrolls, 4 epochs, gamma 0.97,
                     lr 3e-4, entropy 1e-2, clip 0.3, reward scaling 10, observation
                     normalisation, 1000-step episodes; >= 20M env steps
  sac  hopper (MJX): 128 envs, 64 gradient steps per env step, batch 512, lr 6e-4, gamma 0.997,
                     reward scaling 30, observation normalisation, 8192 warm-up steps,
                     replay 2^20; 6.5M env steps

Measured per side: `compile_s` (ours: ahead-of-time compile of init and of one chunk; Brax:
its first progress interval minus a later one, since it compiles inside `train`),
`steps_per_s` (env steps per second after compilation, over the later chunks / progress
intervals), and `eval_return` at the same env-step count (both: 128 episodes with sampled
actions after training; Brax's from its own evaluator, ours from `training.evaluate`).

`--smoke` only proves the pipeline runs (minutes on a CPU); its timings and returns mean
nothing. Needs no GPU to import; tests never run it.

Brax 0.14.2's trainers call `jax.device_put_replicated`, which newer JAX removed; a shim
is installed for the Brax side only, inside `brax_peer()`, and removed afterwards.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from typing import Any, Iterator

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run as a script from anywhere

import jax  # noqa: E402
import numpy as np  # noqa: E402

EVAL_EPISODES = 128

PPO_HPARAMS = dict(
    env="ant", total_steps=20_000_000, num_envs=4096, unroll_length=5, batch_size=2048, num_minibatches=32,
    update_epochs=4, gamma=0.97, gae_lambda=0.95, lr=3e-4, ent_coef=1e-2, clip_eps=0.3, vf_coef=0.5,
    reward_scale=10.0, max_grad_norm=1.0, policy_hidden=(32,) * 4, value_hidden=(256,) * 5, activation="silu",
    episode_length=1000,
    chunks=5, eval_episodes=EVAL_EPISODES,
)
SAC_HPARAMS = dict(
    env="hopper", total_steps=6_553_600, num_envs=128, utd=64, batch_size=512, lr=6e-4, gamma=0.997, tau=0.005,
    reward_scale=30.0, warmup_steps=8192, buffer_size=1_048_576, hidden_sizes=(256, 256), episode_length=1000,
    target_entropy_per_dim=-0.5, chunks=5, eval_episodes=EVAL_EPISODES,
)
SMOKE = {
    "ppo": dict(total_steps=4 * 16 * 40, num_envs=16, batch_size=8, num_minibatches=4, update_epochs=1,
                policy_hidden=(16, 16), value_hidden=(16, 16), episode_length=50, chunks=3, eval_episodes=2),
    "sac": dict(total_steps=3 * 4 * 25 + 40, num_envs=4, utd=1, batch_size=16, warmup_steps=40, buffer_size=1000,
                hidden_sizes=(16, 16), episode_length=50, chunks=3, eval_episodes=2),
}

DIFFERENCES = {
    "ppo": [
        "our rollout per update is 80 steps x 4096 envs (= Brax's 2048 x 32 unrolls of 5 steps), cut into 5-step "
        "unrolls for GAE (unroll_len=5), so both take 128 gradient steps per 327,680 env steps",
        "Brax recomputes values and GAE inside every minibatch loss with the current parameters and shuffles "
        "whole 5-step unrolls; ours computes GAE once per update and shuffles single steps",
        "observation statistics: Brax updates them before the gradient steps on a batch, ours after",
        "Brax's progress intervals include its evaluation; our chunks do not (we evaluate after training)",
    ],
    "sac": [
        "warm-up: ours takes uniform random actions; Brax prefills with its initial policy",
        "observation normalisation: ours from replayed batches; Brax from collected transitions",
        "Brax's progress intervals include its evaluation; our chunks do not",
    ],
}


# ---------------------------------------------------------------------------------------
# Brax's trainers (the peer)


@contextlib.contextmanager
def brax_peer() -> Iterator[None]:
    """Imports quietly and provides `jax.device_put_replicated` (removed from newer JAX)
    while Brax's training code runs: the value stacked once per device along a new
    leading axis, placed with a sharding over those devices."""
    from jaxrl_actions.adapters.brax import quiet_brax_import

    missing = not hasattr(jax, "device_put_replicated")
    if missing:
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        def device_put_replicated(x, devices):
            devices = list(devices)
            sharding = NamedSharding(Mesh(np.array(devices), ("replica",)), PartitionSpec("replica"))
            stack = lambda leaf: np.broadcast_to(np.asarray(leaf)[None], (len(devices),) + np.shape(leaf))
            return jax.tree_util.tree_map(lambda leaf: jax.device_put(stack(leaf), sharding), x)

        jax.device_put_replicated = device_put_replicated
    try:
        with quiet_brax_import():
            import brax.training.agents.ppo.train  # noqa: F401
            import brax.training.agents.sac.train  # noqa: F401
        yield
    finally:
        if missing:
            del jax.device_put_replicated


def brax_env(name: str):
    from jaxrl_actions.adapters.brax import quiet_brax_import

    with quiet_brax_import():
        import brax.envs

        return brax.envs.get_environment(name, backend="mjx")


def progress_timing(times: list[float], steps: list[int]) -> dict:
    """compile_s and steps_per_s from Brax's progress callbacks (times[0] at step 0)."""
    intervals = np.diff(times)
    later = intervals[1:] if len(intervals) > 1 else intervals
    later_steps = (steps[-1] - steps[1]) if len(steps) > 2 else steps[-1]
    return {
        "compile_s": float(max(intervals[0] - np.mean(later), 0.0)) if len(intervals) > 1 else None,
        "steps_per_s": float(later_steps / max(np.sum(later), 1e-9)),
    }


def run_brax(kind: str, hp: dict, seed: int) -> dict:
    with brax_peer():
        from brax.training.agents.ppo import networks as ppo_networks
        from brax.training.agents.ppo import train as ppo_train
        from brax.training.agents.sac import networks as sac_networks
        from brax.training.agents.sac import train as sac_train

        times, steps, rewards = [], [], []

        def progress(step, metrics):
            times.append(time.perf_counter())
            steps.append(int(step))
            if "eval/episode_reward" in metrics:
                rewards.append(float(metrics["eval/episode_reward"]))

        env = brax_env(hp["env"])
        start = time.perf_counter()
        if kind == "ppo":
            make_networks = lambda *a, **k: ppo_networks.make_ppo_networks(
                *a, policy_hidden_layer_sizes=hp["policy_hidden"], value_hidden_layer_sizes=hp["value_hidden"], **k)
            ppo_train.train(
                environment=env, num_timesteps=hp["total_steps"], num_evals=hp["chunks"] + 1,
                reward_scaling=hp["reward_scale"], episode_length=hp["episode_length"], normalize_observations=True,
                action_repeat=1, unroll_length=hp["unroll_length"], num_minibatches=hp["num_minibatches"],
                num_updates_per_batch=hp["update_epochs"], discounting=hp["gamma"], gae_lambda=hp["gae_lambda"],
                learning_rate=hp["lr"], entropy_cost=hp["ent_coef"], clipping_epsilon=hp["clip_eps"],
                vf_loss_coefficient=hp["vf_coef"], max_grad_norm=hp["max_grad_norm"], num_envs=hp["num_envs"],
                batch_size=hp["batch_size"], num_eval_envs=hp["eval_episodes"], seed=seed, progress_fn=progress,
                network_factory=make_networks, max_devices_per_host=1,
            )
        else:
            make_networks = lambda *a, **k: sac_networks.make_sac_networks(*a, hidden_layer_sizes=hp["hidden_sizes"], **k)
            sac_train.train(
                environment=env, num_timesteps=hp["total_steps"], num_evals=hp["chunks"] + 1,
                reward_scaling=hp["reward_scale"], episode_length=hp["episode_length"], normalize_observations=True,
                action_repeat=1, discounting=hp["gamma"], learning_rate=hp["lr"], num_envs=hp["num_envs"],
                batch_size=hp["batch_size"], grad_updates_per_step=hp["utd"], max_replay_size=hp["buffer_size"],
                min_replay_size=hp["warmup_steps"], tau=hp["tau"], num_eval_envs=hp["eval_episodes"], seed=seed,
                progress_fn=progress, network_factory=make_networks, max_devices_per_host=1,
            )
        total_s = time.perf_counter() - start
    return {"env_steps": steps[-1], "eval_return": rewards[-1] if rewards else None, "total_s": total_s,
            **progress_timing(times, steps), "progress_steps": steps}


# ---------------------------------------------------------------------------------------
# Ours


def our_setup(kind: str, hp: dict):
    import envs
    from jaxrl_actions.agents import ppo, sac

    env = envs.make(hp["env"], max_steps=hp["episode_length"])
    if kind == "ppo":
        rollout_len = hp["batch_size"] * hp["num_minibatches"] * hp["unroll_length"] // hp["num_envs"]
        config = ppo.PPOConfig(
            total_steps=hp["total_steps"], num_envs=hp["num_envs"], rollout_len=rollout_len,
            update_epochs=hp["update_epochs"], num_minibatches=hp["num_minibatches"], unroll_len=hp["unroll_length"],
            hidden_sizes=tuple(hp["policy_hidden"]), critic_hidden_sizes=tuple(hp["value_hidden"]),
            activation=hp["activation"], anneal_lr=False, normalize_obs=True,
            lr=hp["lr"], gamma=hp["gamma"], gae_lambda=hp["gae_lambda"], clip_eps=hp["clip_eps"],
            ent_coef=hp["ent_coef"], vf_coef=hp["vf_coef"], max_grad_norm=hp["max_grad_norm"],
            reward_scale=hp["reward_scale"],
        )
        return env, ppo.AGENT, config
    config = sac.SACConfig(
        total_steps=hp["total_steps"], num_envs=hp["num_envs"], batch_size=hp["batch_size"],
        buffer_size=hp["buffer_size"], warmup_steps=hp["warmup_steps"], utd=hp["utd"],
        actor_hidden=tuple(hp["hidden_sizes"]), critic_hidden=tuple(hp["hidden_sizes"]), normalize_obs=True,
        actor_lr=hp["lr"], critic_lr=hp["lr"], alpha_lr=hp["lr"], gamma=hp["gamma"], tau=hp["tau"],
        reward_scale=hp["reward_scale"], target_entropy_per_dim=hp["target_entropy_per_dim"],
    )
    return env, sac.AGENT, config


def run_ours(kind: str, hp: dict, seed: int) -> dict:
    from jaxrl_actions.training import make_trainer
    from jaxrl_actions.training.common import run_chunk
    from jaxrl_actions.training.evaluate import agent_state_of, evaluate

    env, agent, config = our_setup(kind, hp)
    trainer = make_trainer(env, agent, config)
    per_chunk = max(trainer.num_updates // hp["chunks"], 1)
    num_chunks = trainer.num_updates // per_chunk

    start = time.perf_counter()
    init = jax.jit(trainer.init).lower(jax.random.key(seed)).compile()
    carry = jax.block_until_ready(init(jax.random.key(seed)))
    chunk = jax.jit(lambda c: run_chunk(trainer, c, per_chunk), donate_argnums=0).lower(carry).compile()
    compile_s = time.perf_counter() - start

    times = []
    for _ in range(num_chunks):
        t = time.perf_counter()
        carry, metrics = chunk(carry)
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - t)
    steps_per_chunk = per_chunk * trainer.steps_per_update
    later = times[1:] or times
    returns = evaluate(env, agent, agent_state_of(carry), jax.random.key(seed + 1), hp["eval_episodes"], False)
    return {
        "env_steps": num_chunks * steps_per_chunk, "eval_return": float(np.mean(returns)), "compile_s": compile_s,
        "steps_per_s": steps_per_chunk * len(later) / sum(later), "chunk_s": times,
        "last_training_episode_return": float(np.asarray(metrics["episode_return"])[-1]),
    }


# ---------------------------------------------------------------------------------------


def settings(kind: str, args) -> dict:
    hp = dict(PPO_HPARAMS if kind == "ppo" else SAC_HPARAMS)
    if args.smoke:
        hp.update(SMOKE[kind])
    steps = args.ppo_steps if kind == "ppo" else args.sac_steps
    if steps is not None:
        hp["total_steps"] = int(steps)
    # Whole chunks of whole updates, rounded up, so both sides train for the same env steps
    # (Brax rounds its epochs up the same way).
    per_update = hp["batch_size"] * hp["num_minibatches"] * hp["unroll_length"] if kind == "ppo" else hp["num_envs"]
    block = per_update * hp["chunks"]
    hp["total_steps"] = -(-hp["total_steps"] // block) * block
    return hp


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/bench_brax.json")
    parser.add_argument("--only", choices=("ppo", "sac"), default=None)
    parser.add_argument("--ppo-steps", type=float, default=None, help=f"default {PPO_HPARAMS['total_steps']:.0e}")
    parser.add_argument("--sac-steps", type=float, default=None, help=f"default {SAC_HPARAMS['total_steps']}")
    parser.add_argument("--smoke", action="store_true", help="tiny settings that run on a CPU in minutes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.smoke and jax.default_backend() == "cpu":
        print("warning: no accelerator found; full settings on CPU take days (use --smoke)", file=sys.stderr)

    result: dict[str, Any] = {"benchmark": "brax_mjx_ppo_sac", "smoke": args.smoke, "seed": args.seed,
                              "device": str(jax.devices()[0]), "jax": jax.__version__,
                              "python": platform.python_version()}
    for kind in ("ppo", "sac"):
        if args.only not in (None, kind):
            continue
        hp = settings(kind, args)
        print(f"[bench_brax] {kind} on {hp['env']}: {hp['total_steps']} env steps, {hp['num_envs']} envs", flush=True)
        ours = run_ours(kind, hp, args.seed)
        print(f"[bench_brax]   ours: {ours['steps_per_s']:.0f} steps/s, compile {ours['compile_s']:.1f}s, "
              f"eval {ours['eval_return']:.1f}", flush=True)
        peer = run_brax(kind, hp, args.seed)
        print(f"[bench_brax]   brax: {peer['steps_per_s']:.0f} steps/s, eval {peer['eval_return']}", flush=True)
        result[kind] = {"env": hp["env"], "hparams": {k: list(v) if isinstance(v, tuple) else v for k, v in hp.items()},
                        "ours": ours, "brax": peer, "speed_ratio": ours["steps_per_s"] / peer["steps_per_s"],
                        "differences": DIFFERENCES[kind]}
    if os.path.dirname(args.out):
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"[bench_brax] wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
