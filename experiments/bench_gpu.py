"""GPU benchmark, one prepared command: many vmapped CartPole PPO seeds, PPO on MJX ant next
to Brax's own trainer, and the env steps/s of our DQN and SAC; writes one JSON.

    python experiments/bench_gpu.py --out $OUT/bench_gpu.json            # a GPU, a few minutes
    python experiments/bench_gpu.py --smoke --out /tmp/bench_gpu.json    # tiny sizes, CPU, proves it runs
    python experiments/bench_gpu.py --only ppo_cartpole,dqn --seeds 1024

Parts (each timed after an ahead-of-time compile, `compile_s` apart; a part that fails is
recorded with its error and the others still run; the JSON is rewritten after every part,
so a run cut short keeps what finished):

  ppo_cartpole  `--seeds` (2048) seeds of PPO CartPole vmapped in one program, bench_cartpole's
                settings (4 envs x 128 steps, 500k env steps per seed): `wall_s`, env steps/s
                over all seeds, the mean and worst seed's final training return; rejax's PPO
                vmapped over the same keys beside it when rejax is installed (`time_ratio`).
                Goal: <= 20 s for 2048 seeds on an H100.
  ppo_ant       bench_brax's PPO pair (MJX ant, Brax's published settings) at `--ant-steps`
                env steps (default 10M, half of Brax's 20M so the command fits a few
                minutes): our steps/s against Brax's own trainer's, eval returns of both
                (`speed_ratio` = ours / Brax). Goal: >= 1.5 at equal return.
  dqn, sac      env steps/s of our DQN (CartPole, bench_dqn's settings) and SAC (Pendulum,
                bench_sac's settings), each vmapped over `--offpolicy-seeds` seeds.

Needs no GPU to import; tests never run it.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from types import SimpleNamespace
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _bench_common and the other benchmarks

import _bench_common as bench  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

PARTS = ("ppo_cartpole", "ppo_ant", "dqn", "sac")
FULL = dict(seeds=2048, cartpole_steps=500_000, ant_steps=10_000_000, offpolicy_seeds=256, dqn_steps=100_000,
            sac_steps=10_000)
SMOKE = dict(seeds=4, cartpole_steps=4 * 512, ant_steps=None, offpolicy_seeds=2, dqn_steps=5_200, sac_steps=400)


def timed_call(fn: Callable, key) -> tuple[float, float, Any]:
    """(compile_s, wall_s, output) of `fn(key)`, compiled ahead of time, the call timed once."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(key).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(key))
    return compile_s, time.perf_counter() - start, out


def ppo_cartpole(sizes: dict, seed: int) -> dict:
    import bench_cartpole

    import envs
    from jaxrl_actions.agents import ppo
    from jaxrl_actions.training import make_train

    hp = dict(bench_cartpole.HPARAMS, total_steps=sizes["cartpole_steps"])
    config = bench_cartpole.our_config(hp)
    keys = bench.seed_keys(seed, sizes["seeds"])
    compile_s, wall_s, (carry, _) = timed_call(jax.vmap(make_train(envs.make("cartpole"), ppo.AGENT, config)), keys)
    steps = config.num_updates * config.steps_per_update * sizes["seeds"]
    last = np.asarray(carry.episodes.last_return)
    result = {"seeds": sizes["seeds"], "env_steps_per_seed": config.num_updates * config.steps_per_update,
              "ours": {"compile_s": compile_s, "wall_s": wall_s, "steps_per_s": steps / wall_s,
                       "last_training_return_mean": float(last.mean()), "last_training_return_min": float(last.min())},
              "hparams": hp}
    print(f"[bench_gpu] ppo_cartpole ours: {sizes['seeds']} seeds in {wall_s:.1f}s (compile {compile_s:.1f}s), "
          f"return {last.mean():.1f}", flush=True)
    try:
        from rejax import PPO
    except ImportError as err:
        result["rejax"] = f"not installed ({err})"
        return result
    algo = PPO.create(
        env="CartPole-v1", total_timesteps=hp["total_steps"], num_envs=hp["num_envs"], num_steps=hp["rollout_len"],
        num_epochs=hp["update_epochs"], num_minibatches=hp["num_minibatches"], learning_rate=hp["lr"],
        gamma=hp["gamma"], gae_lambda=hp["gae_lambda"], clip_eps=hp["clip_eps"], ent_coef=hp["ent_coef"],
        vf_coef=hp["vf_coef"], max_grad_norm=hp["max_grad_norm"],
        agent_kwargs={"activation": hp["activation"], "hidden_layer_sizes": tuple(hp["hidden_sizes"])},
        eval_freq=hp["total_steps"], skip_initial_evaluation=True)
    compile_s, wall_s, (_, (_, returns)) = timed_call(jax.vmap(algo.train), keys)
    per_seed = np.asarray(returns)[:, -1].mean(axis=-1)
    result["rejax"] = {"compile_s": compile_s, "wall_s": wall_s, "steps_per_s": steps / wall_s,
                       "final_return_mean": float(per_seed.mean()), "final_return_min": float(per_seed.min())}
    result["time_ratio"] = result["ours"]["wall_s"] / wall_s
    print(f"[bench_gpu] ppo_cartpole rejax: {wall_s:.1f}s, ratio {result['time_ratio']:.2f}", flush=True)
    return result


