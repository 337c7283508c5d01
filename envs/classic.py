"""Classic control in pure JAX: CartPole (Gymnasium CartPole-v1, and a continuous-force
variant) and Pendulum (Pendulum-v1).

The dynamics constants are `EnvParams` leaves, so `vmap` over stacked params runs many
physical variants at once. Both envs count steps in their state and set `truncated` when the
count reaches `spec.max_episode_steps` (unless the step terminated). They never auto-reset
and return no action mask.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from flax import struct

import envs
from envs import time_limit_flags
from jaxrl_actions.environment import EnvParams, EnvSpec, Environment, scalar_timestep
from jaxrl_actions.spaces import Box, Discrete
from jaxrl_actions.types import Array


# ----------------------------------------------------------------------------- CartPole


@struct.dataclass
class CartPoleParams(EnvParams):
    gravity: float = 9.8
    masscart: float = 1.0
    masspole: float = 0.1
    length: float = 0.5  # half the pole's length
    force_mag: float = 10.0
    tau: float = 0.02  # seconds per step (explicit Euler)
    theta_threshold: float = 12 * 2 * math.pi / 360  # radians
    x_threshold: float = 2.4


@struct.dataclass
class CartPoleState:
    x: Array  # float32[]
    x_dot: Array  # float32[]
    theta: Array  # float32[]
    theta_dot: Array  # float32[]
    time: Array  # int32[] steps taken in this episode


def _cartpole_obs(s: CartPoleState) -> Array:
    return jnp.stack([s.x, s.x_dot, s.theta, s.theta_dot]).astype(jnp.float32)  # float32[4]


class CartPole(Environment):
    """Balance a pole on a cart (Gymnasium CartPole-v1 equations and constants).

    Observation: float32[4] = (cart position, cart velocity, pole angle [rad], pole angular
        velocity); the initial state is U(-0.05, 0.05) in every component.
    Action: Discrete(2): 0 pushes the cart left, 1 right, with `force_mag`; with
        `continuous=True`, Box(-1, 1, (1,)): the force is `force_mag` times the action
        (clipped to [-1, 1]), the same balancing task as MJX inverted_pendulum at a fraction
        of its compile time (the tests' cheap continuous learning check).
    Reward: +1 on every step, the terminating one included.
    Termination: |x| > x_threshold (2.4) or |theta| > theta_threshold (12 degrees).
    Truncation: after `max_steps` (500) steps.
    """

    def __init__(self, max_steps: int = 500, continuous: bool = False):
        self.max_steps = int(max_steps)
        self.continuous = bool(continuous)

    @property
    def spec(self) -> EnvSpec:
        p = CartPoleParams()
        high = [p.x_threshold * 2, math.inf, p.theta_threshold * 2, math.inf]
        actions = Box(-1.0, 1.0, (1,)) if self.continuous else Discrete(2)
        return EnvSpec(Box([-h for h in high], high), actions, self.max_steps)

    @property
    def default_params(self) -> CartPoleParams:
        return CartPoleParams()

    def reset_env(self, key, params):
        x, x_dot, theta, theta_dot = jax.random.uniform(key, (4,), jnp.float32, -0.05, 0.05)
        state = CartPoleState(x, x_dot, theta, theta_dot, jnp.int32(0))
        return state, scalar_timestep(_cartpole_obs(state), 0.0, False)

    def step_env(self, key, state, action, params):
        p = params
        if self.continuous:
            force = p.force_mag * jnp.clip(action[0], -1.0, 1.0)
        else:
            force = jnp.where(action == 1, p.force_mag, -p.force_mag)
        total_mass = p.masspole + p.masscart
        polemass_length = p.masspole * p.length
        cos, sin = jnp.cos(state.theta), jnp.sin(state.theta)
        temp = (force + polemass_length * state.theta_dot**2 * sin) / total_mass
        theta_acc = (p.gravity * sin - cos * temp) / (p.length * (4.0 / 3.0 - p.masspole * cos**2 / total_mass))
        x_acc = temp - polemass_length * theta_acc * cos / total_mass
        state = CartPoleState(
            x=(state.x + p.tau * state.x_dot).astype(jnp.float32),
            x_dot=(state.x_dot + p.tau * x_acc).astype(jnp.float32),
            theta=(state.theta + p.tau * state.theta_dot).astype(jnp.float32),
            theta_dot=(state.theta_dot + p.tau * theta_acc).astype(jnp.float32),
            time=state.time + 1,
        )
        fell = (jnp.abs(state.x) > p.x_threshold) | (jnp.abs(state.theta) > p.theta_threshold)
        terminated, truncated = time_limit_flags(state.time, fell, self.max_steps)
        return state, scalar_timestep(_cartpole_obs(state), 1.0, terminated, truncated)


# ----------------------------------------------------------------------------- Pendulum


@struct.dataclass
class PendulumParams(EnvParams):
    max_speed: float = 8.0
    max_torque: float = 2.0
    dt: float = 0.05
    g: float = 10.0
    m: float = 1.0
    l: float = 1.0  # noqa: E741 (the physics symbol)


@struct.dataclass
class PendulumState:
    theta: Array  # float32[] angle, 0 = upright
    theta_dot: Array  # float32[]
    time: Array  # int32[]


def angle_normalize(x: Array) -> Array:
    """Wraps an angle to [-pi, pi)."""
    return ((x + jnp.pi) % (2 * jnp.pi)) - jnp.pi


def _pendulum_obs(s: PendulumState) -> Array:
    return jnp.stack([jnp.cos(s.theta), jnp.sin(s.theta), s.theta_dot]).astype(jnp.float32)  # float32[3]


class Pendulum(Environment):
    """Swing a pendulum up and hold it upright (Gymnasium Pendulum-v1 equations and constants).

    Observation: float32[3] = (cos theta, sin theta, theta_dot), theta_dot in [-8, 8];
        the initial state is theta ~ U(-pi, pi), theta_dot ~ U(-1, 1).
    Action: Box(-2, 2, (1,)): the torque (clipped to [-max_torque, max_torque]).
    Reward: -(angle_normalize(theta)^2 + 0.1 theta_dot^2 + 0.001 torque^2), from the state
        before the step.
    Termination: never. Truncation: after `max_steps` (200) steps.
    """

    def __init__(self, max_steps: int = 200):
        self.max_steps = int(max_steps)

    @property
    def spec(self) -> EnvSpec:
        p = PendulumParams()
        obs_high = [1.0, 1.0, p.max_speed]
        obs_space = Box([-h for h in obs_high], obs_high)
        return EnvSpec(obs_space, Box(-p.max_torque, p.max_torque, (1,)), self.max_steps)

    @property
    def default_params(self) -> PendulumParams:
        return PendulumParams()

    def reset_env(self, key, params):
        high = jnp.array([jnp.pi, 1.0], jnp.float32)
        theta, theta_dot = jax.random.uniform(key, (2,), jnp.float32, -high, high)
        state = PendulumState(theta, theta_dot, jnp.int32(0))
        return state, scalar_timestep(_pendulum_obs(state), 0.0, False)

    def step_env(self, key, state, action, params):
        p = params
        u = jnp.clip(action[0], -p.max_torque, p.max_torque)
        th, thdot = state.theta, state.theta_dot
        cost = angle_normalize(th) ** 2 + 0.1 * thdot**2 + 0.001 * u**2
        new_thdot = thdot + (3 * p.g / (2 * p.l) * jnp.sin(th) + 3.0 / (p.m * p.l**2) * u) * p.dt
        new_thdot = jnp.clip(new_thdot, -p.max_speed, p.max_speed)
        new_th = th + new_thdot * p.dt
        state = PendulumState(new_th.astype(jnp.float32), new_thdot.astype(jnp.float32), state.time + 1)
        terminated, truncated = time_limit_flags(state.time, False, self.max_steps)
        return state, scalar_timestep(_pendulum_obs(state), -cost, terminated, truncated)


envs.register("cartpole", CartPole, "Balance a pole on a cart (Gymnasium CartPole-v1), Discrete(2)")
envs.register("cartpole_continuous", functools.partial(CartPole, continuous=True),
              "CartPole with a continuous force, Box(-1, 1, (1,)) (force_mag x action)")
envs.register("pendulum", Pendulum, "Swing up a pendulum (Gymnasium Pendulum-v1), Box(-2, 2, (1,))")
