"""Randomized Ensembled Double Q-learning (Chen et al. 2021): SAC with an ensemble of N
critics, the minimum over a random subset of M of them in the target, a high
update-to-data ratio, and the actor trained on the ensemble mean once per `policy_delay`
critic steps. The update is SAC's (`agents/sac.py`); only the defaults differ.

    config = REDQConfig()     # N=10, M=2, utd=20, actor every 20 critic steps
"""
from __future__ import annotations

from typing import Sequence

from flax import struct

from jaxrl_actions.agents import sac
from jaxrl_actions.agents.base import register
from jaxrl_actions.agents.base import Agent


@struct.dataclass
class REDQConfig(sac.SACConfig):
    num_critics: int = struct.field(pytree_node=False, default=10)
    target_subset: int = struct.field(pytree_node=False, default=2)
    actor_q: str = struct.field(pytree_node=False, default="mean")
    utd: int = struct.field(pytree_node=False, default=20)
    policy_delay: int = struct.field(pytree_node=False, default=20)
    warmup_steps: int = struct.field(pytree_node=False, default=5_000)
    total_steps: int = struct.field(pytree_node=False, default=300_000)
    critic_hidden: Sequence[int] = struct.field(pytree_node=False, default=(256, 256))


AGENT = Agent(
    name="redq",
    family="off_policy",
    config_cls=REDQConfig,
    init=sac.init,
    act=sac.act,
    update=sac.update,
    check_config=sac.check,
    description="REDQ: SAC with N critics, min over a random M in the target, high update-to-data ratio",
)
register(AGENT)
