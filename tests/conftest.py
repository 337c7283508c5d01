"""Shared test setup: CPU unless told otherwise, and a hypothesis profile suited to JAX
(no per-example deadline, since the first example of a test may compile)."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

from hypothesis import settings  # noqa: E402

settings.register_profile("jax", deadline=None, max_examples=50)
settings.load_profile("jax")
