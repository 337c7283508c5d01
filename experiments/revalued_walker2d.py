"""REValueD on Walker2d (brax/MJX port of Gymnasium Walker2d): an ensemble of DecQN critics
with the regularised value decomposition, torques discretised per joint.

    jaxrl-actions run experiments/revalued_walker2d.py --seeds 4 --out runs/revalued_walker2d   # GPU
    jaxrl-actions run experiments/revalued_walker2d.py --set env.bins=21

Agent settings: the authors' (`factorised.REValueDConfig()`, from davidireland3/REValueD:
10 critics, epsilon decaying per random joint action, one gradient step per 5 env steps, 10k
random burn-in steps, Polyak 0.005, residual-LayerNorm critics of width 512, 3-step returns,
Adam 1e-4, clip 40) plus the paper's regulariser (weight 0.5, as we read it), 3 bins per joint
and 1M env steps. The paper evaluates on the DeepMind Control Suite, not on Gymnasium-style
Walker2d, so there is no published number for this task: experiments/reproduce/revalued_dmc.py
is the paper's setup.
CPU-sized preset: --set total_steps=100000 --set agent.num_critics=2 --set 'agent.hidden_sizes=(64,)'
"""
import envs
from jaxrl_actions.actions import discretize, transform_actions
from jaxrl_actions.agents import factorised
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment

EXPERIMENT = Experiment(
    name="revalued_walker2d",
    description="REValueD on Walker2d, torques discretised per joint (the authors' agent settings)",
    make_env=lambda bins=3, **kwargs: transform_actions(envs.make("walker2d", **kwargs), discretize(bins)),
    agent=factorised.REVALUED,
    config=factorised.REValueDConfig(total_steps=1_000_000),
    env_kwargs={"bins": 3},
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
