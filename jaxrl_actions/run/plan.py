"""Everything an invocation resolves to before anything compiles, and the run directory's
checks.

    options = RunOptions(seeds=4, sweep={"agent.lr": [1e-3, 3e-4]}, out="runs/x")
    plan = make_plan(experiment, options)      # trials, compile groups, chunks, config.json

`RunOptions` is the one record of how an invocation runs: the CLI builds it from its flags,
`config.json` stores it (as `invocation`), and resume and eval read it back from there.
"""
from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import math
import os
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from jaxrl_actions.logging import CONFIG_FILE, METRICS_FILE
from jaxrl_actions.run.experiment import (
    TOTAL_STEPS_KEY,
    Experiment,
    Trial,
    config_fields,
    config_to_dict,
    jsonable,
    load_experiment,
    normalise_settings,
    resolve_trials,
    typed_settings,
)
from jaxrl_actions.run.programs import Group, group_trials

CHECKPOINT_DIR = "checkpoints"
DEFAULT_CHUNKS = 20


class RunDirError(ValueError):
    """A run directory that cannot be written, resumed or evaluated (says what is wrong)."""


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How one invocation runs (the flags of `jaxrl-actions run`).

    seeds: a count (seeds 0..N-1) or the seed values; overrides {"agent.lr": 1e-3}; sweep
    {"agent.lr": [1e-3, 3e-4]} (grid = product; values may be strings as on the command
    line); chunks / log_every: updates between logs, checkpoints and progress (default 20
    chunks); checkpoint_every: in chunks (0: only at the end)."""

    seeds: Union[int, Sequence[int]] = 1
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    sweep: Mapping[str, Sequence[Any]] = dataclasses.field(default_factory=dict)
    total_steps: Optional[int] = None
    chunks: Optional[int] = None
    log_every: Optional[int] = None
    checkpoint_every: int = 1
    keep_checkpoints: int = 3
    out: Optional[str] = None
    tensorboard: bool = False
    quiet: bool = False
    plot: bool = True
    source: Optional[str] = None  # the experiment file, so resume and eval can reload it

    def __post_init__(self):  # None means "none given"; copies keep the record immutable
        object.__setattr__(self, "overrides", dict(self.overrides or {}))
        object.__setattr__(self, "sweep", {k: list(v) for k, v in (self.sweep or {}).items()})

    def check(self) -> None:
        """Host-side checks naming the bad flag and value."""
        seed_list(self.seeds)
        for name, low in (("chunks", 1), ("log_every", 1), ("total_steps", 1)):
            value = getattr(self, name)
            if value is not None and int(value) < low:
                raise ValueError(f"--{name.replace('_', '-')} must be >= {low}, got {value}")
        if int(self.checkpoint_every) < 0:
            raise ValueError(f"--checkpoint-every must be >= 0, got {self.checkpoint_every}")
        if int(self.keep_checkpoints) < 1:
            raise ValueError(f"--keep-checkpoints must be >= 1, got {self.keep_checkpoints}")

    def to_json(self) -> dict:
        return jsonable(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RunOptions":
        """Options recorded in a config.json (older run directories recorded a subset)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RunDirError(f"config.json's invocation has unknown fields {unknown}; known: {sorted(known)}")
        values = {k: v for k, v in data.items() if v is not None}  # None: the field's default
        if isinstance(values.get("seeds"), list):
            values["seeds"] = tuple(values["seeds"])
        return cls(**values)


@dataclasses.dataclass
class Plan:
    """An invocation resolved: trials, compile groups and chunk lengths, checked on the host."""

    experiment: Experiment
    options: RunOptions
    seeds: list[int]
    trials: list[Trial]
    groups: list[Group]
    chunk_updates: dict[int, list[int]]  # group index -> updates per chunk
    config: dict  # what config.json holds

    @property
    def fingerprint(self) -> str:
        return self.config["fingerprint"]


def seed_list(seeds: Union[int, Sequence[int]]) -> list[int]:
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {seeds}")
        return list(range(int(seeds)))
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got {seeds}")
    return seeds


