"""CAMEL (Zhao et al. 2025) on Ant (brax's MJX port, with the same 27-d observation, where Ant-v4's has 105; the paper
runs Gymnasium's Ant-v4 on MuJoCo): TD3 inside a band around the
hand-written prior `envs.priors.PRIORS["ant"]`, lifted by epsilon-masking, against plain TD3,
an expert mask, and Stolz et al.'s ray and generator masks (experiments/_camel_common.py says
what each variant is and which settings are ours).

    jaxrl-actions run experiments/camel_ant.py --seeds 4 --sweep variant=no_mask,prior_mask
    jaxrl-actions run experiments/camel_ant.py --seeds 4 --sweep variant=no_mask_cpu,prior_mask_cpu
    jaxrl-actions run experiments/camel_ant.py --set variant=prior_mask --set env.mask=expert --set env.expert_run=runs/td3_ant
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # _camel_common beside this file

from _camel_common import camel_experiment  # noqa: E402
from jaxrl_actions.cli import main_for  # noqa: E402

EXPERIMENT = camel_experiment("ant", "Ant")

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
