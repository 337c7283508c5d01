"""ARSQ (Liu et al., ICML 2025) fully online on DeepMind Control tasks from states (MJX ports from
MuJoCo Playground, `dmc/<task>`), with the authors' D4RL settings where they have one
(`agents/arsq.py` names each default's source): twin soft critics of (512, 512, 512) tanh,
Adam 3e-4, alpha 0.01, tau 0.005, 1-step targets, one gradient step per env step.

    jaxrl-actions run experiments/reproduce/arsq_dmc.py --seeds 2                      # 1.1M steps
    jaxrl-actions run experiments/reproduce/arsq_dmc.py --set variant=cpu --seeds 2    # 100k steps

The paper has no DMC experiment (it learns from D4RL datasets and RLBench demonstrations;
the online form is one of its ablations), so there is no published number for these runs.
The budget and levels follow the CQN reproduction (experiments/reproduce/cqn_dmc.py: the
"easy" tasks' 1.1M env steps, 3 levels x 5 bins), so the two coarse-to-fine agents compare
at equal steps; `--set env.task=dmc/<task>` picks another task. The `dmc/` envs need the
`dmc` extra.
"""
import envs
from jaxrl_actions.agents import arsq
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

EXPERIMENT = Experiment(
    name="arsq_dmc",
    description="ARSQ fully online on DMC (MJX), the authors' D4RL settings, 1.1M env steps (variant cpu: 100k)",
    make_env=lambda task="dmc/cartpole_swingup", **kwargs: envs.make(task, **kwargs),
    agent=arsq.AGENT,
    config=arsq.ARSQConfig(total_steps=1_100_000, buffer_size=1_000_000),
    env_kwargs={"task": "dmc/cartpole_swingup"},
    variants={"paper": {}, "cpu": {"total_steps": 100_000}},
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
