"""REDQ on Hopper (brax MJX port of Gymnasium Hopper), the REDQ paper's settings: an
ensemble of N=10 critics, the minimum over a random M=2 of them in the target, 20 gradient
steps per env step (the actor once per 20), batch 256, Adam 3e-4, 5k random warm-up steps,
300k env steps.

    jaxrl-actions run experiments/redq_hopper.py --seeds 4       # GPU: MJX on CPU is slow

Published REDQ reaches about 3000+ on Hopper within 300k steps. A CPU-sized smoke run:

    python experiments/redq_hopper.py \\
        --set total_steps=5000 --set num_envs=4 --set warmup_steps=1000 \\
        --set batch_size=128 --set buffer_size=20000 --set num_critics=4 --set utd=4 \\
        --set policy_delay=4 --set 'actor_hidden=(64,64)' --set 'critic_hidden=(64,64)'
"""
import envs
from jaxrl_actions.agents import redq
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

EXPERIMENT = Experiment(
    name="redq_hopper",
    description="REDQ (N=10, M=2, UTD 20) on Hopper (MJX), 300k env steps",
    make_env=lambda **kwargs: envs.make("hopper", **kwargs),
    agent=redq.AGENT,
    config=redq.REDQConfig(
        total_steps=300_000, num_envs=1, batch_size=256, buffer_size=1_000_000, warmup_steps=5_000, utd=20,
        num_critics=10, target_subset=2, policy_delay=20, actor_hidden=(256, 256), critic_hidden=(256, 256),
        actor_lr=3e-4, critic_lr=3e-4, alpha_lr=3e-4, gamma=0.99, tau=0.005,
    ),
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