def ppo_ant(sizes: dict, seed: int, smoke: bool) -> dict:
    import bench_brax

    args = SimpleNamespace(smoke=smoke, ppo_steps=sizes["ant_steps"], sac_steps=None)
    hp = bench_brax.settings("ppo", args)
    print(f"[bench_gpu] ppo_ant: {hp['total_steps']} env steps, {hp['num_envs']} envs", flush=True)
    ours = bench_brax.run_ours("ppo", hp, seed)
    print(f"[bench_gpu] ppo_ant ours: {ours['steps_per_s']:.0f} steps/s, eval {ours['eval_return']:.1f}", flush=True)
    peer = bench_brax.run_brax("ppo", hp, seed)
    print(f"[bench_gpu] ppo_ant brax: {peer['steps_per_s']:.0f} steps/s, eval {peer['eval_return']}", flush=True)
    return {"env": hp["env"], "hparams": hp, "ours": ours, "brax": peer,
            "speed_ratio": ours["steps_per_s"] / peer["steps_per_s"], "differences": bench_brax.DIFFERENCES["ppo"]}


def off_policy(kind: str, sizes: dict, seed: int) -> dict:
    import bench_dqn
    import bench_sac

    import envs
    from jaxrl_actions.agents import dqn, sac
    from jaxrl_actions.training import make_train

    module, agent, env_name = (bench_dqn, dqn.AGENT, "cartpole") if kind == "dqn" else (bench_sac, sac.AGENT, "pendulum")
    hp = dict(module.HPARAMS, total_steps=sizes[f"{kind}_steps"])
    if kind == "dqn":
        hp["warmup_steps"] = min(hp["warmup_steps"], hp["total_steps"] // 2)
    config = module.our_config(hp)
    seeds = sizes["offpolicy_seeds"]
    compile_s, wall_s, (carry, _) = timed_call(jax.vmap(make_train(envs.make(env_name), agent, config)),
                                               bench.seed_keys(seed, seeds))
    steps = config.total_steps // config.num_envs * config.num_envs * seeds
    print(f"[bench_gpu] {kind}: {steps / wall_s:.0f} env steps/s over {seeds} seeds (compile {compile_s:.1f}s)", flush=True)
    return {"env": env_name, "seeds": seeds, "env_steps_per_seed": steps // seeds, "compile_s": compile_s,
            "wall_s": wall_s, "steps_per_s": steps / wall_s,
            "last_training_return_mean": float(np.mean(carry.episodes.last_return)), "hparams": hp}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_out = os.path.join(os.environ["OUT"], "bench_gpu.json") if os.environ.get("OUT") else "runs/bench_gpu.json"
    parser.add_argument("--out", default=default_out)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes that run on a CPU in minutes")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {PARTS}")
    parser.add_argument("--seeds", type=int, default=None, help=f"PPO CartPole seeds (default {FULL['seeds']})")
    parser.add_argument("--ant-steps", type=float, default=None, help=f"default {FULL['ant_steps']:.0e}")
    parser.add_argument("--offpolicy-seeds", type=int, default=None, help=f"default {FULL['offpolicy_seeds']}")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    parts = [p for p in args.only.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"--only: unknown parts {unknown}; choose from {PARTS}")
    sizes = dict(SMOKE if args.smoke else FULL)
    for name in ("seeds", "offpolicy_seeds"):
        if getattr(args, name) is not None:
            if getattr(args, name) < 1:
                parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
            sizes[name] = getattr(args, name)
    if args.ant_steps is not None:
        sizes["ant_steps"] = int(args.ant_steps)
    if not args.smoke and jax.default_backend() == "cpu":
        print("warning: no accelerator found; full sizes on a CPU take hours (use --smoke)", file=sys.stderr)

    result: dict[str, Any] = {"benchmark": "gpu", "smoke": args.smoke, "sizes": sizes, "seed": args.seed,
                              **bench.machine()}
    runners = {"ppo_cartpole": lambda: ppo_cartpole(sizes, args.seed),
               "ppo_ant": lambda: ppo_ant(sizes, args.seed, args.smoke),
               "dqn": lambda: off_policy("dqn", sizes, args.seed),
               "sac": lambda: off_policy("sac", sizes, args.seed)}
    failed = False
    for part in parts:
        start = time.perf_counter()
        try:
            result[part] = runners[part]()
        except Exception as err:  # one failing part must not lose the others' figures
            failed = True
            result[part] = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()[-4000:]}
            print(f"[bench_gpu] {part} failed: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        result[part + "_total_s"] = time.perf_counter() - start
        bench.write(result, args.out, keys=())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
