"""CAMEL (Zhao et al. 2025) on Walker2d (brax's MJX port, with the same 17-d observation as Walker2d-v4's; the paper
runs Gymnasium's Walker2d-v4 on MuJoCo): TD3 inside a band around the
hand-written prior `envs.priors.PRIORS["walker2d"]`, lifted by epsilon-masking, against plain TD3,
an expert mask, and Stolz et al.'s ray and generator masks (experiments/_camel_common.py says
what each variant is and which settings are ours).

    jaxrl-actions run experiments/camel_walker2d.py --seeds 4 --sweep variant=no_mask,prior_mask
    jaxrl-actions run experiments/camel_walker2d.py --seeds 4 --sweep variant=no_mask_cpu,prior_mask_cpu
    jaxrl-actions run experiments/camel_walker2d.py --set variant=prior_mask --set env.mask=expert --set env.expert_run=runs/td3_walker2d
"""
import functools
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _camel_common beside this file

from _camel_common import ENV_SETTINGS, TOTAL_STEPS, make_masked_env, variants  # noqa: E402
from jaxrl_actions.agents import td3  # noqa: E402
from jaxrl_actions.cli import main_for  # noqa: E402
from jaxrl_actions.run import Experiment  # noqa: E402

EXPERIMENT = Experiment(
    name="camel_walker2d",
    description="CAMEL: TD3 in a prior's epsilon-masked action band on Walker2d (MJX), vs TD3 and other masks",
    make_env=functools.partial(make_masked_env, "walker2d"),
    agent=td3.AGENT,
    config=td3.TD3Config(total_steps=TOTAL_STEPS, num_envs=1, buffer_size=1_000_000, warmup_steps=25_000),
    env_kwargs=ENV_SETTINGS,
    variants=variants(),
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
