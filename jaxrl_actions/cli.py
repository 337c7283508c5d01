"""`jaxrl-actions`: run, list, eval and plot experiments.

    jaxrl-actions run EXP [--seeds N] [--set key=value]... [--sweep key=v1,v2]... [--out DIR]
    jaxrl-actions run --resume DIR                 continue an interrupted run
    jaxrl-actions run EXP --out DIR --coordinator HOST:PORT --num-processes N --process-id I
                                                   one of N processes (same command in each)
    jaxrl-actions run EXP --help                   the experiment's settings and defaults
    jaxrl-actions list                             envs, agents, experiments under ./experiments
    jaxrl-actions eval DIR [--episodes N] [--deterministic]
    jaxrl-actions plot DIR [DIR ...] [-o PNG]     default PNG: the first DIR's curves.png
    jaxrl-actions report DIR [DIR ...] --published FILE -o docs/results.md [--section NAME] [--plots DIR]

EXP is a file path or a name under ./experiments. An experiment file ending in
`main_for(EXPERIMENT)` takes the same flags: `python experiments/x.py --seeds 4`.
Settings are checked (keys, value types) before anything compiles; errors exit with code 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional, Sequence

from jaxrl_actions.run.experiment import (
    VARIANT_KEY,
    Experiment,
    experiment_fields,
    list_experiment_files,
    load_experiment,
    parse_assignment,
    parse_sweep,
)
from jaxrl_actions.run.plan import RunOptions


class UsageError(ValueError):
    pass


def _count(text: str) -> int:
    """Counts like 1e6 or 1_000_000."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not value.is_integer() or value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(value)


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-h", "--help", action="store_true", help="show this help and the experiment's settings")
    parser.add_argument("--seeds", type=_count, default=None, help="number of seeds, vmapped (default 1)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting: agent.lr=3e-4, env.size=8, total_steps=1e6 (repeatable)")
    parser.add_argument("--sweep", dest="sweeps", action="append", default=[], metavar="KEY=V1,V2",
                        help="grid over values (repeatable; the grid is the product)")
    parser.add_argument("--total-steps", type=_count, default=None, help="shorthand for --set total_steps=N")
    parser.add_argument("--out", default=None, help="run directory (default runs/<experiment>-<timestamp>)")
    parser.add_argument("--resume", default=None, metavar="DIR", help="continue the interrupted run in DIR")
    parser.add_argument("--chunks", type=_count, default=None, help="log/checkpoint points per run (default 20)")
    parser.add_argument("--log-every", type=_count, default=None, help="updates per chunk (overrides --chunks)")
    parser.add_argument("--checkpoint-every", type=_count, default=1, help="chunks between checkpoints (0: end only)")
    parser.add_argument("--keep-checkpoints", type=_count, default=3, help="checkpoints kept per program")
    parser.add_argument("--tensorboard", action="store_true", help="also write tensorboard events to DIR/tb")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument("--no-plot", action="store_true", help="skip curves.png")
    many = parser.add_argument_group("many processes (run the same command in each; see README 'Many machines')")
    many.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                      help="address of process 0 (default: $JAX_COORDINATOR_ADDRESS or the cluster's)")
    many.add_argument("--num-processes", type=_count, default=None, metavar="N", help="how many processes run")
    many.add_argument("--process-id", type=_count, default=None, metavar="I", help="this process, 0..N-1")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jaxrl-actions", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", add_help=False, help="run an experiment (seeds x sweep)")
    run.add_argument("experiment", nargs="?", help="experiment file or name under ./experiments")
    _add_run_flags(run)
    sub.add_parser("list", help="list envs, agents and experiments")
    ev = sub.add_parser("eval", help="evaluate the last checkpoint of a run")
    ev.add_argument("run_dir")
    ev.add_argument("--episodes", type=_count, default=10)
    ev.add_argument("--deterministic", action="store_true")
    ev.add_argument("--seed", type=int, default=0)
    pl = sub.add_parser("plot", help="learning curves of one or more runs")
    pl.add_argument("run_dirs", nargs="+")
    pl.add_argument("-o", "--output", default=None, help="image file (default: curves.png in the first run directory)")
    pl.add_argument("--metric", default="episode_return")
    rp = sub.add_parser("report", help="ours vs published numbers at matched env steps (markdown + plots)")
    rp.add_argument("run_dirs", nargs="+")
    rp.add_argument("--published", required=True, help="JSON list of published results (run/report.py)")
    rp.add_argument("-o", "--output", required=True, help="markdown file to write")
    rp.add_argument("--section", default=None, help="replace only this generated section of the file")
    rp.add_argument("--plots", default=None, help="folder for one plot per task")
    return parser


