"""REDQ on Hopper (brax MJX port of Gymnasium Hopper) with the authors' settings
(watchernyu/REDQ, `redq/algos/redq_sac.py`, `redq/algos/core.py`): an ensemble of N=10
critics, the minimum over a random M=2 of them in the target, 20 gradient steps per env
step (the actor and temperature once per 20, on the mean of all 10 critics), batch 256,
Adam 3e-4, xavier-uniform init, log-std clipped to [-20, 2], the MBPO target entropy for
Hopper (-1), 5k random warm-up steps, and Hopper's MBPO budget of 125k env steps.

    jaxrl-actions run experiments/redq_hopper.py --seeds 4       # GPU: MJX on CPU is slow

Published curves: the REDQ paper's Figure 1 (gym Hopper-v2 on MuJoCo 1.50; not read into
this file, and the MJX port's numbers would be a guide only). A CPU-sized smoke run:

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
    description="REDQ (N=10, M=2, UTD 20) on Hopper (MJX), 125k env steps",
    make_env=lambda **kwargs: envs.make("hopper", **kwargs),
    agent=redq.AGENT,
    config=redq.REDQConfig(
        total_steps=redq.MBPO_ENV_STEPS["hopper"], num_envs=1, buffer_size=1_000_000,
        target_entropy=redq.MBPO_TARGET_ENTROPY["hopper"],
    ),  # every other default is the authors' (agents/redq.py)
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
