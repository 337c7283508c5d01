"""Hand-written prior policies for the MJX locomotion tasks: `prior(obs) -> action`, pure JAX,
jitted with the rest of a run. They stand in for CAMEL's LLM-written Python policies
(Zhao et al. 2025; no model is called here): simple balance controllers that hold a posture
and keep the torso upright, good enough to survive but not to run. Measured alone (4
episodes each, deterministic, 1000-step limit): hopper stands for the whole episode (return
about 999; the zero action: 127-259); walker2d falls (74-101, like the zero action's 90-97:
as the paper reports for its LLM priors, a biped's gait is hard to write down); ant: see
docs/results.md. The gains were chosen among a handful of candidates by those returns, as
the paper's authors screen their LLM's candidates.

    envs.priors.PRIORS["hopper"](obs) -> float32[3] in [-1, 1]

Each is a PD controller on the joints towards a posture, plus a hip term that leans the
torso back upright (the hips are the only joints that move the torso relative to the legs).
Observation layouts are brax's (positions without the root's x (and y), then velocities):

    hopper   [z, torso angle, thigh, leg, foot, vx, vz, torso ang. vel., thigh', leg', foot']
    walker2d [z, torso angle, r thigh, r leg, r foot, l thigh, l leg, l foot, vx, vz, torso ang.
              vel., the six joint velocities]; actions: r thigh, leg, foot, l thigh, leg, foot
    ant      [z, torso quaternion (4), 8 joint angles, 6 root velocities, 8 joint velocities];
             actions: (hip, ankle) of the four legs
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class PostureController(NamedTuple):
    joint_pos: tuple  # observation indices of the actuated joints' angles
    joint_vel: tuple  # ... and of their velocities
    target: tuple  # the posture to hold (radians)
    kp: float
    kd: float
    torso_angle: int = -1  # index of the torso's pitch (-1: none)
    torso_vel: int = -1
    hip_weights: tuple = ()  # per joint: how much of the torso correction it applies
    torso_gain: float = 0.0

    def __call__(self, obs: jax.Array) -> jax.Array:
        q, qd = obs[np.asarray(self.joint_pos)], obs[np.asarray(self.joint_vel)]
        u = self.kp * (jnp.asarray(self.target, jnp.float32) - q) - self.kd * qd
        if self.torso_angle >= 0:
            lean = obs[self.torso_angle] + 0.1 * obs[self.torso_vel]
            u = u + self.torso_gain * lean * jnp.asarray(self.hip_weights, jnp.float32)
        return jnp.clip(u, -1.0, 1.0)


HOPPER = PostureController(
    joint_pos=(2, 3, 4), joint_vel=(8, 9, 10), target=(0.0, 0.0, 0.0), kp=2.0, kd=0.2,
    torso_angle=1, torso_vel=7, hip_weights=(1.0, 0.0, 0.0), torso_gain=-1.0)
WALKER2D = PostureController(
    joint_pos=(2, 3, 4, 5, 6, 7), joint_vel=(11, 12, 13, 14, 15, 16), target=(0.0,) * 6, kp=2.0, kd=0.2,
    torso_angle=1, torso_vel=10, hip_weights=(1.0, 0.0, 0.0, 1.0, 0.0, 0.0), torso_gain=-1.0)
# ant's actuators run hip_4, ankle_4, hip_1, ..., ankle_3 (brax's ant.xml); its joint angles
# in the observation run hip_1, ankle_1, ..., ankle_4. The posture is the model's init_qpos.
ANT = PostureController(
    joint_pos=(11, 12, 5, 6, 7, 8, 9, 10), joint_vel=(25, 26, 19, 20, 21, 22, 23, 24),
    target=(0.0, 1.0, 0.0, 1.0, 0.0, -1.0, 0.0, -1.0), kp=2.0, kd=0.2)

PRIORS: dict[str, Callable[[jax.Array], jax.Array]] = {"hopper": HOPPER, "walker2d": WALKER2D, "ant": ANT}