def describe_experiment(exp: Experiment) -> str:
    """The settings `--set`/`--sweep` accept, with defaults; static ones need their own compile."""
    lines = [f"experiment {exp.name}: {exp.description}", f"  agent {exp.agent.name} ({type(exp.config).__name__})", ""]
    fields = experiment_fields(exp)
    width = max([len(k) for k in fields] + [7])
    lines.append(f"  {'setting':<{width}}  {'type':<5}  {'kind':<7}  default")
    for key, f in fields.items():
        kind = "static" if f.static else "numeric"
        lines.append(f"  {key:<{width}}  {f.kind:<5}  {kind:<7}  {json.dumps(f.default, default=repr)}")
    if exp.variants:
        lines.append(f"  {VARIANT_KEY:<{width}}  str    static   all of: {', '.join(exp.variants)}")
    lines += ["", "  numeric settings are swept in one compiled program; each static value compiles its own."]
    return "\n".join(lines)


def _settings(args) -> tuple[dict, dict]:
    overrides = dict(parse_assignment(s) for s in args.sets)
    sweep = {}
    for text in args.sweeps:
        key, values = parse_sweep(text)
        if key in sweep:
            raise UsageError(f"--sweep {key} given twice")
        sweep[key] = values
    return overrides, sweep


def _options(args, source: Optional[str]) -> RunOptions:
    """The RunOptions the flags describe (--seeds 0 and other bad counts fail its check)."""
    overrides, sweep = _settings(args)
    return RunOptions(
        seeds=1 if args.seeds is None else args.seeds, overrides=overrides, sweep=sweep,
        total_steps=args.total_steps, chunks=args.chunks, log_every=args.log_every,
        checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints, out=args.out,
        tensorboard=args.tensorboard, quiet=args.quiet, plot=not args.no_plot, source=source,
    )


def _resume_changes(args) -> dict:
    """The options given with --resume: display flags, and any setting, which must match
    the recorded computation (a different one is refused with the differences listed)."""
    overrides, sweep = _settings(args)
    given = dict(seeds=args.seeds, overrides=overrides or None, sweep=sweep or None, total_steps=args.total_steps,
                 chunks=args.chunks, log_every=args.log_every)
    changes = {k: v for k, v in given.items() if v is not None}
    changes.update(tensorboard=args.tensorboard, quiet=args.quiet, plot=not args.no_plot,
                   checkpoint_every=args.checkpoint_every, keep_checkpoints=args.keep_checkpoints)
    return changes


def _join_processes(args) -> None:
    """--coordinator/--num-processes/--process-id: join the other processes (none given: one process)."""
    if args.coordinator is None and args.num_processes is None and args.process_id is None:
        return
    from jaxrl_actions.processes import initialize

    initialize(args.coordinator, args.num_processes, args.process_id)


def _run(args, parser: argparse.ArgumentParser, experiment: Optional[Experiment], source: Optional[str]) -> int:
    from jaxrl_actions.run import runner

    if args.help:
        print(parser.format_help())
        if experiment is None and args.experiment:
            experiment, source = load_experiment(args.experiment)
        if experiment is not None:
            print(describe_experiment(experiment))
        return 0
    _join_processes(args)  # before the experiment file or anything else can touch a device
    if experiment is None and args.experiment:
        experiment, source = load_experiment(args.experiment)
    if args.resume:
        if args.out and os.path.abspath(args.out) != os.path.abspath(args.resume):
            raise UsageError("--resume DIR continues DIR; drop --out")
        runner.resume_run(args.resume, experiment, **_resume_changes(args))
        return 0
    if experiment is None:
        raise UsageError("run needs an experiment (a file or a name under ./experiments), or --resume DIR")
    runner.run_experiment(experiment, _options(args, source))
    return 0


