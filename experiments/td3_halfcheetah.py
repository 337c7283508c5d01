"""TD3 on HalfCheetah (brax MJX port of Gymnasium HalfCheetah) with the TD3 paper's settings
(Fujimoto et al. 2018, Table 1; the paper-era code sfujim/TD3 @ bc98e62): actor and twin
critics of (400, 300) ReLU units with PyTorch's default init, Adam 1e-3, batch 100, 10k
uniform-random warm-up steps, exploration noise 0.1, target smoothing noise 0.2 clipped at
0.5, policy delay 2, tau 0.005, 1M env steps.

    jaxrl-actions run experiments/td3_halfcheetah.py --seeds 4 [--variant repo_2019|ddpg]

Variants: `repo_2019` is the authors' later repository defaults (sfujim/TD3 HEAD after
"Python3 + Hyper-parameters update", 2019: (256, 256), Adam 3e-4, batch 256, 25k warm-up;
the README says that code "is no longer exactly representative of the code used in the
paper"); `ddpg` is the paper's "our DDPG" comparison (one critic, no smoothing, no delay)
with the paper's settings.

Published: HalfCheetah-v1 9636.95 +- 859.06 (Table 1, max average return over 10 seeds), or
9567 +- 833 at exactly 1M steps (the authors' learning_curves/*.npy); gym v1 on MuJoCo 1.50,
so the MJX port's numbers are a guide only.

Remaining differences from the paper-era code: it trains at the end of each episode (as
many gradient steps as the episode had env steps), from the first episode on, including
during the random warm-up; here one gradient step follows each env step after the warm-up.

A CPU-sized smoke run:

    python experiments/td3_halfcheetah.py \\
        --set total_steps=20000 --set num_envs=4 --set warmup_steps=2000 \\
        --set batch_size=100 --set buffer_size=50000 --set 'actor_hidden=(64,64)' \\
        --set 'critic_hidden=(64,64)'
"""
import envs
from jaxrl_actions.agents import td3
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

EXPERIMENT = Experiment(
    name="td3_halfcheetah",
    description="TD3 (paper settings) on HalfCheetah (MJX), 1M env steps (variants: repo_2019, ddpg)",
    make_env=lambda **kwargs: envs.make("halfcheetah", **kwargs),
    agent=td3.AGENT,
    config=td3.TD3Config(
        total_steps=1_000_000, num_envs=1, buffer_size=1_000_000, utd=1,
        warmup_steps=td3.PAPER_2018_START_STEPS["halfcheetah"], **td3.PAPER_2018,
        gamma=0.99, tau=0.005, exploration_noise=0.1, target_noise=0.2, target_noise_clip=0.5, policy_delay=2,
    ),
    variants={
        "td3": {},
        "repo_2019": {"agent.actor_hidden": (256, 256), "agent.critic_hidden": (256, 256), "agent.actor_lr": 3e-4,
                      "agent.critic_lr": 3e-4, "agent.batch_size": 256, "agent.warmup_steps": 25_000},
        "ddpg": {"agent.twin_critics": False, "agent.target_smoothing": False, "agent.policy_delay": 1},
    },
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
