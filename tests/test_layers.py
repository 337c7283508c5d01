"""The import layers of DESIGN.md hold: every module imports cold on its own, and no import
(module level or inside a function) goes up a layer or closes a cycle.

    core      types, spaces, environment, registry, wrappers/, actions/, adapters/, networks/,
              losses, td, buffers/, running_stats, neighbourhood, combinatorial,
              training/config (the loop configs agents inherit)
    agents    agents/
    training  training/ (jitted loops)
    host      logging, checkpoint, plots, processes (run-directory writers and process set-up; no run/ or cli)
    run       run/
    cli       cli
    package   jaxrl_actions/__init__ (curated re-exports; nothing imports it)

A module may import its own layer or lower ones. Importing `a.b.c` also runs the packages
`a` and `a.b`; those implicit edges are left out of the cycle check (a package's
`__init__` re-exporting its modules is how a package works), explicit imports are not.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "jaxrl_actions")
PACKAGE = "jaxrl_actions"

LAYERS = ("core", "agents", "training", "host", "run", "cli", "package")
CORE_MODULES = ("types", "spaces", "environment", "registry", "wrappers", "actions", "adapters", "networks",
                "losses", "td", "buffers", "running_stats", "neighbourhood", "combinatorial", "training.config")
EXACT = {"training.config": "core", "logging": "host", "checkpoint": "host", "plots": "host", "processes": "host", "cli": "cli", "": "package"}
PREFIX = {"agents": "agents", "training": "training", "run": "run"}


def all_modules() -> dict[str, str]:
    """Dotted module name -> file, for every .py under the package."""
    modules = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if not name.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(folder, name), os.path.dirname(ROOT))[:-3].split(os.sep)
            if rel[-1] == "__init__":
                rel = rel[:-1]
            modules[".".join(rel)] = os.path.join(folder, name)
    return modules


MODULES = all_modules()


def layer_of(module: str) -> str:
    inner = module[len(PACKAGE) + 1:] if module != PACKAGE else ""
    if inner in EXACT:
        return EXACT[inner]
    top = inner.split(".")[0]
    if top in CORE_MODULES:
        return "core"
    if top in PREFIX:
        return PREFIX[top]
    raise AssertionError(f"{module} belongs to no layer: add it to tests/test_layers.py and DESIGN.md")


def imported_modules(module: str, path: str) -> list[tuple[str, int]]:
    """(package module imported, line) for every import statement in the file, in functions too."""
    tree = ast.parse(open(path).read(), path)
    is_package = path.endswith("__init__.py")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                parts = module.split(".")
                parts = parts if is_package else parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:  # `from pkg import sub` imports the module pkg.sub
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in MODULES else base, node.lineno))
    return [(name, line) for name, line in found if name == PACKAGE or name.startswith(PACKAGE + ".")]


def import_graph() -> dict[str, list[tuple[str, int]]]:
    return {m: [(t, line) for t, line in imported_modules(m, p) if t != m] for m, p in MODULES.items()}


def upward_imports(graph) -> list[str]:
    bad = []
    for module, targets in graph.items():
        for target, line in targets:
            if target not in MODULES:
                bad.append(f"{MODULES[module]}:{line} imports {target}, which does not exist")
            elif LAYERS.index(layer_of(target)) > LAYERS.index(layer_of(module)):
                bad.append(f"{MODULES[module]}:{line} ({layer_of(module)}) imports {target} ({layer_of(target)})")
    return bad


def cycles(graph) -> list[list[str]]:
    """Every cycle found by a depth-first search over the explicit import edges."""
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for target, _ in graph.get(node, []):
            if state.get(target) == "open":
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    return found


def test_every_module_has_a_layer_and_imports_go_down_only():
    graph = import_graph()
    assert upward_imports(graph) == []
    assert cycles(graph) == []


def test_the_checker_catches_an_upward_import_and_a_cycle():
    graph = import_graph()
    graph[f"{PACKAGE}.spaces"] = graph[f"{PACKAGE}.spaces"] + [(f"{PACKAGE}.run.runner", 1)]
    assert any("spaces" in b and "run.runner (run)" in b for b in upward_imports(graph))
    graph[f"{PACKAGE}.types"] = graph[f"{PACKAGE}.types"] + [(f"{PACKAGE}.spaces", 1)]
    graph[f"{PACKAGE}.spaces"] = graph[f"{PACKAGE}.spaces"] + [(f"{PACKAGE}.types", 1)]
    assert any({f"{PACKAGE}.types", f"{PACKAGE}.spaces"} <= set(c) for c in cycles(graph))


# One fresh interpreter imports the heavy third-party packages once, then forks a child per
# module: each child starts without any jaxrl_actions module loaded, as a cold import would.
# Importing any submodule first runs the package's __init__, so every module that __init__
# loads is imported cold exactly as the package itself is: those take the package's result,
# and only the modules __init__ leaves out get a child of their own.
COLD_IMPORTS = r"""
import json, os, sys
import jax, flax, optax, chex, numpy, distrax, flashbax, orbax.checkpoint, rlax  # noqa: F401
import tensorflow_probability.substrates.jax  # noqa: F401  (distrax loads its bijectors lazily)


def import_cold(module):  # -> (error message or "", the package's modules it loaded)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            __import__(module)
            message = ""
        except BaseException as err:  # noqa: BLE001
            message = f"{type(err).__name__}: {err}"
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "jaxrl_actions")
        os.write(write, json.dumps([message, loaded]).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        message, loaded = json.loads(f.read())
    os.waitpid(pid, 0)
    return message, set(loaded)


package_error, with_package = import_cold("jaxrl_actions")
results = {"jaxrl_actions": package_error}
for module in json.loads(sys.argv[1]):
    if module in with_package:
        results[module] = package_error
    elif module not in results:
        results[module] = import_cold(module)[0]
print(json.dumps(results))
"""


@pytest.mark.timeout(600)
def test_every_module_imports_cold_on_its_own():
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", COLD_IMPORTS, json.dumps(sorted(MODULES))], capture_output=True,
                         text=True, env=env, cwd=os.path.dirname(ROOT), timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    failures = {m: e for m, e in json.loads(out.stdout.strip().splitlines()[-1]).items() if e}
    assert failures == {}
