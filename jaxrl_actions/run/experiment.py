"""What an experiment file defines, and how command-line settings become trials.

An experiment file (`experiments/x.py`) builds one `Experiment`; `cli.main_for` gives it the
command line of `jaxrl-actions run`:

    EXPERIMENT = Experiment(
        name="ppo_cartpole",
        description="PPO on CartPole",
        make_env=lambda **env_kwargs: envs.make("cartpole", **env_kwargs),
        agent=ppo.AGENT,
        config=ppo.PPOConfig(total_steps=100_000),
        env_kwargs={},
        variants=None,            # or {"masked": {...overrides...}, "penalty": lambda exp: ...}
    )
    if __name__ == "__main__":
        raise SystemExit(main_for(EXPERIMENT))  # `python experiments/x.py --seeds 4`
                                                # == `jaxrl-actions run x --seeds 4`

Settings are addressed by dotted keys: `agent.<field>` (nested config dataclasses as
`agent.<field>.<sub>`), `env.<kwarg>` (the keys of `env_kwargs`), `variant` (one of
`variants`) and the shorthand `total_steps`; a bare config field name means `agent.<field>`.
`resolve_trials` turns overrides (`--set`) and a grid (`--sweep`, the product of the value
lists) into `Trial`s — each a concrete config, env kwargs and the hyper-parameters that name
it — checking every key and value on the host, before anything compiles.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib.util
import itertools
import os
import sys
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np

from jaxrl_actions.agents.base import Agent

# A variant either lists overrides (`{"env.penalty": -1.0}`) or rewrites the experiment
# (`lambda exp: dataclasses.replace(exp, make_env=make_penalised_env)`), e.g. to build a
# different env stack.
VariantSpec = Union[Mapping[str, Any], Callable[["Experiment"], "Experiment"]]

VARIANT_KEY = "variant"
TOTAL_STEPS_KEY = "total_steps"


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    make_env: Callable[..., Any]  # make_env(**env_kwargs) -> unbatched Environment
    agent: Agent
    config: Any  # the agent's XConfig instance (frozen flax struct dataclass)
    env_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    variants: Optional[Mapping[str, VariantSpec]] = None
    # The training loop: make_trainer(env, agent, config) -> Trainer. None picks the loop
    # of the agent's family (`jaxrl_actions.training.FAMILIES`).
    make_trainer: Optional[Callable] = None
    # Reference policies evaluated after training next to the trained one (name ->
    # make_policy(env) -> act(obs, mask, key)); results in summary.json["references"]
    # (`jaxrl_actions.run.references`).
    references: Optional[Mapping[str, Callable]] = None

    def with_variant(self, name: str) -> "Experiment":
        """The experiment a variant describes (overrides applied, or the callable's result)."""
        spec = _variant_spec(self, name)
        if callable(spec):
            exp = spec(self)
            if not isinstance(exp, Experiment):
                raise ValueError(f"variant {name!r} of {self.name!r} must return an Experiment, got {type(exp).__name__}")
            return dataclasses.replace(exp, variants=None)
        exp = dataclasses.replace(self, variants=None)
        config, env_kwargs = apply_overrides(exp, dict(spec))
        return dataclasses.replace(exp, config=config, env_kwargs=env_kwargs)



def _variant_spec(exp: Experiment, name: str) -> VariantSpec:
    if not exp.variants or name not in exp.variants:
        known = sorted(exp.variants or {})
        raise KeyError(f"unknown variant {name!r} of experiment {exp.name!r}; known variants: {known or 'none'}")
    return exp.variants[name]


# ---------------------------------------------------------------------------------------
# Config fields and typed values


class Field(NamedTuple):
    key: str  # dotted, e.g. "agent.lr"
    default: Any
    static: bool  # structural: a change needs its own compile
    kind: str  # "bool" | "int" | "float" | "str" | "tuple" | "any"


def _kind_of(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (tuple, list)):
        return "tuple"
    if hasattr(value, "dtype") and np.ndim(value) == 0:  # a jax/numpy scalar leaf
        dtype = np.dtype(value.dtype)
        return "bool" if dtype == np.bool_ else "int" if np.issubdtype(dtype, np.integer) else "float"
    return "any"


def config_fields(config: Any, prefix: str = "agent") -> dict[str, Field]:
    """Every settable field of a config dataclass, nested ones flattened as dotted keys."""
    out: dict[str, Field] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        key = f"{prefix}.{f.name}"
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out.update(config_fields(value, key))
        else:
            static = not f.metadata.get("pytree_node", True)
            out[key] = Field(key, value, static, _kind_of(value))
    return out


def experiment_fields(exp: Experiment) -> dict[str, Field]:
    """All keys `--set`/`--sweep` accept for this experiment (variants aside)."""
    fields = config_fields(exp.config)
    for name, value in exp.env_kwargs.items():
        fields[f"env.{name}"] = Field(f"env.{name}", value, True, _kind_of(value))
    return fields


def canonical_key(exp: Experiment, key: str, fields: Mapping[str, Field]) -> str:
    """Resolves shorthands (`total_steps`, a bare config field) to a dotted key, or raises a
    KeyError listing the valid keys."""
    key = key.strip()
    if key == VARIANT_KEY:
        if not exp.variants:
            raise KeyError(f"experiment {exp.name!r} has no variants; valid keys: {', '.join(sorted(fields))}")
        return key
    if key in fields:
        return key
    if f"agent.{key}" in fields:
        return f"agent.{key}"
    if key == TOTAL_STEPS_KEY:
        raise KeyError(f"{type(exp.config).__name__} has no field 'total_steps'; valid keys: {', '.join(sorted(fields))}")
    import difflib

    valid = sorted(fields) + ([VARIANT_KEY] if exp.variants else [])
    close = difflib.get_close_matches(key, valid, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
    raise KeyError(f"unknown setting {key!r} for experiment {exp.name!r}{hint}; valid keys: {', '.join(valid)}")


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def coerce_value(key: str, kind: str, default: Any, value: Any) -> Any:
    """`value` (a command-line string or a Python value) as the type `kind`, or a
    ValueError naming the key and the expected type."""

    def bad(why: str = "") -> ValueError:
        return ValueError(f"{key} expects {kind}, got {value!r}{why}")

    if isinstance(value, str) and kind != "str":
        text = value.strip()
        if kind == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise bad(" (use true/false)")
        if kind in ("int", "float"):
            try:
                number = float(text.replace("_", ""))
            except ValueError:
                raise bad() from None
            if kind == "float":
                return number
            try:
                return int(text.replace("_", ""))
            except ValueError:
                if number.is_integer():  # 1e6 for a count
                    return int(number)
                raise bad() from None
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            if kind == "any":
                return text
            raise bad(" (write a tuple as (64, 64))") from None
    if kind == "any":
        return value
    if kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise bad()
    if kind == "int":
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise bad()
    if kind == "float":
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
            return float(value)
        raise bad()
    if kind == "str":
        if isinstance(value, str):
            return value
        raise bad()
    if kind == "tuple":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = (value,)
        if not isinstance(value, (tuple, list)):
            raise bad(" (write a tuple as (64, 64))")
        items = tuple(value)
        if default:  # elements follow the default's element type
            elem = _kind_of(default[0])
            items = tuple(coerce_value(f"{key}[{i}]", elem, None, v) for i, v in enumerate(items))
        return items
    raise bad()


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Splits on `sep` outside brackets, so `--sweep agent.hidden=(64,64),(128,)` works."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def parse_assignment(text: str) -> tuple[str, str]:
    """`key=value` -> (key, value)."""
    if "=" not in text:
        raise ValueError(f"expected key=value, got {text!r}")
    key, value = text.split("=", 1)
    if not key.strip():
        raise ValueError(f"expected key=value, got {text!r}")
    return key.strip(), value.strip()


def parse_sweep(text: str) -> tuple[str, list[str]]:
    """`key=v1,v2,...` -> (key, [v1, v2, ...])."""
    key, values = parse_assignment(text)
    items = [v for v in split_top_level(values) if v != ""]
    if not items:
        raise ValueError(f"--sweep {key} lists no values")
    return key, items


# ---------------------------------------------------------------------------------------
# Applying settings


def _replace_nested(config: Any, path: Sequence[str], value: Any) -> Any:
    head, *rest = path
    if rest:
        value = _replace_nested(getattr(config, head), rest, value)
    return dataclasses.replace(config, **{head: value})


def apply_overrides(exp: Experiment, overrides: Mapping[str, Any]) -> tuple[Any, dict]:
    """(config, env_kwargs) with `overrides` (dotted keys, typed or string values) applied."""
    fields = experiment_fields(exp)
    config, env_kwargs = exp.config, dict(exp.env_kwargs)
    for raw_key, raw_value in overrides.items():
        key = canonical_key(exp, raw_key, fields)
        if key == VARIANT_KEY:
            raise KeyError("'variant' selects a trial; it cannot be overridden inside a variant")
        field = fields[key]
        value = coerce_value(key, field.kind, field.default, raw_value)
        scope, *path = key.split(".")
        if scope == "agent":
            config = _replace_nested(config, path, value)
        else:
            env_kwargs[path[0]] = value
    return config, env_kwargs


class Trial(NamedTuple):
    index: int
    hparams: dict  # what names this trial: swept keys (and the variant) -> values
    variant: Optional[str]
    experiment: Experiment  # the variant's experiment with overrides applied
    config: Any  # concrete agent config
    env_kwargs: dict


def _all_fields(exp: Experiment) -> tuple[dict, dict]:
    """(the experiment's fields, those plus the keys that exist only in a variant)."""
    fields = experiment_fields(exp)
    variant_fields = dict(fields)
    for name in exp.variants or {}:
        variant_fields.update({k: f for k, f in experiment_fields(exp.with_variant(name)).items() if k not in fields})
    return fields, variant_fields


def typed_settings(
    exp: Experiment, overrides: Optional[Mapping[str, Any]], sweep: Optional[Mapping[str, Sequence[Any]]]
) -> tuple[dict, dict]:
    """`normalise_settings` with every value coerced to its field's type (for config.json)."""
    over, grid = normalise_settings(exp, overrides, sweep)
    _, fields = _all_fields(exp)

    def typed(key, value):
        if key == VARIANT_KEY:
            return str(value)
        return jsonable(coerce_value(key, fields[key].kind, fields[key].default, value))

    return {k: typed(k, v) for k, v in over.items()}, {k: [typed(k, v) for v in vs] for k, vs in grid.items()}


def normalise_settings(
    exp: Experiment, overrides: Optional[Mapping[str, Any]], sweep: Optional[Mapping[str, Sequence[Any]]]
) -> tuple[dict, dict]:
    """Canonical keys for overrides and the sweep grid; unknown keys raise (listing valid ones)."""
    fields, variant_fields = _all_fields(exp)

    def canon(key: str) -> str:
        try:
            return canonical_key(exp, key, fields)
        except KeyError:
            if exp.variants:
                return canonical_key(exp, key, variant_fields)
            raise

    over = {canon(k): v for k, v in (overrides or {}).items()}
    grid: dict[str, list] = {}
    for key, values in (sweep or {}).items():
        ckey = canon(key)
        if ckey in over:
            raise ValueError(f"{ckey} is both set and swept")
        values = list(values)
        if not values:
            raise ValueError(f"--sweep {ckey} lists no values")
        grid[ckey] = values
    return over, grid


def resolve_trials(
    exp: Experiment,
    overrides: Optional[Mapping[str, Any]] = None,
    sweep: Optional[Mapping[str, Sequence[Any]]] = None,
) -> list[Trial]:
    """The trials of an invocation: variants (all, unless `variant` is set or swept) times
    the product of the sweep's value lists, each with `overrides` applied. Every key and
    value is checked here, on the host."""
    over, grid = normalise_settings(exp, overrides, sweep)
    if exp.variants:
        chosen = over.pop(VARIANT_KEY, None)
        if VARIANT_KEY in grid:
            names = [str(v) for v in grid.pop(VARIANT_KEY)]
        else:
            names = [str(chosen)] if chosen is not None else list(exp.variants)
        for name in names:
            _variant_spec(exp, name)  # unknown names fail here
    else:
        names = [None]
    keys = list(grid)
    trials = []
    for variant in names:
        base = exp.with_variant(variant) if variant is not None else exp
        for combo in itertools.product(*(grid[k] for k in keys)):
            point = dict(zip(keys, combo))
            config, env_kwargs = apply_overrides(base, {**over, **point})
            fields = experiment_fields(base)
            hparams = {k: jsonable(coerce_value(k, fields[k].kind, fields[k].default, v)) for k, v in point.items()}
            if variant is not None:
                hparams = {VARIANT_KEY: variant, **hparams}
            trial_exp = dataclasses.replace(base, config=config, env_kwargs=env_kwargs)
            trials.append(Trial(len(trials), hparams, variant, trial_exp, config, env_kwargs))
    return trials


# ---------------------------------------------------------------------------------------
# JSON views and loading experiment files


def jsonable(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        return jsonable(np.asarray(value).tolist())
    if value is None or isinstance(value, str):
        return value
    return repr(value)


def config_to_dict(config: Any) -> dict:
    """A config dataclass as plain JSON data (nested dataclasses as dicts)."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        out[f.name] = config_to_dict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else jsonable(value)
    return out


def experiments_dir(cwd: Optional[str] = None) -> str:
    return os.path.join(cwd or os.getcwd(), "experiments")


def load_experiment(spec: str, cwd: Optional[str] = None) -> tuple[Experiment, str]:
    """(EXPERIMENT, file path) from a file path or a name under ./experiments."""
    path = spec if spec.endswith(".py") or os.sep in spec else os.path.join(experiments_dir(cwd), f"{spec}.py")
    if not os.path.isfile(path):
        known = [n for n, _ in list_experiment_files(cwd)]
        raise FileNotFoundError(
            f"no experiment {spec!r}: {path} does not exist; experiments here: {', '.join(known) or 'none'}"
        )
    path = os.path.abspath(path)
    root = os.path.dirname(os.path.dirname(path))  # the project holding experiments/ (for `import envs`)
    for entry in (root, os.getcwd()):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    module_name = f"_jaxrl_experiment_{os.path.splitext(os.path.basename(path))[0]}"
    if module_name in sys.modules and getattr(sys.modules[module_name], "__file__", None) == path:
        module = sys.modules[module_name]
    else:
        spec_ = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec_)
        sys.modules[module_name] = module
        spec_.loader.exec_module(module)
    exp = getattr(module, "EXPERIMENT", None)
    if not isinstance(exp, Experiment):
        raise ValueError(f"{path} defines no EXPERIMENT = Experiment(...)")
    return exp, path


def list_experiment_files(cwd: Optional[str] = None) -> list[tuple[str, str]]:
    """(name, path) of every experiment file under ./experiments."""
    folder = experiments_dir(cwd)
    if not os.path.isdir(folder):
        return []
    return [
        (name[:-3], os.path.join(folder, name))
        for name in sorted(os.listdir(folder))
        if name.endswith(".py") and not name.startswith("_")
    ]
