"""Spaces: sampling, membership, masks, construction errors, trace-time action checks."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxrl_actions.spaces import Box, Discrete, MultiBinary, MultiDiscrete, Subset, Tuple, check_action

NUM_MASKS = 300  # random masks per space, checked in one vmapped call


def random_bool_masks(key, num, shape, min_true_axis=None, min_true=1):
    """bool[num, *shape] random masks with at least `min_true` True entries along
    `min_true_axis` (None: over the whole mask)."""
    k_bits, k_force = jax.random.split(key)
    masks = jax.random.bernoulli(k_bits, 0.3, (num,) + shape)
    # Force entries on at random positions so every mask has enough valid choices.
    if min_true_axis is None:
        flat = masks.reshape(num, -1)
        forced = jax.vmap(lambda k: jax.random.permutation(k, flat.shape[1])[:min_true])(jax.random.split(k_force, num))
        flat = jax.vmap(lambda m, idx: m.at[idx].set(True))(flat, forced)
        return flat.reshape((num,) + shape)
    idx = jax.random.randint(k_force, (num,) + shape[:-1], 0, shape[-1])
    return masks | jax.nn.one_hot(idx, shape[-1], dtype=bool)


def multidiscrete_masks(key, num, space):
    keys = jax.random.split(key, len(space.nvec))
    parts = [random_bool_masks(k, num, (n,), min_true_axis=-1) for k, n in zip(keys, space.nvec)]
    return jnp.concatenate(parts, axis=-1)


MASK_CASES = {
    "discrete": (Discrete(7), lambda k, s: random_bool_masks(k, NUM_MASKS, s.mask_shape)),
    "multidiscrete": (MultiDiscrete([3, 5, 2]), lambda k, s: multidiscrete_masks(k, NUM_MASKS, s)),
    "multibinary": (MultiBinary(6), lambda k, s: random_bool_masks(k, NUM_MASKS, s.mask_shape, min_true_axis=-1)),
    "subset": (Subset(8, 3), lambda k, s: random_bool_masks(k, NUM_MASKS, s.mask_shape, min_true=3)),
}


@pytest.mark.parametrize("name", sorted(MASK_CASES))
def test_masked_sampling_never_violates_mask(name):
    space, make_masks = MASK_CASES[name]
    masks = make_masks(jax.random.key(0), space)
    keys = jax.random.split(jax.random.key(1), NUM_MASKS)

    def check(key, mask):
        x = space.sample(key, mask)
        return space.mask_has_valid(mask), space.contains(x), space.respects(x, mask)

    has_valid, contained, respected = jax.jit(jax.vmap(check))(keys, masks)
    assert np.all(has_valid), "the generated masks should all be satisfiable"
    assert np.all(contained), f"{space}: masked samples outside the space"
    assert np.all(respected), f"{space}: masked samples violate the mask"


def test_box_masked_sampling_stays_in_interval():
    space = Box(-2.0, 3.0, (4,))
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    a = jax.random.uniform(k1, (NUM_MASKS, 4), minval=-2.0, maxval=3.0)
    b = jax.random.uniform(k2, (NUM_MASKS, 4), minval=-2.0, maxval=3.0)
    low, high = jnp.minimum(a, b), jnp.maximum(a, b)

    def check(key, low, high):
        x = space.sample(key, (low, high))
        return space.contains(x), space.respects(x, (low, high)), space.mask_has_valid((low, high))

    contained, respected, has_valid = jax.vmap(check)(jax.random.split(k3, NUM_MASKS), low, high)
    assert np.all(contained) and np.all(respected) and np.all(has_valid)
    assert not space.mask_has_valid((jnp.ones(4), jnp.zeros(4)))


def test_masked_discrete_sampling_covers_every_valid_action_uniformly():
    space = Discrete(6)
    mask = jnp.array([True, False, True, True, False, True])
    samples = jax.vmap(lambda k: space.sample(k, mask))(jax.random.split(jax.random.key(3), 4000))
    counts = np.bincount(np.asarray(samples), minlength=6)
    assert counts[1] == counts[4] == 0
    np.testing.assert_allclose(counts[mask] / 4000, 0.25, atol=0.03)


def test_unmasked_sampling_is_contained():
    spaces = [Discrete(5), MultiDiscrete([2, 3]), Box(-1, 1, (3,)), MultiBinary(4), Subset(6, 2),
              Tuple([Discrete(3), Box(0, 1, (2,))])]
    for i, space in enumerate(spaces):
        xs = [space.sample(k) for k in jax.random.split(jax.random.key(i), 20)]
        assert all(bool(space.contains(x)) for x in xs), space


def test_contains_rejects_bad_values():
    assert not Discrete(3).contains(3) and not Discrete(3).contains(-1) and Discrete(3).contains(2)
    assert not MultiDiscrete([2, 3]).contains(jnp.array([1, 3]))
    assert not MultiDiscrete([2, 3]).contains(jnp.array([1, 1, 1]))
    assert not Box(-1, 1, (2,)).contains(jnp.array([0.0, 1.5]))
    assert not Box(-1, 1, (2,)).contains(jnp.array([0.0, jnp.nan]))
    assert not MultiBinary(3).contains(jnp.array([0, 2, 1]))
    assert not Subset(5, 2).contains(jnp.array([1, 1])), "duplicates are not a subset"
    assert Subset(5, 2).contains(jnp.array([4, 1]))
    assert not Tuple([Discrete(2), Discrete(2)]).contains((1,))


def test_respects_and_mask_has_valid():
    md = MultiDiscrete([2, 3])
    mask = jnp.array([False, True, True, False, True])
    assert md.respects(jnp.array([1, 2]), mask) and not md.respects(jnp.array([0, 2]), mask)
    assert md.mask_has_valid(mask)
    assert not md.mask_has_valid(jnp.array([True, True, False, False, False])), "each dimension needs a choice"
    assert not Discrete(3).mask_has_valid(jnp.zeros(3, bool))
    assert not Subset(5, 3).mask_has_valid(jnp.array([True, True, False, False, False]))
    assert not MultiBinary(2).mask_has_valid(jnp.array([[True, False], [False, False]]))
    assert MultiBinary(2).respects(jnp.array([0, 1]), jnp.array([[True, False], [False, True]]))
    assert not MultiBinary(2).respects(jnp.array([1, 1]), jnp.array([[True, False], [False, True]]))
    tup = Tuple([Discrete(2), Discrete(3)])
    tmask = (jnp.array([True, False]), jnp.array([False, False, True]))
    assert tup.mask_has_valid(tmask) and tup.respects((0, 2), tmask) and not tup.respects((1, 2), tmask)


@given(st.integers(max_value=0))
def test_discrete_needs_positive_n(n):
    with pytest.raises(ValueError, match=f"n={n}"):
        Discrete(n)


@given(st.integers(min_value=1, max_value=20), st.integers(min_value=1, max_value=20))
def test_subset_needs_k_at_most_n(n, k):
    if k <= n:
        assert Subset(n, k).shape == (k,)
    else:
        with pytest.raises(ValueError, match=f"n={n}, k={k}"):
            Subset(n, k)


@pytest.mark.parametrize("build, named", [
    (lambda: MultiDiscrete([3, 0]), "nvec=(3, 0)"),
    (lambda: MultiDiscrete([]), "nvec=()"),
    (lambda: MultiBinary(0), "n=0"),
    (lambda: Box([0.0, 2.0], [1.0, 1.0]), "low=[0.0, 2.0]"),
    (lambda: Tuple([]), "Tuple needs"),
])
def test_impossible_spaces_raise_naming_values(build, named):
    with pytest.raises(ValueError, match=named.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        build()


def test_spaces_are_hashable_values():
    assert Discrete(3) == Discrete(3) and hash(Discrete(3)) == hash(Discrete(3))
    assert Discrete(3) != Discrete(4) and MultiDiscrete([2, 3]) != MultiDiscrete([3, 2])
    assert Box(-1, 1, (2,)) == Box(-1.0, 1.0, (2,)) and Box(-1, 1, (2,)) != Box(-1, 2, (2,))
    assert len({Discrete(3), Discrete(3), Subset(4, 2)}) == 2


@pytest.mark.parametrize("space, action, error, words", [
    (Discrete(3), jnp.zeros((2,), jnp.int32), ValueError, ["shape ()", "shape (2,)"]),
    (Discrete(3), jnp.float32(1.0), TypeError, ["int32", "float32"]),
    (MultiDiscrete([2, 3]), jnp.zeros((3,), jnp.int32), ValueError, ["(2,)", "(3,)"]),
    (Box(-1, 1, (2,)), jnp.zeros((2,), jnp.int32), TypeError, ["float32", "int32"]),
    (Box(-1, 1, (2,)), jnp.zeros((1, 2)), ValueError, ["(2,)", "(1, 2)"]),
    (Tuple([Discrete(2), Box(0, 1, (1,))]), jnp.int32(0), TypeError, ["tuple of 2"]),
])
def test_check_action_names_expected_and_actual(space, action, error, words):
    with pytest.raises(error) as info:
        check_action(space, action, where="unit")
    for word in words:
        assert word in str(info.value), f"{word!r} missing from: {info.value}"


def test_check_action_runs_at_trace_time():
    traced = []

    @jax.jit
    def f(a):
        traced.append(True)
        check_action(Discrete(3), a)
        return a

    with pytest.raises(ValueError, match=r"got shape \(4,\)"):
        f(jnp.zeros((4,), jnp.int32))
    assert f(jnp.int32(2)) == 2 and len(traced) == 2


def test_check_mask_shape_names_shapes():
    with pytest.raises(ValueError, match=r"\(4,\).*expected \(3,\)"):
        Discrete(3).check_mask_shape(jnp.ones(4, bool))
    with pytest.raises(ValueError, match="pair"):
        Box(-1, 1, (2,)).check_mask_shape(jnp.ones(2))
    Discrete(3).check_mask_shape(jnp.ones((5, 3), bool))  # batched masks are fine
