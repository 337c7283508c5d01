"""DecQN on Hopper (brax/MJX port of Gymnasium Hopper) with each joint's torque discretised
into `bins` values.

    jaxrl-actions run experiments/decqn_hopper.py --seeds 4 --out runs/decqn_hopper      # GPU
    jaxrl-actions run experiments/decqn_hopper.py --set env.bins=3

Agent settings: the authors' (`factorised.DecQNConfig()`, from tseyde/decqn: two critics,
prioritised replay, one gradient step per 8 env steps, hard target copies every 100 steps,
constant epsilon 0.1, LayerNorm-residual-ELU critics of width 512, 3-step returns, Adam 1e-4,
clip 40), 2 bins per joint (their default, bang-bang) and 1M env steps. The paper evaluates on
the DeepMind Control Suite, not on Gymnasium-style Hopper, so there is no published number for
this task: experiments/reproduce/decqn_dmc.py is the paper's setup.
CPU-sized preset (brax compiles slowly on CPU; minutes per 100k steps):
    --set total_steps=100000 --set agent.num_envs=4 --set 'agent.hidden_sizes=(64,)'
"""
import envs
from jaxrl_actions.actions import discretize, transform_actions
from jaxrl_actions.agents import factorised
from jaxrl_actions.cli import main_for
from jaxrl_actions.run import Experiment


def make_discretised(name: str, bins: int = 2, **kwargs):
    """`name` (a Box env) with every action dimension discretised into `bins` values."""
    return transform_actions(envs.make(name, **kwargs), discretize(bins))


EXPERIMENT = Experiment(
    name="decqn_hopper",
    description="DecQN on Hopper, torques discretised per joint (the authors' agent settings)",
    make_env=lambda bins=2, **kwargs: make_discretised("hopper", bins, **kwargs),
    agent=factorised.DECQN,
    config=factorised.DecQNConfig(total_steps=1_000_000),
    env_kwargs={"bins": 2},
)

if __name__ == "__main__":
    raise SystemExit(main_for(EXPERIMENT))
