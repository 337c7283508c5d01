"""MBMA (Nauman & Cygan, ICML 2023) on DeepMind Control tasks from states (MJX ports from MuJoCo
Playground, `dmc/<task>`), with the paper's settings (App. C.5; `agents/mbma.py` names each
default's source and where the authors' code differs): PPO from one env with T = 2048,
minibatches of 64, 10 epochs, Adam 3e-4, no advantage normalisation, 8 imagined actions per
state scored over a 10-step model horizon, the model starting after 40k env steps; action
repeat 4 and 1M env steps (the paper's budget counts agent steps).

    jaxrl-actions run experiments/reproduce/mbma_dmc.py --seeds 4                  # MBMA and PPO, 1M steps
    jaxrl-actions run experiments/reproduce/mbma_dmc.py --set variant=mbma_cpu --seeds 2

Variants: `mbma` and its single-action baseline `ppo` (`action_samples=0`: the same agent and
settings, the paper's PPO), each also at `_cpu` budget (200k env steps). Both log
`learn/pg_variance_single` and `learn/pg_variance_many` each update (the same for `ppo`).

Published (App. D table, 15 seeds, best over training of the seed mean; from the authors'
revised manuscript in naumix/CHANGES_ICML2023): cartpole swingup PPO 736, MBMA 828; walker
walk PPO 514, MBMA 892; cheetah run PPO 283, MBMA 507. The paper's env is dm_control through
dmc2gym; ours is Playground's MJX port.
"""
import envs
from jaxrl_actions.agents import mbma
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

CPU_STEPS = 200_000

EXPERIMENT = Experiment(
    name="mbma_dmc",
    description="MBMA vs single-action PPO on DMC (MJX), the paper's settings, action repeat 4, 1M env steps",
    make_env=lambda task="dmc/cartpole_swingup", action_repeat=4, **kwargs: envs.make(
        task, action_repeat=action_repeat, **kwargs),
    agent=mbma.AGENT,
    config=mbma.MBMAConfig(total_steps=1_000_000),
    env_kwargs={"task": "dmc/cartpole_swingup", "action_repeat": 4},
    variants={
        "mbma": {}, "ppo": {"agent.action_samples": 0},
        "mbma_cpu": {"total_steps": CPU_STEPS}, "ppo_cpu": {"agent.action_samples": 0, "total_steps": CPU_STEPS},
    },
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
