"""The host side of a run: experiment records, plans, compiled programs, the runner,
resume and evaluation of run directories. No jitted loop lives here (`training/`)."""
from jaxrl_actions.run.evaluate_run import evaluate_run
from jaxrl_actions.run.experiment import Experiment, Trial, load_experiment, resolve_trials
from jaxrl_actions.run.plan import Plan, RunDirError, RunOptions, make_plan
from jaxrl_actions.run.runner import ChunkInfo, resume_run, run_experiment

__all__ = ["ChunkInfo", "Experiment", "Plan", "RunDirError", "RunOptions", "Trial", "evaluate_run",
           "load_experiment", "make_plan", "resolve_trials", "resume_run", "run_experiment"]
