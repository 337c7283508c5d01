"""What the CAMEL experiments share (Zhao et al. 2025, "CAMEL: Continuous Action Masking Enabled
by Large Language Models", arXiv 2502.11896): TD3 on an MJX locomotion task, acting inside a band
around a prior policy's action that epsilon-masking lifts over training.

Masks (env setting `mask`, one variant each):
  none         plain TD3 (the paper's baseline)
  prior        CAMEL: the band prior(obs) +- half_width (clipped to the bounds) around the
               hand-written prior of envs/priors.py, lifted by epsilon-masking
               (actions.EpsilonMasking: probability 0 -> 1 linearly over eps_steps env steps,
               one draw per episode)
  expert       the paper's expert-mask baseline: the same band and schedule around a trained
               policy's greedy action (`--set env.mask=expert --set env.expert_run=RUN_DIR`, e.g.
               a finished `no_mask` run; `run.evaluate_run.trained_policy`)
  ray          Stolz et al. (2024)'s ray mask with the prior's band as relevant set (no lifting)
  generator    Stolz et al.'s generator mask, same relevant set (the agent acts in generator space)
Stolz et al.'s third form, the distributional mask, needs a stochastic policy: PPO with
`box_distribution="truncated_normal"` on an `interval_mask` env (no TD3 variant).

The paper's text and code could not be read here (only its abstract): the band's half-width,
the schedule's length and the TD3 settings are ours, not the paper's. TD3 keeps the library's
defaults (the TD3 authors' 2019 repository, which the paper's first author's CleanRL-style TD3
also uses): (256, 256), Adam 3e-4, batch 256, 25k uniform warm-up steps (drawn inside the
mask), 1M env steps; the band half-width 0.3 of the [-1, 1] range; the mask lifted linearly
over the first half of training. The `cpu` variant of each file: 30k env steps with 5k warm-up.
"""
from __future__ import annotations

import functools

import envs
from envs.priors import PRIORS
from jaxrl_actions.actions import (EpsilonMasking, band, generator_mask, interval_mask, ray_mask,
                                   transform_actions)
from jaxrl_actions.agents import td3
from jaxrl_actions.run import Experiment

MASKS = ("none", "prior", "expert", "ray", "generator")
TOTAL_STEPS = 1_000_000
# The env settings (`--set env.<name>=...`) and their defaults.
ENV_SETTINGS = {"mask": "prior", "half_width": 0.3, "eps_start": 0.0, "eps_end": 1.0,
                "eps_steps": TOTAL_STEPS // 2, "expert_run": ""}
CPU = {"total_steps": 30_000, "agent.warmup_steps": 5_000, "env.eps_steps": 15_000}


def make_masked_env(task: str, mask: str = "prior", half_width: float = 0.3, eps_start: float = 0.0,
                    eps_end: float = 1.0, eps_steps: int = TOTAL_STEPS // 2, expert_run: str = "", **kwargs):
    """The MJX task `task` with one of MASKS on its actions."""
    if mask not in MASKS:
        raise ValueError(f"mask={mask!r}; expected one of {MASKS}")
    env = envs.make(task, **kwargs)
    if mask == "none":
        return env
    space = env.spec.action_space
    schedule = EpsilonMasking(eps_start, eps_end, int(eps_steps))
    if mask == "expert":
        if not expert_run:
            raise ValueError("mask='expert' needs env.expert_run=RUN_DIR (a trained run on the same task)")
        from jaxrl_actions.run.evaluate_run import trained_policy
        return transform_actions(env, interval_mask(trained_policy(expert_run), half_width, schedule))
    prior = PRIORS[task]
    if mask == "prior":
        return transform_actions(env, interval_mask(prior, half_width, schedule))
    relevant = lambda obs: band(prior(obs), half_width, space.low, space.high)
    if mask == "ray":
        return transform_actions(env, ray_mask(relevant))
    return transform_actions(env, generator_mask(relevant, space.shape[0]))


def variants(cpu: dict = CPU) -> dict:
    """One variant per mask, each also at the CPU budget (`<mask>_cpu`). The expert mask
    needs a trained run, so it is no variant: `--set env.mask=expert --set env.expert_run=DIR`."""
    out = {}
    for mask in ("none", "prior", "ray", "generator"):
        name = "no_mask" if mask == "none" else f"{mask}_mask"
        out[name] = {"env.mask": mask}
        out[f"{name}_cpu"] = {"env.mask": mask, **cpu}
    return out


def camel_experiment(task: str, title: str) -> Experiment:
    """The CAMEL experiment on one MJX task: TD3 with the library's defaults, 1M env steps,
    the prior's band by default, one variant per mask (`variants`)."""
    return Experiment(
        name=f"camel_{task}",
        description=f"CAMEL: TD3 in a prior's epsilon-masked action band on {title} (MJX), vs TD3 and other masks",
        make_env=functools.partial(make_masked_env, task),
        agent=td3.AGENT,
        config=td3.TD3Config(total_steps=TOTAL_STEPS, num_envs=1, buffer_size=1_000_000, warmup_steps=25_000),
        env_kwargs=ENV_SETTINGS,
        variants=variants(),
    )
