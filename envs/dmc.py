"""The DeepMind Control Suite tasks, from MuJoCo Playground's MJX ports, as `dmc/<task>` envs.

    env = envs.make("dmc/cartpole_swingup")                   # MJX "jax" pipeline, 1000-step episodes
    env = envs.make("dmc/walker_walk", action_repeat=2)       # 500 env steps of 2 task steps each
    env = envs.make("dmc/cheetah_run", impl="warp")           # playground's Warp pipeline
    env = envs.make("dmc/reacher_easy", episode_length=200)   # other kwargs override playground's config

Every task shares the adapter's contract (`jaxrl_actions.adapters.playground`):

    observation: float32[obs_size] (below), Box(-inf, inf)
    action:      float32[action_size] in Box(-1, 1) (the actuators' ctrlrange)
    reward:      the task's reward (below; in [0, 1] per task step) summed over `action_repeat`
    terminated:  never
    truncated:   after 1000 TASK steps, i.e. max_episode_steps = ceil(1000 / action_repeat) env steps
    action_mask: None

Playground is imported only when one of these envs is built (it is the `dmc` extra:
`pip install -e ".[dmc]"`), so `import envs` and `jaxrl-actions list` work without it.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import envs
from jaxrl_actions.adapters.playground import DEFAULT_IMPL, PlaygroundEnv


class DMCTask(NamedTuple):
    playground_name: str
    obs_size: int
    action_size: int
    control_dt: float  # seconds of simulated time per task step (playground's ctrl_dt)
    reward: str


_UPRIGHT = "upright x centred cart x small control x small velocity"
_WALKER = "(3 standing + upright) / 4"
TASKS: dict[str, DMCTask] = {
    "acrobot_swingup": DMCTask("AcrobotSwingup", 6, 1, 0.01, "smooth: tip near the target above the pole"),
    "acrobot_swingup_sparse": DMCTask("AcrobotSwingupSparse", 6, 1, 0.01, "sparse: 1 while the tip is in the target"),
    "ball_in_cup": DMCTask("BallInCup", 8, 2, 0.02, "sparse: 1 while the ball is in the cup"),
    "cartpole_balance": DMCTask("CartpoleBalance", 5, 1, 0.01, f"smooth: {_UPRIGHT}; starts upright"),
    "cartpole_balance_sparse": DMCTask("CartpoleBalanceSparse", 5, 1, 0.01,
                                       "sparse: 1 while pole and cart stay in bounds; starts upright"),
    "cartpole_swingup": DMCTask("CartpoleSwingup", 5, 1, 0.01, f"smooth: {_UPRIGHT}; starts hanging down"),
    "cartpole_swingup_sparse": DMCTask("CartpoleSwingupSparse", 5, 1, 0.01,
                                       "sparse: 1 while pole and cart are in bounds; starts hanging down"),
    "cheetah_run": DMCTask("CheetahRun", 17, 6, 0.01, "forward speed / 10 m/s, capped at 1"),
    "finger_spin": DMCTask("FingerSpin", 9, 2, 0.02, "sparse: 1 while the body spins faster than 15 rad/s"),
    "finger_turn_easy": DMCTask("FingerTurnEasy", 12, 2, 0.02, "sparse: 1 while the body's tip is in the (large) target"),
    "finger_turn_hard": DMCTask("FingerTurnHard", 12, 2, 0.02, "sparse: 1 while the body's tip is in the (small) target"),
    "fish_swim": DMCTask("FishSwim", 24, 5, 0.04, "smooth: mouth near the target, upright"),
    "hopper_hop": DMCTask("HopperHop", 15, 4, 0.02, "standing x forward hopping speed (2 m/s)"),
    "hopper_stand": DMCTask("HopperStand", 15, 4, 0.02, "standing x small control"),
    "humanoid_run": DMCTask("HumanoidRun", 67, 21, 0.025, "standing x upright x small control x speed (10 m/s)"),
    "humanoid_stand": DMCTask("HumanoidStand", 67, 21, 0.025, "standing x upright x small control x staying still"),
    "humanoid_walk": DMCTask("HumanoidWalk", 67, 21, 0.025, "standing x upright x small control x speed (1 m/s)"),
    "pendulum_swingup": DMCTask("PendulumSwingup", 3, 1, 0.02, "sparse: 1 while the pole is within 30 degrees of upright"),
    "point_mass": DMCTask("PointMass", 4, 2, 0.02, "smooth: mass near the target x small control"),
    "reacher_easy": DMCTask("ReacherEasy", 6, 2, 0.02, "sparse: 1 while the finger is in the (large) target"),
    "reacher_hard": DMCTask("ReacherHard", 6, 2, 0.02, "sparse: 1 while the finger is in the (small) target"),
    "swimmer_swimmer6": DMCTask("SwimmerSwimmer6", 25, 5, 0.03, "smooth: 6-link swimmer's nose near the target"),
    "walker_run": DMCTask("WalkerRun", 24, 6, 0.025, f"{_WALKER} x (1 + 5 speed tolerance (8 m/s)) / 6"),
    "walker_stand": DMCTask("WalkerStand", 24, 6, 0.025, _WALKER),
    "walker_walk": DMCTask("WalkerWalk", 24, 6, 0.025, f"{_WALKER} x (1 + 5 speed tolerance (1 m/s)) / 6"),
}


def make_dmc_env(task: DMCTask, impl: str = DEFAULT_IMPL, action_repeat: int = 1, **config_overrides) -> PlaygroundEnv:
    return PlaygroundEnv.from_name(task.playground_name, impl=impl, action_repeat=action_repeat, **config_overrides)


def _description(name: str, task: DMCTask) -> str:
    return (f"{name} (DMC via MuJoCo Playground {task.playground_name}, MJX): obs float32[{task.obs_size}], "
            f"Box(-1, 1, ({task.action_size},)); reward: {task.reward}; never terminates; "
            f"truncated at 1000 task steps of {task.control_dt:g} s; needs the dmc extra")


for _name, _task in TASKS.items():
    envs.register(f"dmc/{_name}", functools.partial(make_dmc_env, _task), _description(_name, _task), heavy=True)
