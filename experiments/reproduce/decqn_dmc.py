"""DecQN (Seyde et al., ICLR 2023) on the DeepMind Control Suite (MJX ports from MuJoCo
Playground, `dmc/<task>`), with the authors' settings: `factorised.DecQNConfig()` is
tseyde/decqn's feature-based configuration (two critics, prioritised replay, one gradient
step per 8 env steps, hard target copies every 100 steps, constant epsilon 0.1 with the
code's per-dimension exploration, LayerNorm-residual-ELU critics of width 512, 3-step
returns, Adam 1e-4, clip 40, batch 256, learning after 1000 steps; every default names its
source in agents/factorised.py), 2 bins per action dimension (bang-bang,
decqn/config_default.py:20), no action repeat and raw observations
(decqn/run_experiment.py:160-172), and the code's budget of 1000 episodes = 1M env steps
per task (decqn/run_experiment.py:239).

    jaxrl-actions run experiments/reproduce/decqn_dmc.py --seeds 4                       # 1M steps (GPU)
    jaxrl-actions run experiments/reproduce/decqn_dmc.py --set env.task=dmc/walker_walk
    jaxrl-actions run experiments/reproduce/decqn_dmc.py --set variant=cpu --seeds 2     # 100k steps
    jaxrl-actions run experiments/reproduce/decqn_dmc.py --set variant=cpu --set total_steps=50000

The paper's project page describes its state-based runs with 3 bins (bang-off-bang); the
code's default, kept here, is 2: `--set env.bins=3` runs the former.

The `cpu` variant keeps every setting and cuts the budget to 100k env steps (compare with the
paper's curve at 100k). The paper's tasks on features include cartpole_swingup,
cartpole_balance, reacher_easy, finger_spin, walker_walk and cheetah_run (`--set
env.task=dmc/<task>`). The authors evaluate 10 greedy episodes every 20 training episodes
(decqn/environment_loop.py:201-226); `jaxrl-actions eval RUN_DIR --episodes 10
--deterministic` does the final one. The `dmc/` envs need the `dmc` extra.
"""
import envs
from jaxrl_actions.actions import discretize, transform_actions
from jaxrl_actions.agents import factorised
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment


def make_discretised(task: str = "dmc/cartpole_swingup", bins: int = 2, **kwargs):
    """The env `task` (a Box env) with every action dimension discretised into `bins` values."""
    return transform_actions(envs.make(task, **kwargs), discretize(bins))


EXPERIMENT = Experiment(
    name="decqn_dmc",
    description="DecQN on DMC (MJX), the authors' settings, 2 bins per dimension, 1M env steps (variant cpu: 100k)",
    make_env=make_discretised,
    agent=factorised.DECQN,
    config=factorised.DecQNConfig(),  # the authors' defaults, 1M env steps
    env_kwargs={"task": "dmc/cartpole_swingup", "bins": 2},
    variants={"paper": {}, "cpu": {"total_steps": 100_000}},
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
