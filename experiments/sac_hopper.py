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
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

EXPERIMENT = Experiment(
    name="sac_hopper",
    description="SAC (twin Q, auto-entropy) on Hopper (MJX), 1M env steps",
    make_env=lambda **kwargs: envs.make("hopper", **kwargs),
    agent=sac.AGENT,
    config=sac.SACConfig(),  # the defaults are the published settings above
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
