"""gymnax's registered environments as `gymnax/<Id>` (the adapter's contract is in
`jaxrl_actions.adapters.gymnax`).

    env = envs.make("gymnax/CartPole-v1")
    env = envs.make("gymnax/Breakout-MinAtar")          # kwargs go to gymnax.make

The ids are listed here (gymnax 1.0.1's registry) so `jaxrl-actions list` shows them without
importing gymnax (seconds); `make` imports it and, when it is missing, raises an ImportError
naming the extra (`pip install -e ".[gymnax]"`).
"""
from __future__ import annotations

import functools
from typing import Any

import envs
from jaxrl_actions.adapters.gymnax import GymnaxEnv

# gymnax 1.0.1's registered ids with a one-line summary.
TASKS: dict[str, str] = {
    "CartPole-v1": "classic control, Discrete(2), 500 steps",
    "Pendulum-v1": "classic control, Box(-2, 2, (1,)), 200 steps",
    "Acrobot-v1": "classic control, Discrete(3), 500 steps",
    "MountainCar-v0": "classic control, Discrete(3), 200 steps",
    "MountainCarContinuous-v0": "classic control, Box(-1, 1, (1,)), 999 steps",
    "Asterix-MinAtar": "MinAtar, 10x10x4 frames, Discrete(5)",
    "Breakout-MinAtar": "MinAtar, 10x10x4 frames, Discrete(3)",
    "Freeway-MinAtar": "MinAtar, 10x10x7 frames, Discrete(3)",
    "Seaquest-MinAtar": "MinAtar, 10x10x10 frames, Discrete(6)",
    "SpaceInvaders-MinAtar": "MinAtar, 10x10x6 frames, Discrete(4)",
    "Catch-bsuite": "bsuite catch, Discrete(3)",
    "DeepSea-bsuite": "bsuite deep sea exploration, Discrete(2)",
    "MemoryChain-bsuite": "bsuite memory chain, Discrete(2)",
    "UmbrellaChain-bsuite": "bsuite umbrella chain, Discrete(2)",
    "DiscountingChain-bsuite": "bsuite discounting chain, Discrete(5)",
    "MNISTBandit-bsuite": "bsuite MNIST bandit (downloads MNIST on first make), Discrete(10)",
    "SimpleBandit-bsuite": "bsuite simple bandit, Discrete(11)",
    "FourRooms-misc": "four-rooms gridworld, Discrete(4)",
    "MetaMaze-misc": "meta-learning maze, Discrete(4)",
    "PointRobot-misc": "meta-learning point robot, Box",
    "BernoulliBandit-misc": "meta-learning Bernoulli bandit, Discrete(2)",
    "GaussianBandit-misc": "meta-learning Gaussian bandit, Discrete(5)",
    "Reacher-misc": "pure-JAX reacher, Box",
    "Swimmer-misc": "pure-JAX swimmer, Box",
    "Pong-misc": "pong, Discrete(3)",
    "FrozenLake-misc": "frozen lake, Discrete(4)",
}

# Observations that leave the bounds gymnax's observation space declares (found by the
# conformance test): GaussianBandit's last reward, MemoryChain's context and UmbrellaChain's
# observation can be -1.
UNBOUNDED_OBS = {"GaussianBandit-misc", "MemoryChain-bsuite", "UmbrellaChain-bsuite"}


def make_gymnax(env_id: str, **gymnax_kwargs: Any) -> GymnaxEnv:
    return GymnaxEnv.from_name(env_id, bounded_obs=env_id not in UNBOUNDED_OBS, **gymnax_kwargs)


for _id, _summary in TASKS.items():
    envs.register(f"gymnax/{_id}", functools.partial(make_gymnax, _id), f"gymnax {_id}: {_summary}")
