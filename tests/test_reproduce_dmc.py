"""The DMC reproduction files (experiments/reproduce/cqn_dmc.py, bangbang_dmc.py): every
variant plans with valid settings (nothing compiles), the defaults are the papers' budgets,
the `_cpu` variants cut only the budget, and every task they name is a registered
`dmc/<task>` env. Planning builds each variant's env, so MJX inverted_pendulum stands in
for the Playground tasks there (one env instead of twenty)."""
import os

import pytest

import envs
from jaxrl_actions.registry import Entry
from jaxrl_actions.run import RunOptions, make_plan
from jaxrl_actions.run.experiment import config_fields, load_experiment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def dmc_tasks(monkeypatch, inverted_pendulum):
    """Checks each `dmc/<task>` name is registered, then stands inverted_pendulum in for it."""
    def stand_in(**kwargs):
        return inverted_pendulum

    def use(tasks):
        for task in tasks:
            name = f"dmc/{task}"
            assert name in envs.ENVS, name
            monkeypatch.setitem(envs.ENVS._entries, name, Entry(name, stand_in, "stand-in"))

    return use


def _load(name):
    return load_experiment(os.path.join(ROOT, "experiments", "reproduce", f"{name}.py"))[0]


def _settings(exp):
    return {k: f.default for k, f in config_fields(exp.config).items()}


def test_cqn_dmc_variants_plan_and_cut_only_the_budget(dmc_tasks):
    exp = _load("cqn_dmc")
    module = __import__(exp.make_env.__module__)
    dmc_tasks(module.TASKS)
    assert exp.config.total_steps == 1_100_000 and exp.env_kwargs == {"task": "cartpole_swingup"}
    for variant in sorted(exp.variants):
        plan = make_plan(exp, RunOptions(seeds=1, overrides={"variant": variant}))
        assert plan.groups[0].num_updates >= 1, variant
    full, cpu = exp.with_variant("walker_walk"), exp.with_variant("walker_walk_cpu")
    assert full.config.n_step == 1 and full.config.batch_size == 512 and full.env_kwargs["task"] == "walker_walk"
    differing = {k for k, v in _settings(full).items() if _settings(cpu)[k] != v}
    assert differing == {"agent.total_steps"} and cpu.config.total_steps == module.CPU_STEPS


def test_bangbang_dmc_variants_plan_with_their_agents(dmc_tasks):
    exp = _load("bangbang_dmc")
    dmc_tasks(["cartpole_swingup"])
    agents = {}
    for variant in sorted(exp.variants):
        plan = make_plan(exp, RunOptions(seeds=1, overrides={"variant": variant}))
        assert plan.groups[0].num_updates >= 1, variant
        agents[variant] = exp.with_variant(variant).agent.name
    assert agents["sac"] == agents["sac_cpu"] == agents["cpu"] == exp.agent.name == "sac_bernoulli"
    assert agents["gaussian_sac"] == "sac" and agents["ppo"] == "ppo"
    for method in ("sac", "gaussian_sac", "ppo"):
        full, cpu = exp.with_variant(method), exp.with_variant(f"{method}_cpu")
        differing = {k for k, v in _settings(full).items() if _settings(cpu)[k] != v}
        assert differing == {"agent.total_steps"}, method
        assert full.config.total_steps == 1_000_000
    # The bang-bang variants see MultiBinary actions, Gaussian SAC the Box.
    assert type(exp.with_variant("ppo").make_env().spec.action_space).__name__ == "MultiBinary"
    assert type(exp.with_variant("gaussian_sac").make_env().spec.action_space).__name__ == "Box"
