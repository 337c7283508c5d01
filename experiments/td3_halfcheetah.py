"""TD3 on HalfCheetah (brax MJX port of Gymnasium HalfCheetah), the TD3 paper's settings:
25k uniform-random warm-up steps, exploration noise 0.1, target smoothing noise 0.2 clipped
at 0.5, policy delay 2, tau 0.005, batch 256, two 256-unit layers, Adam 3e-4, 1M env steps.
`--variant ddpg` runs DDPG (one critic, no smoothing, no delay) with the same settings.

    jaxrl-actions run experiments/td3_halfcheetah.py --seeds 4 [--variant ddpg]

Published TD3 reaches about 9000-10000 on HalfCheetah at 1M steps. A CPU-sized smoke run:

    python experiments/td3_halfcheetah.py \\
        --set total_steps=20000 --set num_envs=4 --set warmup_steps=2000 \\
        --set batch_size=128 --set buffer_size=50000 --set 'actor_hidden=(64,64)' \\
        --set 'critic_hidden=(64,64)'
"""
import envs
from jaxrl_actions.agents import td3
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

EXPERIMENT = Experiment(
    name="td3_halfcheetah",
    description="TD3 on HalfCheetah (MJX), 1M env steps (variant ddpg: DDPG)",
    make_env=lambda **kwargs: envs.make("halfcheetah", **kwargs),
    agent=td3.AGENT,
    config=td3.TD3Config(
        total_steps=1_000_000, num_envs=1, batch_size=256, buffer_size=1_000_000, warmup_steps=25_000, utd=1,
        actor_hidden=(256, 256), critic_hidden=(256, 256), actor_lr=3e-4, critic_lr=3e-4,
        gamma=0.99, tau=0.005, exploration_noise=0.1, target_noise=0.2, target_noise_clip=0.5, policy_delay=2,
    ),
    variants={
        "td3": {},
        "ddpg": {"agent.twin_critics": False, "agent.target_smoothing": False, "agent.policy_delay": 1},
    },
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