def chunk_plan(num_updates: int, chunks: Optional[int], log_every: Optional[int]) -> list[int]:
    """Updates per chunk: `log_every` each (or num_updates / chunks, rounded up); a shorter
    last chunk takes the remainder (one more compile)."""
    if num_updates < 1:
        raise ValueError(f"the run has {num_updates} updates; raise total_steps")
    if log_every is not None:
        length = min(int(log_every), num_updates)
    else:
        chunks = DEFAULT_CHUNKS if chunks is None else int(chunks)
        length = math.ceil(num_updates / min(chunks, num_updates))
    plan = [length] * (num_updates // length)
    if num_updates % length:
        plan.append(num_updates % length)
    return plan


def fingerprint(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def plan_overrides(experiment: Experiment, options: RunOptions) -> dict:
    """--set values with --total-steps folded in (giving both for one key is an error)."""
    overrides = dict(options.overrides)
    if options.total_steps is not None:
        over, _ = normalise_settings(experiment, overrides, None)
        key, _ = normalise_settings(experiment, {TOTAL_STEPS_KEY: options.total_steps}, None)
        if set(key) & set(over):
            raise ValueError(f"{next(iter(key))} is both set (--set) and given as --total-steps; keep one")
        overrides[TOTAL_STEPS_KEY] = options.total_steps
    return overrides


def make_plan(experiment: Experiment, options: RunOptions) -> Plan:
    """Resolves and checks every setting (keys, value types, config checks); compiles nothing."""
    options.check()
    seeds = seed_list(options.seeds)
    overrides = plan_overrides(experiment, options)
    trials = resolve_trials(experiment, overrides, options.sweep)
    groups = group_trials(trials)
    chunks = {g.index: chunk_plan(g.num_updates, options.chunks, options.log_every) for g in groups}
    resolved = _resolved(experiment, seeds, trials, groups, chunks)
    canon_over, canon_grid = typed_settings(experiment, overrides, options.sweep)
    fields = config_fields(experiment.config)
    config = {
        **resolved,
        "description": experiment.description,
        "config_class": type(experiment.config).__name__,
        "static_fields": sorted(k for k, f in fields.items() if f.static),
        "numeric_fields": sorted(k for k, f in fields.items() if not f.static),
        "overrides": jsonable(canon_over),
        "sweep": jsonable(canon_grid),
        "invocation": options.to_json(),
        "fingerprint": fingerprint(resolved),
    }
    return Plan(experiment, options, seeds, trials, groups, chunks, config)


def _resolved(experiment: Experiment, seeds: list, trials: list, groups: list, chunks: dict) -> dict:
    """What the run computes (its fingerprint): experiment, seeds, trials and programs."""
    group_of = {t.index: g.index for g in groups for t in g.trials}
    return {
        "experiment": experiment.name,
        "env": groups[0].env.name,
        "agent": experiment.agent.name,
        "seeds": seeds,
        "trials": [
            {"trial": t.index, "hparams": t.hparams, "variant": t.variant, "group": group_of[t.index],
             "env_kwargs": jsonable(t.env_kwargs), "config": config_to_dict(t.config)}
            for t in trials
        ],
        "groups": [
            {"group": g.index, "env": g.env.name, "trials": [t.index for t in g.trials],
             "num_updates": g.num_updates, "steps_per_update": g.steps_per_update,
             "chunk_updates": chunks[g.index], "static": g.static}
            for g in groups
        ],
    }


_ABSENT = object()  # a key one side of a config comparison lacks


@dataclasses.dataclass(frozen=True)
class ConfigDifference:
    """One value that differs between a run directory's config.json and this invocation."""

    path: tuple  # dict keys and list indices from the config's root
    saved: Any  # _ABSENT where the run directory lacks the key
    now: Any  # _ABSENT where this invocation lacks it

    def __str__(self) -> str:
        where = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in self.path).lstrip(".")
        show = lambda v: "absent" if v is _ABSENT else repr(v)  # noqa: E731
        return f"{where}: {show(self.saved)} in the run directory, {show(self.now)} now"


def config_differences(saved: Any, now: Any, path: tuple = ()) -> list[ConfigDifference]:
    if isinstance(saved, dict) and isinstance(now, dict):
        return [d for k in sorted(set(saved) | set(now))
                for d in config_differences(saved.get(k, _ABSENT), now.get(k, _ABSENT), path + (k,))]
    if isinstance(saved, list) and isinstance(now, list) and len(saved) == len(now):
        return [d for i, (x, y) in enumerate(zip(saved, now)) for d in config_differences(x, y, path + (i,))]
    return [] if saved == now else [ConfigDifference(path, saved, now)]


def _agent_field(path: tuple) -> Optional[tuple]:
    """The agent-config field a config.json path names (trials[i].config.<field> or the
    compile group's static copy, groups[i].static.agent["agent.<field>"]), else None."""
    if len(path) >= 4 and path[0] == "trials" and path[2] == "config":
        return path[3:]
    if len(path) == 5 and path[0] == "groups" and path[2:4] == ("static", "agent") and path[4].startswith("agent."):
        return tuple(path[4][len("agent."):].split("."))
    return None


def _is_added_at_default(diff: ConfigDifference, defaults: dict) -> bool:
    """A config field the library gained after the run directory was made, set to its
    default here: the default is the behaviour the run had (new options are off by default)."""
    field = _agent_field(diff.path) if diff.saved is _ABSENT else None
    value: Any = defaults
    for key in field or ():
        if not isinstance(value, dict) or key not in value:
            return False
        value = value[key]
    return field is not None and value == diff.now


def check_run_dir(run_dir: str) -> dict:
    """The config.json of a run directory, or RunDirError saying what is missing."""
    if not os.path.isdir(run_dir):
        raise RunDirError(f"{run_dir} does not exist")
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        present = ", ".join(sorted(os.listdir(run_dir))) or "nothing"
        raise RunDirError(
            f"{run_dir} is not a run directory: {CONFIG_FILE} is missing (it holds {present}); "
            f"a run directory has {CONFIG_FILE}, {METRICS_FILE} and {CHECKPOINT_DIR}/"
        )
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise RunDirError(f"{path} is not valid JSON: {err}") from None


def saved_options(saved: Mapping[str, Any]) -> RunOptions:
    """The RunOptions a run directory's config.json recorded."""
    return RunOptions.from_json(saved.get("invocation") or {"seeds": saved.get("seeds", 1)})


def resumable_plan(run_dir: str, plan: Plan) -> Plan:
    """The plan to continue `run_dir` with, or a clear error listing what differs.

    A run directory made before a config field existed lacks it; the field at its default
    is the same computation, so such a run resumes, under its recorded fingerprint (which
    its checkpoints carry)."""
    saved = check_run_dir(run_dir)
    if saved.get("fingerprint") == plan.fingerprint:
        return plan
    keys = ("experiment", "env", "agent", "seeds", "trials", "groups")
    diffs = config_differences({k: saved.get(k) for k in keys}, {k: plan.config.get(k) for k in keys})
    defaults = config_to_dict(type(plan.experiment.config)())
    diffs = [d for d in diffs if not _is_added_at_default(d, defaults)]
    if not diffs:
        return dataclasses.replace(plan, config={**plan.config, "fingerprint": saved["fingerprint"]})
    shown = "\n  ".join(map(str, diffs[:12])) + (f"\n  ... and {len(diffs) - 12} more" if len(diffs) > 12 else "")
    raise RunDirError(f"cannot resume {run_dir}: its config differs from this invocation:\n  {shown}")


def default_out_dir(name: str) -> str:
    return os.path.join("runs", f"{name}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}")


def load_run_experiment(run_dir: str, saved: Optional[dict] = None) -> Experiment:
    """The experiment a run directory was made from (re-loaded from its recorded source)."""
    saved = saved or check_run_dir(run_dir)
    source = saved_options(saved).source
    if not source or not os.path.isfile(source):
        raise RunDirError(
            f"{run_dir}/{CONFIG_FILE} records experiment source {source!r}, which is not a file; "
            "pass the experiment explicitly (jaxrl-actions run EXP --resume DIR)"
        )
    experiment, _ = load_experiment(source)
    return experiment


def plan_of_run_dir(run_dir: str, experiment: Optional[Experiment] = None, **changes: Any) -> tuple[Experiment, Plan]:
    """(experiment, plan) of an existing run directory, checked against its config.json;
    `changes` replace recorded options that do not change the computation (quiet, ...)."""
    saved = check_run_dir(run_dir)
    if experiment is None:
        experiment = load_run_experiment(run_dir, saved)
    options = dataclasses.replace(saved_options(saved), out=run_dir, **changes)
    return experiment, resumable_plan(run_dir, make_plan(experiment, options))
