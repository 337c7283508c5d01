"""AutoReset: the outermost per-env wrapper; starts a new episode when one ends.

After a step that ends an episode (`terminated | truncated`) the returned TimeStep mixes
two episodes on purpose:

    obs, action_mask               the first observation / mask of the NEW episode
    reward, terminated, truncated, info   the step that ended the OLD episode
    final_obs                      the last observation of the OLD episode (equal to `obs`
                                   when nothing ended), so learners bootstrap truncated
                                   episodes from it
    final_action_mask              the mask that goes with `final_obs` (None without masks)

All selections are `jnp.where` over the state / TimeStep pytrees (the reset is computed
every step and selected), so the wrapper is jit- and vmap-friendly. Under a VecEnv the
batch skips the resets' computation in steps where no episode ended (`step_batch`, same
numbers); for cheap envs such as CartPole the reset is a fifth of a PPO run's time.

State that must survive these resets (episode statistics) is wrapped in `KeepOnReset`
by the wrapper that owns it; AutoReset keeps the stepped value of such nodes wherever
they sit in the nested state.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl_actions.environment import Environment, Wrapper
from jaxrl_actions.types import PRNGKey, TimeStep


@struct.dataclass
class KeepOnReset:
    """A piece of wrapper state that AutoReset carries across episode boundaries."""

    value: Any


@struct.dataclass
class AutoResetState:
    env_state: Any
    # (state, TimeStep) of the first reset when `reuse_initial_state=True`, else None.
    initial: Any = None


def _is_keep(x: Any) -> bool:
    return isinstance(x, KeepOnReset)


def select_tree(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    """Leaf-wise `jnp.where(pred, on_true, on_false)` for two pytrees of equal structure
    (`pred` is a scalar per env; under vmap it is batched with the leaves)."""
    return jax.tree_util.tree_map(lambda t, f: jnp.where(pred, t, f), on_true, on_false)


def select_reset_state(done: jax.Array, reset_state: Any, stepped_state: Any) -> Any:
    """The state after reset where `done`, else the stepped state; `KeepOnReset` nodes
    always keep their stepped value."""

    def pick(reset_leaf, stepped_leaf):
        if _is_keep(stepped_leaf):
            return stepped_leaf
        return jnp.where(done, reset_leaf, stepped_leaf)

    return jax.tree_util.tree_map(pick, reset_state, stepped_state, is_leaf=_is_keep)


class AutoReset(Wrapper):
    """Resets the inner env with a fresh key when an episode ends (see module docstring).

    reuse_initial_state: reset to the state of the very first reset instead of calling
        the inner `reset` (cheap for heavy physics; every episode then starts the same).
    """

    def __init__(self, env: Environment, reuse_initial_state: bool = False):
        super().__init__(env)
        self.reuse_initial_state = bool(reuse_initial_state)

    def reset_env(self, key: PRNGKey, params: Any) -> tuple[AutoResetState, TimeStep]:
        env_state, ts = self.env.reset(key, params)
        ts = ts._replace(final_obs=ts.obs, final_action_mask=ts.action_mask)
        initial = (env_state, ts) if self.reuse_initial_state else None
        return AutoResetState(env_state, initial), ts

    def step_env(self, key, state: AutoResetState, action, params) -> tuple[AutoResetState, TimeStep]:
        step_key, reset_key = jax.random.split(key)
        env_state, ts = self.env.step(step_key, state.env_state, action, params)
        reset_state, reset_ts = self._reset(state, reset_key, params)
        return self._continue(state, env_state, ts, reset_state, reset_ts)

    def step_batch(self, keys, state: AutoResetState, action, params) -> tuple[AutoResetState, TimeStep]:
        """`vmap(step)` over a leading env axis, for VecEnv, with equal results: the inner
        resets are computed only when some episode ended (a batch-level `lax.cond`; inside
        an outer vmap, e.g. over seeds, both branches run, as in `step`)."""
        split = jax.vmap(jax.random.split)(keys)
        step_keys, reset_keys = split[:, 0], split[:, 1]
        env_state, ts = jax.vmap(self.env.step, in_axes=(0, 0, 0, None))(step_keys, state.env_state, action, params)

        def some_ended():
            reset_state, reset_ts = jax.vmap(self._reset, in_axes=(0, 0, None))(state, reset_keys, params)
            return jax.vmap(self._continue)(state, env_state, ts, reset_state, reset_ts)

        def none_ended():
            return state.replace(env_state=env_state), ts._replace(final_obs=ts.obs, final_action_mask=ts.action_mask)

        return jax.lax.cond(jnp.any(ts.done), some_ended, none_ended)

    def _reset(self, state: AutoResetState, key, params) -> tuple[Any, TimeStep]:
        """The state and TimeStep a finished episode continues from."""
        if self.reuse_initial_state:
            return state.initial
        return self.env.reset(key, params)

    def _continue(self, state: AutoResetState, env_state, ts: TimeStep, reset_state, reset_ts: TimeStep):
        """The stepped env where its episode goes on, the reset one where it ended."""
        done = ts.done
        out = ts._replace(
            obs=select_tree(done, reset_ts.obs, ts.obs),
            action_mask=select_tree(done, reset_ts.action_mask, ts.action_mask),
            final_obs=ts.obs,
            final_action_mask=ts.action_mask,
        )
        return state.replace(env_state=select_reset_state(done, reset_state, env_state)), out
