"""Dynamic Neighbourhood Construction (DNC; Akkerman, Luy, van Heeswijk & Schiffer, ICLR 2024)
for huge MultiDiscrete action spaces, as the authors' code runs it
(tumBAIS/dynamicNeighborhoodConstruction, `Src/MappingFunctions/Dnc.py` on the online Q
actor-critic of `Src/RL_Algorithms/QAC_C2DMapping.py`).

The learner is the online Q actor-critic of `qac.py` (its docstring gives the update: one
SGD step per env step, no replay, no target networks, Fourier features, a linear Gaussian
actor on a continuous proxy, a critic on the scaled discrete action). DNC is its mapping:

    base  = the proxy clipped to [-1, 1], rescaled onto the grid and rounded (MinMax)
    search = simulated annealing over neighbourhoods of the base: every action moving one
             dimension by +-1..perturbation_range, scored with the base in one critic batch
             (`neighbourhood.simulated_annealing`); the best action seen is taken

Exploration is the Gaussian proxy sample (std 1 around a tanh mean, i.e. across most of the
grid) that the search starts from, plus the annealing's training-only moves. With the
authors' defaults (one annealing iteration) the search is one neighbourhood evaluation, and
the acceptance rule never fires (see `simulated_annealing`): the exploration that survives
the search is the proxy sample. `search_steps=0` is the MinMax baseline (`qac.MINMAX`).
"""
from __future__ import annotations

import jax
from flax import struct

from jaxrl_actions import neighbourhood as nb
from jaxrl_actions.agents.base import register, validate_config
from jaxrl_actions.agents.qac import QACConfig, check_config, make_agent


@struct.dataclass
class DNCConfig(QACConfig):
    """QACConfig (the learner) plus the search; defaults from `Src/parser.py` DNC_parameters."""

    search_steps: int = struct.field(pytree_node=False, default=1)  # --SA_search_steps 1 (0: MinMax)
    perturbation_range: int = struct.field(pytree_node=False, default=10)  # --perturbation_range 10 (perturb_scaler 1)
    cooling: float = struct.field(pytree_node=False, default=0.1)  # --cooling 0.1: pool size drops by max(int(0.1 k), 1)
    initial_acceptance: float = 0.9  # --initialAcceptance 0.9
    acceptance_cooling: float = 0.225  # --acceptanceCooling 0.225


def dnc_mapping(config: DNCConfig, nvec: tuple, q_fn, u, key, training: bool) -> jax.Array:
    """Base action from the proxy, then the authors' simulated annealing around it."""
    base = nb.minmax_base(u, nvec, config.a_clip)
    best, _ = nb.simulated_annealing(
        key, base, q_fn, nvec, search_steps=config.search_steps, perturbation_range=config.perturbation_range,
        cooling=config.cooling, initial_acceptance=config.initial_acceptance,
        acceptance_cooling=config.acceptance_cooling, training=training)
    return best


def check_dnc(config: DNCConfig) -> None:
    check_config(config)
    if int(config.search_steps) < 0:
        raise ValueError(f"DNCConfig.search_steps={config.search_steps!r} must be >= 0")
    if int(config.perturbation_range) < 1:
        raise ValueError(f"DNCConfig.perturbation_range={config.perturbation_range!r} must be >= 1")
    if not 0.0 <= float(config.cooling) <= 1.0:
        raise ValueError(f"DNCConfig.cooling={config.cooling!r} must be in [0, 1]")
    validate_config(config, {"initial_acceptance": lambda v: v >= 0, "acceptance_cooling": lambda v: v >= 0})


AGENT = make_agent("dnc", dnc_mapping, DNCConfig,
                   "Dynamic Neighbourhood Construction: online Q actor-critic + simulated annealing over "
                   "critic-scored neighbourhoods of the rounded proxy (MultiDiscrete)", check_dnc)
register(AGENT)
init, act, update, policy_step = AGENT.init, AGENT.act, AGENT.update, AGENT.policy_step
