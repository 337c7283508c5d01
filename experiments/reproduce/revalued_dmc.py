"""REValueD (Ireland & Montana, ICLR 2024) on the DeepMind Control Suite (MJX ports from
MuJoCo Playground, `dmc/<task>`), with the authors' settings: `factorised.REValueDConfig()`
is davidireland3/REValueD's configuration (an ensemble of 10 critics with a shared
ensemble-mean target, Huber loss averaged over members, epsilon from 1 decaying by 0.999
per random joint action to 0.05, greedy acting on one random member, one gradient step per
5 env steps, 10k uniformly random burn-in steps, Polyak 0.005, residual-LayerNorm critics
of width 512, 3-step returns, Adam 1e-4, clip 40, batch 256, buffer 500k) plus the paper's
regulariser with weight 0.5 as we read it (unverified; absent from the authors' code: see
agents/factorised.py), 3 bins per action dimension (configs/base_config.yaml:11), no action
repeat, raw observations, and 1M env steps (configs/experiments/walker_run_decqn.yaml,
cheetah_run_decqn.yaml; their walker_walk config runs 500k).

    jaxrl-actions run experiments/reproduce/revalued_dmc.py --seeds 4                       # 1M steps (GPU)
    jaxrl-actions run experiments/reproduce/revalued_dmc.py --set env.task=dmc/walker_walk --set total_steps=500000
    jaxrl-actions run experiments/reproduce/revalued_dmc.py --set variant=cpu --seeds 2     # 100k steps
    jaxrl-actions run experiments/reproduce/revalued_dmc.py --set variant=code             # no regulariser

`cpu` keeps every setting and cuts the budget to 100k env steps (10k of them the random
burn-in); `code` runs the authors' published code, without the regulariser. The authors
evaluate 5 greedy episodes (ensemble mean) every 25k steps (trainers/trainer.py:117-119,
175-198); `jaxrl-actions eval RUN_DIR --episodes 5 --deterministic` does the final one.
The `dmc/` envs need the `dmc` extra.
"""
import envs
from jaxrl_actions.actions import discretize, transform_actions
from jaxrl_actions.agents import factorised
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment


def make_discretised(task: str = "dmc/cartpole_swingup", bins: int = 3, **kwargs):
    """The env `task` (a Box env) with every action dimension discretised into `bins` values."""
    return transform_actions(envs.make(task, **kwargs), discretize(bins))


EXPERIMENT = Experiment(
    name="revalued_dmc",
    description="REValueD on DMC (MJX), the authors' settings, 3 bins per dimension, 1M env steps (variant cpu: 100k)",
    make_env=make_discretised,
    agent=factorised.REVALUED,
    config=factorised.REValueDConfig(),  # the authors' defaults plus the paper's regulariser, 1M env steps
    env_kwargs={"task": "dmc/cartpole_swingup", "bins": 3},
    variants={"paper": {}, "cpu": {"total_steps": 100_000}, "code": {"agent.regularise_utilities": False}},
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
