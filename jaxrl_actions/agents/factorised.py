"""Factorised value agents for MultiDiscrete actions (e.g. `transform_actions(env,
discretize(k))` over a Box env):

- DecQN (Seyde et al. 2023, "Solving Continuous Control via Q-learning"): Q(s, a) is the
  mean of per-dimension utilities U_d(s, a_d); each dimension is maximised independently,
  so the greedy joint action costs D * K evaluations instead of K^D, and it is exactly the
  joint argmax of the decomposed Q.
- REValueD (Ireland & Montana 2024): an ensemble of E factorised critics sharing one target
  (per dimension the max of the ensemble-mean target utilities, as in the authors' code)
  plus a regulariser that holds each chosen utility U_d(s, a_d) near its target network's
  value, weighted by 1 - exp(-|y - U_d|) (`dqn.utility_regulariser`). The authors' public
  code has no regulariser yet, so this form follows the paper's description as we read it.

Both are configurations of the DQN code (`agents/dqn.py`), which is written for the
factorised layout; see there for the update. Masks apply per dimension (bool[sum(nvec)]).

    state = init(key, spec, DecQNConfig(...))       # spec.action_space: MultiDiscrete
    action = act(state, obs, mask, key)             # int32[D]
"""
from __future__ import annotations

from flax import struct

from jaxrl_actions.agents import dqn
from jaxrl_actions.agents.base import register
from jaxrl_actions.agents.base import Agent
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.spaces import MultiDiscrete


@struct.dataclass
class DecQNConfig(dqn.DQNConfig):
    """DecQN defaults: one critic, no regulariser, double-Q, Polyak targets, 3-step returns."""

    n_step: int = struct.field(pytree_node=False, default=3)
    lr: float = 1e-4
    eps_end: float = 0.1


@struct.dataclass
class REValueDConfig(dqn.DQNConfig):
    """REValueD defaults: an ensemble of 10 critics, targets from their mean (no double-Q
    selection), the utility regulariser, 3-step returns."""

    n_step: int = struct.field(pytree_node=False, default=3)
    num_critics: int = struct.field(pytree_node=False, default=10)
    double: bool = struct.field(pytree_node=False, default=False)
    regularise_utilities: bool = struct.field(pytree_node=False, default=True)
    lr: float = 1e-4
    eps_end: float = 0.1
    reg_weight: float = 0.5


def check_factorised_spec(spec: EnvSpec, agent: str) -> None:
    if not isinstance(spec.action_space, MultiDiscrete):
        raise ValueError(f"{agent} needs a MultiDiscrete action space (e.g. transform_actions(env, discretize(k))), "
                         f"got {spec.action_space!r}")


def init_decqn(key, spec: EnvSpec, config: dqn.DQNConfig) -> dqn.DQNState:
    check_factorised_spec(spec, "DecQN")
    return dqn.init(key, spec, config)


def init_revalued(key, spec: EnvSpec, config: dqn.DQNConfig) -> dqn.DQNState:
    check_factorised_spec(spec, "REValueD")
    return dqn.init(key, spec, config)


DECQN = Agent(
    name="decqn", family="off_policy", config_cls=DecQNConfig, init=init_decqn, act=dqn.act, update=dqn.update,
    check_config=dqn.check,
    description="DecQN: decoupled per-dimension Q-learning for MultiDiscrete (discretised Box) actions, masks",
)
REVALUED = Agent(
    name="revalued", family="off_policy", config_cls=REValueDConfig, init=init_revalued, act=dqn.act,
    update=dqn.update, check_config=dqn.check,
    description="REValueD: ensemble of DecQN critics with a regularised value decomposition (MultiDiscrete)",
)
register(DECQN)
register(REVALUED)
