"""MuJoCo physics tasks (brax's MJX ports of the Gymnasium MuJoCo suite) as our envs.

    env = envs.make("hopper")                              # MJX backend, 1000-step episodes
    env = envs.make("hopper", backend="generalized")       # another brax pipeline
    env = envs.make("ant", max_steps=500, reset_noise_scale=0.0)   # extra kwargs go to brax

Every task shares the adapter's contract (`jaxrl_actions.adapters.brax`):

    observation: float32[obs_size] joint positions/velocities (and task extras), Box(-inf, inf)
    action:      float32[action_size] in Box(-1, 1), rescaled by brax to actuator ranges
    reward:      the task's reward (below)
    terminated:  brax's `done` from the unwrapped env: the body left its healthy range
                 (never for tasks listed as "no falls")
    truncated:   `max_steps` (default 1000) steps without terminating; bootstrapping goes on
    action_mask: None

Brax is imported only when one of these envs is built, so `import envs` stays fast.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import envs
from jaxrl_actions.adapters.brax import DEFAULT_BACKEND, DEFAULT_MAX_STEPS, BraxEnv


class PhysicsTask(NamedTuple):
    brax_name: str
    obs_size: int
    action_size: int
    backend: str  # the default backend (swimmer has no MJX port in brax)
    reward: str
    termination: str


TASKS: dict[str, PhysicsTask] = {
    "ant": PhysicsTask("ant", 27, 8, DEFAULT_BACKEND,
                       "forward velocity + 1 healthy bonus - control and contact costs",
                       "torso height outside [0.2, 1.0]"),
    "hopper": PhysicsTask("hopper", 11, 3, DEFAULT_BACKEND,
                          "forward velocity + 1 healthy bonus - 1e-3 |action|^2",
                          "torso below 0.7 m, |torso angle| > 0.2, or a state beyond 100"),
    "walker2d": PhysicsTask("walker2d", 17, 6, DEFAULT_BACKEND,
                            "forward velocity + 1 healthy bonus - 1e-3 |action|^2",
                            "torso height outside [0.8, 2.0] or |torso angle| > 1"),
    "halfcheetah": PhysicsTask("halfcheetah", 17, 6, DEFAULT_BACKEND,
                               "forward velocity - 0.1 |action|^2", "no falls"),
    "humanoid": PhysicsTask("humanoid", 244, 17, DEFAULT_BACKEND,
                            "1.25 forward velocity + 5 healthy bonus - 0.1 |action|^2",
                            "torso height outside [1.0, 2.0]"),
    "humanoidstandup": PhysicsTask("humanoidstandup", 244, 17, DEFAULT_BACKEND,
                                   "upward torso velocity + 1 - control cost", "no falls"),
    "inverted_pendulum": PhysicsTask("inverted_pendulum", 4, 1, DEFAULT_BACKEND,
                                     "1 per step", "|pole angle| > 0.2"),
    "inverted_double_pendulum": PhysicsTask("inverted_double_pendulum", 8, 1, DEFAULT_BACKEND,
                                            "10 alive bonus - tip distance and velocity penalties",
                                            "tip height <= 1"),
    "reacher": PhysicsTask("reacher", 11, 2, DEFAULT_BACKEND,
                           "- fingertip-to-target distance - |action|^2", "no falls"),
    "pusher": PhysicsTask("pusher", 23, 7, DEFAULT_BACKEND,
                          "- object-to-goal distance - 0.5 fingertip-to-object distance - 0.1 |action|^2",
                          "no falls"),
    "swimmer": PhysicsTask("swimmer", 8, 2, "generalized",
                           "forward velocity - 1e-4 |action|^2", "no falls"),
}


_BUILT: dict = {}  # (task, backend, max_steps, kwargs) -> BraxEnv: envs are immutable, building one costs ~1 s


def make_physics_env(task: PhysicsTask, backend: str | None = None, max_steps: int = DEFAULT_MAX_STEPS,
                     **brax_kwargs) -> BraxEnv:
    """The brax env of `task`; the same settings give the same (immutable) env object, so
    planning many variants of a physics experiment builds each env once."""
    backend = backend or task.backend
    try:
        key = (task.brax_name, backend, int(max_steps), tuple(sorted(brax_kwargs.items())))
        hash(key)
    except TypeError:  # unhashable brax kwargs: build afresh
        return BraxEnv.from_name(task.brax_name, backend=backend, max_steps=max_steps, **brax_kwargs)
    if key not in _BUILT:
        _BUILT[key] = BraxEnv.from_name(task.brax_name, backend=backend, max_steps=max_steps, **brax_kwargs)
    return _BUILT[key]


def _description(name: str, task: PhysicsTask) -> str:
    return (f"{name} (brax {task.backend}): obs float32[{task.obs_size}], Box(-1, 1, ({task.action_size},)); "
            f"reward: {task.reward}; terminates: {task.termination}; truncated at 1000 steps")


for _name, _task in TASKS.items():
    envs.register(_name, functools.partial(make_physics_env, _task), _description(_name, _task), heavy=True)
