"""Seeds x hyper-parameter grids as one compiled program per group of structurally equal
trials, sharded over devices.

Trials whose configs differ only in numeric pytree leaves (lr, gamma, clip...) share one
program: their configs are stacked, repeated over seeds, and `jax.vmap`-ed together with
the keys along one flat *run* axis (run r = trial * num_seeds + seed_index). A change of a
static value (hidden sizes, num_envs, an env kwarg, a variant's env stack) changes the
program, so `group_trials` splits the trials into compile groups and says why.

    runs   = trials_in_group * seeds                     keys: uint32[R, 2], configs: [R] leaves
    padded = ceil(R / devices) * devices                 (the last run repeated; dropped after)
    mesh   = Mesh(jax.devices(), ("runs",))             NamedSharding(mesh, P("runs"))
    init   = jit(vmap(lambda key, cfg: make_trainer(env, agent, cfg).init(key)))
    chunk  = jit(vmap(lambda carry, cfg: run_chunk(make_trainer(env, agent, cfg), carry, K)))

Every run of a seed uses the same key in every trial (paired comparisons across trials).
The same code runs across processes (`processes.initialize`, the CLI's `--coordinator`):
`jax.devices()` (the default mesh) then spans every process's devices, every process
builds the same keys and configs and places only its own shards (`processes.to_global`),
the runner gathers metrics with `multihost_utils.process_allgather`, orbax writes the
checkpoint collectively and process 0 alone writes the run directory's files
(tests/test_multiprocess.py runs 2 processes on localhost).
"""
from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxrl_actions.processes import to_global
from jaxrl_actions.run.experiment import Experiment, Trial, config_fields
from jaxrl_actions.training import make_trainer as make_family_trainer
from jaxrl_actions.training.common import RUN_AXIS, Trainer, run_chunk


def resolve_make_trainer(exp: Experiment) -> Callable:
    """The experiment's own loop, else the loop of the agent's family (`training.FAMILIES`)."""
    return exp.make_trainer if exp.make_trainer is not None else make_family_trainer


@dataclasses.dataclass
class Group:
    """Trials that share one compiled program."""

    index: int
    trials: list  # [Trial]
    env: Any
    agent: Any
    make_trainer: Callable
    trainer: Trainer  # built from the first trial's concrete config (static facts only)
    static: dict  # the static settings that define the group

    @property
    def num_updates(self) -> int:
        return self.trainer.num_updates

    @property
    def steps_per_update(self) -> int:
        return self.trainer.steps_per_update

    def trainer_for(self, config: Any) -> Trainer:
        return self.make_trainer(self.env, self.agent, config)


def static_settings(trial: Trial) -> dict:
    """What makes a program: the variant, env kwargs and static config fields."""
    statics = {k: f.default for k, f in config_fields(trial.config).items() if f.static}
    return json.loads(json.dumps({"variant": trial.variant, "env": trial.env_kwargs, "agent": statics}, default=repr))


def group_trials(trials: Sequence[Trial]) -> list[Group]:
    """Splits trials into compile groups and builds each group's env and (host-side) trainer.

    Building a trainer from every trial's concrete config also runs the loop's host-side
    config checks for every grid point before anything is stacked or compiled."""
    by_static: dict[str, list[Trial]] = {}
    for trial in trials:
        by_static.setdefault(json.dumps(static_settings(trial), sort_keys=True), []).append(trial)
    groups = []
    for key, members in by_static.items():
        exp = members[0].experiment
        env = exp.make_env(**members[0].env_kwargs)
        make_trainer = resolve_make_trainer(exp)
        trainers = [make_trainer(env, exp.agent, t.config) for t in members]
        groups.append(Group(len(groups), list(members), env, exp.agent, make_trainer, trainers[0], json.loads(key)))
    return groups


def describe_groups(groups: Sequence[Group], num_seeds: int) -> str:
    """One line per group; says which static settings split them."""
    lines = [
        f"{sum(len(g.trials) for g in groups)} trial(s) x {num_seeds} seed(s) in {len(groups)} program group(s)"
        " (each compiles its init and one chunk function per chunk length)"
    ]
    if len(groups) > 1:
        differing = _differing_keys([g.static for g in groups])
        lines[0] += f"; static settings differ: {', '.join(differing)}"
    for g in groups:
        lines.append(
            f"  program {g.index}: {len(g.trials)} trial(s) x {num_seeds} seed(s) = {len(g.trials) * num_seeds} runs, "
            f"{g.num_updates} updates x {g.steps_per_update} env steps"
        )
    return "\n".join(lines)


def _differing_keys(dicts: Sequence[dict], prefix: str = "") -> list[str]:
    keys = sorted(set().union(*(d.keys() for d in dicts)))
    out = []
    for k in keys:
        values = [d.get(k) for d in dicts]
        if all(isinstance(v, dict) for v in values):
            out += _differing_keys(values, f"{prefix}{k}.")
        elif any(json.dumps(v, sort_keys=True) != json.dumps(values[0], sort_keys=True) for v in values):
            out.append(f"{prefix}{k}")
    return out


