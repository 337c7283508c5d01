"""Invalid-action masking vs the invalid-action penalty, PPO on `mining_grid` 10x10.

Two trials in one run directory, same env steps and seeds, named by `variant`:
- `masked`: the policy sees the env's action mask (masked logits when sampling and in the
  gradient), so it can never pick an invalid action;
- `invalid_penalty`: the mask is hidden; an invalid action becomes a no-op and costs
  `penalty` (the baseline masking is compared to).
`episode_return` is the env's own return in both (EpisodeStats sits below the penalty
transform), and `invalid_actions` counts every invalid action taken in the run.

    jaxrl-actions run experiments/masking.py --seeds 4 --out runs/masking
"""
import dataclasses

import envs
from jaxrl_actions.actions import invalid_penalty, transform_actions
from jaxrl_actions.agents import ppo
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment
from jaxrl_actions.wrappers import EpisodeStats


def make_mining(size: int = 10, penalty: float = 0.0, **kwargs):
    return envs.make("mining_grid", size=size, **kwargs)


def make_penalised_mining(size: int = 10, penalty: float = -0.1, **kwargs):
    env = EpisodeStats(envs.make("mining_grid", size=size, **kwargs))  # log the env's own return
    return transform_actions(env, invalid_penalty(penalty))


EXPERIMENT = Experiment(
    name="masking",
    description="Masked PPO vs invalid-action-penalty PPO on mining_grid 10x10",
    make_env=make_mining,
    agent=ppo.AGENT,
    config=ppo.PPOConfig(
        total_steps=1_000_000, num_envs=16, rollout_len=128, update_epochs=4, num_minibatches=8,
        hidden_sizes=(128, 128), activation="relu", lr=5e-4, gamma=0.99, gae_lambda=0.95,
        ent_coef=0.01,
    ),
    env_kwargs={"size": 10, "penalty": -0.1},
    variants={
        "masked": {},
        "invalid_penalty": lambda exp: dataclasses.replace(exp, make_env=make_penalised_mining),
    },
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
