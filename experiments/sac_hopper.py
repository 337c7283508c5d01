"""SAC on Hopper (brax MJX port of Gymnasium Hopper), the published SAC settings: one env,
one gradient step per env step, batch 256, Adam 3e-4, two 256-unit critics, automatic
entropy tuning with target entropy -|A|, 10k random warm-up steps, 1M env steps.

    jaxrl-actions run experiments/sac_hopper.py --seeds 4        # GPU: MJX on CPU is slow

Published SAC reaches about 3000-3500 on Hopper at 1M steps. A CPU-sized smoke run:

    python experiments/sac_hopper.py \\
        --set total_steps=20000 --set num_envs=4 --set warmup_steps=2000 \\
        --set batch_size=128 --set buffer_size=50000 --set 'actor_hidden=(64,64)' \\
        --set 'critic_hidden=(64,64)'
"""
import envs
from jaxrl_actions.agents import sac
from jaxrl_actions.training.experiment import Experiment, main_for

EXPERIMENT = Experiment(
    name="sac_hopper",
    description="SAC (twin Q, auto-entropy) on Hopper (MJX), 1M env steps",
    make_env=lambda **kwargs: envs.make("hopper", **kwargs),
    agent=sac.AGENT,
    config=sac.SACConfig(
        total_steps=1_000_000, num_envs=1, batch_size=256, buffer_size=1_000_000, warmup_steps=10_000, utd=1,
        actor_hidden=(256, 256), critic_hidden=(256, 256), actor_lr=3e-4, critic_lr=3e-4, alpha_lr=3e-4,
        gamma=0.99, tau=0.005, init_alpha=1.0, target_entropy_per_dim=-1.0,
    ),
)

if __name__ == "__main__":
    main_for(EXPERIMENT)
