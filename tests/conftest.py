"""Shared test setup: CPU unless told otherwise, XLA's quickest compiles, a hypothesis
profile suited to JAX (no per-example deadline, since the first example of a test may
compile), and the short learning runs on the continuous-force CartPole that several agents'
tests make."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

# The suite is compile-bound: most tests trace and compile a program, then run it for well
# under a second. LLVM's optimisation level 0 halves XLA:CPU's compile time (the suite's CPU
# time fell from about 2020 s to 1080 s) and changes no result beyond float rounding: XLA does
# not enable fast-math on CPU, so both levels compute the same IEEE operations. A test whose
# claim rests on two different programs rounding alike compiles at the default level instead
# (`DEFAULT_OPTIMIZATION`). Setting the level yourself in XLA_FLAGS overrides this.
QUICK_COMPILES = "--xla_backend_optimization_level=0"
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {QUICK_COMPILES}".strip()
DEFAULT_OPTIMIZATION = {"xla_backend_optimization_level": 3}  # XLA's default, for `jax.jit(compiler_options=...)`

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

settings.register_profile("jax", deadline=None, max_examples=50)
settings.load_profile("jax")

# The slowest files (minutes of compiling) go first, so that with two workers taking one file
# at a time neither is left alone with a long file at the end.
SLOW_FILES_FIRST = ("test_off_policy.py", "test_value_agents.py", "test_conformance.py", "test_factorised.py",
                    "test_physics.py", "test_sac_bernoulli.py", "test_ppo.py", "test_cqn.py", "test_layers.py",
                    "test_masking_study.py", "test_adapters.py", "test_combinatorial.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept otherwise


@pytest.fixture(scope="session")
def inverted_pendulum():
    import envs

    return envs.make("inverted_pendulum")


@pytest.fixture(scope="session")
def cartpole_continuous():
    """The balancing task of MJX inverted_pendulum in pure JAX (seconds to compile, not 30)."""
    import envs

    return envs.make("cartpole_continuous")


# A learning check passes when the trained return beats the untrained one by this factor and
# this floor (uniform random actions score about 23 on cartpole_continuous, 500 is the most).
LEARNED_FACTOR, LEARNED_FLOOR = 2.5, 100.0


def balance_learning(env, agent, config) -> tuple[float, float]:
    """(untrained, trained) mean episode returns of one fused run of `agent` on `env`
    (cartpole_continuous, possibly action-transformed): off-policy runs compare the last 50
    uniform warm-up steps with the last 250 steps, on-policy runs the first 3 updates with
    the last 5."""
    from jaxrl_actions.training import off_policy, on_policy
    from jaxrl_actions.training.common import fused_train
    from jaxrl_actions.wrappers import wrap_for_training

    venv = wrap_for_training(env, config.num_envs)
    loop = on_policy if agent.family == "on_policy" else off_policy
    _, metrics = jax.jit(fused_train(loop.make_trainer(venv, agent, config)))(jax.random.key(0))
    returns = np.asarray(metrics["episode_return"])
    if agent.family == "on_policy":  # one entry per update
        return returns[:3].mean(), returns[-5:].mean()
    start = off_policy.learning_starts(config)  # one entry per step of all envs
    return returns[start - 50:start].mean(), returns[-250:].mean()