# ---------------------------------------------------------------------------------------
# The flat run axis


def run_keys(seeds: Sequence[int], num_trials: int) -> jax.Array:
    """uint32[trials * seeds, 2]: run r = trial * len(seeds) + i uses PRNGKey(seeds[i])."""
    keys = jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds])
    return jnp.tile(keys, (num_trials, 1))


def stack_configs(configs: Sequence[Any], num_seeds: int) -> Any:
    """Configs (equal static fields) stacked along the run axis, each repeated per seed.
    Numeric leaves become arrays [trials * seeds]."""
    repeated = [c for c in configs for _ in range(num_seeds)]
    return jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *repeated)


def run_mesh(devices: Optional[Sequence[Any]] = None) -> Mesh:
    devices = list(devices) if devices is not None else jax.devices()
    return Mesh(np.asarray(devices), (RUN_AXIS,))


def run_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(RUN_AXIS))


def padded_size(num_runs: int, num_devices: int) -> int:
    return -(-num_runs // num_devices) * num_devices


def pad_runs(tree: Any, size: int) -> Any:
    """Repeats the last run until the run axis has `size` entries (valid inputs, no NaNs)."""

    def pad(x):
        extra = size - x.shape[0]
        return x if extra == 0 else jnp.concatenate([x, jnp.repeat(x[-1:], extra, axis=0)])

    return jax.tree.map(pad, tree)


def unpad_runs(tree: Any, num_runs: int) -> Any:
    return jax.tree.map(lambda x: x[:num_runs], tree)


def shard_runs(tree: Any, mesh: Mesh) -> Any:
    return to_global(tree, run_sharding(mesh))


# ---------------------------------------------------------------------------------------
# Programs


def timed_compile(fn: Any, *args: Any) -> tuple[Any, float]:
    """AOT: (compiled, seconds spent lowering and compiling)."""
    start = time.perf_counter()
    compiled = fn.lower(*args).compile()
    return compiled, time.perf_counter() - start


@dataclasses.dataclass
class GroupProgram:
    """One group's runs on the device mesh: stacked keys/configs and compiled functions."""

    group: Group
    seeds: list
    mesh: Mesh
    keys: Any  # uint32[P, 2], sharded
    configs: Any  # config pytree with leaves [P], sharded
    num_runs: int
    compile_s: float = 0.0
    compiles: int = 0
    _chunks: dict = dataclasses.field(default_factory=dict)
    _init: Any = None

    @classmethod
    def build(cls, group: Group, seeds: Sequence[int], devices: Optional[Sequence[Any]] = None,
              size: Optional[int] = None) -> "GroupProgram":
        """size: the padded run axis (default: runs rounded up to a multiple of the devices);
        eval restores a checkpoint padded for another device count with it."""
        mesh = run_mesh(devices)
        num_runs = len(group.trials) * len(seeds)
        size = padded_size(num_runs, mesh.size) if size is None else int(size)
        if size < num_runs or size % mesh.size:
            raise ValueError(f"a run axis of {size} cannot hold {num_runs} runs on {mesh.size} device(s)")
        keys = shard_runs(pad_runs(run_keys(seeds, len(group.trials)), size), mesh)
        configs = shard_runs(pad_runs(stack_configs([t.config for t in group.trials], len(seeds)), size), mesh)
        return cls(group, list(seeds), mesh, keys, configs, num_runs)

    @property
    def sharding(self) -> NamedSharding:
        return run_sharding(self.mesh)

    def _vmapped_init(self) -> Callable:
        group = self.group
        return jax.vmap(lambda key, config: group.trainer_for(config).init(key), axis_name=RUN_AXIS)

    def init(self) -> Any:
        """The initial carry of every run (compiled once; counted in compile_s)."""
        if self._init is None:
            fn = jax.jit(self._vmapped_init(), out_shardings=self.sharding)
            self._init, seconds = timed_compile(fn, self.keys, self.configs)
            self.compile_s += seconds
            self.compiles += 1
        return self._init(self.keys, self.configs)

    def abstract_carry(self) -> Any:
        """Shapes, dtypes and shardings of the carry, without running or compiling init."""
        shapes = jax.eval_shape(self._vmapped_init(), self.keys, self.configs)
        return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=self.sharding), shapes)

    def chunk(self, carry: Any, length: int) -> tuple[Any, Any]:
        """`length` updates of every run: (carry, metrics with leaves [P, length])."""
        if length not in self._chunks:
            group = self.group

            def one(carry, config):
                return run_chunk(group.trainer_for(config), carry, length)

            # axis_name: the loops' conds on the shared step stay conds (common.shared_across_runs)
            fn = jax.jit(jax.vmap(one, axis_name=RUN_AXIS), donate_argnums=0, out_shardings=self.sharding)
            self._chunks[length], seconds = timed_compile(fn, carry, self.configs)
            self.compile_s += seconds
            self.compiles += 1
        return self._chunks[length](carry, self.configs)

    def run_index(self, trial_pos: int, seed_pos: int) -> int:
        return trial_pos * len(self.seeds) + seed_pos