def _script_docstring(path: str) -> Optional[str]:
    """The first docstring line of a file under experiments/ that defines no EXPERIMENT
    (read with `ast`, without running it); None for experiment files and unparsable ones."""
    import ast

    try:
        tree = ast.parse(open(path).read())
    except (OSError, SyntaxError):
        return None
    names = {t.id for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))
             for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}
    names |= {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
              for alias in node.names}
    if "EXPERIMENT" in names:
        return None
    doc = ast.get_docstring(tree) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _list() -> int:
    try:
        import envs

        env_entries = envs.describe()
    except ImportError as err:
        env_entries = [("(envs package not importable)", str(err))]
    from jaxrl_actions.agents import AGENTS
    from jaxrl_actions.training import FAMILIES

    print("envs:")
    for name, description in env_entries:
        print(f"  {name:<24} {description}")
    print("agents:")
    for entry in AGENTS.entries():
        print(f"  {entry.name:<24} [{entry.factory().family}] {entry.description}")
    print("loop families:")
    for entry in FAMILIES.entries():
        print(f"  {entry.name:<24} {entry.description}")
    print("experiments (./experiments):")
    files = list_experiment_files()
    for name, path in files:
        script = _script_docstring(path)
        if script is not None:  # a helper script (e.g. a benchmark), not an experiment
            print(f"  {name:<24} [script] {script}")
            continue
        try:
            description = load_experiment(path)[0].description.strip().splitlines()[0]
        except Exception as err:  # noqa: BLE001 - one broken file must not hide the others
            description = f"(cannot load: {type(err).__name__}: {err})"
        print(f"  {name:<24} {description}")
    if not files:
        print("  (none)")
    return 0


def _eval(args) -> int:
    from jaxrl_actions.logging import hparams_label, write_json
    from jaxrl_actions.run.evaluate_run import evaluate_run

    result = evaluate_run(args.run_dir, args.episodes, args.deterministic, args.seed)
    mode = "deterministic" if args.deterministic else "stochastic"
    for t in result["trials"]:
        label = hparams_label(t["hparams"]) or "(defaults)"
        print(
            f"trial {t['trial']} {label}: return {t['return_mean']:.4g} +- {t['return_std']:.3g} "
            f"({len(t['seeds'])} seeds x {args.episodes} episodes, {mode}, after {t['updates_done']} updates)"
        )
    path = os.path.join(args.run_dir, "eval.json")
    write_json(path, result)
    print(f"wrote {path}")
    return 0


def _plot(args) -> int:
    from jaxrl_actions.plots import plot_runs

    output = args.output or os.path.join(args.run_dirs[0], "curves.png")
    print(plot_runs(args.run_dirs, output, metric=args.metric))
    return 0


def _report(args) -> int:
    from jaxrl_actions.run.report import write_report

    written = write_report(args.run_dirs, args.published, args.output, args.section, args.plots)
    print(f"wrote {written['out']} ({written['rows']} rows)" + "".join(f"\nwrote {p}" for p in written["plots"]))
    return 0


def _guarded(fn) -> int:
    from jaxrl_actions.checkpoint import CheckpointError
    from jaxrl_actions.training.common import LoopError

    try:
        return fn()
    except (KeyError, ValueError, FileNotFoundError, CheckpointError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"error: {message}", file=sys.stderr)
        return 2
    except LoopError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped (`| head`): no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's advice: quiet the exit flush
        return 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        run_parser = parser._subparsers._group_actions[0].choices["run"]  # noqa: SLF001
        return _guarded(lambda: _run(args, run_parser, None, None))
    commands = {"list": _list, "eval": lambda: _eval(args), "plot": lambda: _plot(args),
                "report": lambda: _report(args)}
    return _guarded(commands[args.command])


def main_for(experiment: Experiment, argv: Optional[Sequence[str]] = None, source: Optional[str] = None) -> int:
    """`python experiments/x.py [flags]`: the flags of `jaxrl-actions run`, for this experiment;
    returns the exit code (experiment files end with `raise SystemExit(main_for(EXPERIMENT))`).
    `source` defaults to the running script, so `--resume` and `eval` can reload it."""
    main = sys.modules.get("__main__")
    if source is None and getattr(main, "EXPERIMENT", None) is experiment and getattr(main, "__file__", None):
        source = os.path.abspath(main.__file__)
    parser = argparse.ArgumentParser(prog=os.path.basename(source) if source else experiment.name, add_help=False,
                                     description=experiment.description)
    _add_run_flags(parser)
    args = parser.parse_args(argv)
    args.experiment = None
    return _guarded(lambda: _run(args, parser, experiment, source))
