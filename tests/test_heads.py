"""Mask-aware policy heads: masked actions have probability exactly 0, are never sampled,
and log-probs/entropy are over the valid actions only."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl_actions import spaces
from jaxrl_actions.networks.heads import distribution, head_size


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def random_mask(rng, n, min_valid=1):
    while True:
        mask = rng.random(n) < 0.5
        if mask.sum() >= min_valid:
            return mask


def test_discrete_masked_probabilities_renormalise():
    rng = np.random.default_rng(0)
    space = spaces.Discrete(6)
    for _ in range(20):
        logits = rng.normal(size=6).astype(np.float32)
        mask = random_mask(rng, 6)
        dist = distribution(space, jnp.asarray(logits), 0.0, jnp.asarray(mask))
        probs = np.exp([float(dist.log_prob(jnp.int32(a))) for a in range(6)])
        expected = np.where(mask, softmax(np.where(mask, logits, -np.inf)), 0.0)
        np.testing.assert_allclose(probs, expected, atol=1e-6)
        assert np.all(probs[~mask] == 0.0)
        valid = expected[mask]
        assert float(dist.entropy()) == pytest.approx(-(valid * np.log(valid)).sum(), abs=1e-5)


def test_mask_only_when_sampling_scores_with_unmasked_logits():
    logits = jnp.array([0.0, 1.0, 2.0])
    mask = jnp.array([True, True, False])
    dist = distribution(spaces.Discrete(3), logits, 0.0, mask, mask_in_gradient=False)
    assert float(dist.log_prob(jnp.int32(1))) == pytest.approx(float(jax.nn.log_softmax(logits)[1]), abs=1e-6)
    samples = jax.vmap(dist.sample)(jax.random.split(jax.random.PRNGKey(0), 500))
    assert not np.any(np.asarray(samples) == 2)


SPACES = [spaces.Discrete(7), spaces.MultiDiscrete([3, 4, 2]), spaces.MultiBinary(4), spaces.Subset(6, 3)]


@pytest.mark.parametrize("space", SPACES, ids=repr)
def test_sampling_never_violates_random_masks(space):
    rng = np.random.default_rng(1)

    def make_mask():
        if isinstance(space, spaces.MultiDiscrete):
            return np.concatenate([random_mask(rng, n) for n in space.nvec])
        if isinstance(space, spaces.MultiBinary):
            return np.stack([random_mask(rng, 2) for _ in range(space.n)])
        if isinstance(space, spaces.Subset):
            return random_mask(rng, space.n, min_valid=space.k)
        return random_mask(rng, space.n)

    masks = jnp.asarray(np.stack([make_mask() for _ in range(64)]))
    logits = jnp.asarray(rng.normal(size=(64, head_size(space))).astype(np.float32) * 3)

    def sample_and_check(logit, mask, key):
        dist = distribution(space, logit, 0.0, mask)
        raw = dist.sample(key)
        action = dist.to_action(raw)
        return space.respects(action, mask) & space.contains(action), dist.log_prob(raw)

    ok, log_prob = jax.jit(jax.vmap(jax.vmap(sample_and_check, (None, None, 0)), (0, 0, None)))(
        logits, masks, jax.random.split(jax.random.PRNGKey(2), 32))
    assert bool(jnp.all(ok))
    assert bool(jnp.all(jnp.isfinite(log_prob)))


def test_multidiscrete_log_prob_is_per_dimension_renormalised():
    space = spaces.MultiDiscrete([3, 2])
    logits = jnp.array([0.5, -1.0, 2.0, 0.3, 0.1])
    mask = jnp.array([True, False, True, True, True])
    dist = distribution(space, logits, 0.0, mask)
    total = sum(np.exp(float(dist.log_prob(jnp.array([a, b])))) for a in range(3) for b in range(2))
    assert total == pytest.approx(1.0, abs=1e-5)
    assert np.exp(float(dist.log_prob(jnp.array([1, 0])))) == 0.0


def test_subset_ordered_draws_sum_to_one_over_allowed_items():
    space = spaces.Subset(4, 2)
    logits = jnp.array([0.3, -0.2, 1.0, 0.0])
    mask = jnp.array([True, True, False, True])
    dist = distribution(space, logits, 0.0, mask)
    probs = {pair: np.exp(float(dist.log_prob(jnp.array(pair)))) for pair in itertools.permutations(range(4), 2)}
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert all(p == 0.0 for pair, p in probs.items() if 2 in pair)


def test_box_actions_stay_inside_the_state_dependent_interval():
    space = spaces.Box(-2.0, 2.0, (3,))
    mask = (jnp.array([-0.5, 0.0, 1.0]), jnp.array([0.5, 0.1, 2.0]))
    dist = distribution(space, jnp.array([5.0, -5.0, 0.0]), jnp.zeros(3), mask)
    actions = jax.vmap(lambda k: dist.to_action(dist.sample(k)))(jax.random.split(jax.random.PRNGKey(0), 256))
    assert bool(jnp.all((actions >= mask[0]) & (actions <= mask[1])))


def test_set_networks_are_permutation_equivariant_and_ppo_checks_their_spec():
    """Permuting the items permutes the pointer logits and leaves the value unchanged (no
    positional encoding); PPO's torso='set' refuses observations that are not item sets."""
    from jaxrl_actions.agents import ppo
    from jaxrl_actions.environment import EnvSpec
    from jaxrl_actions.networks.attention import PointerActor, SetCritic

    items = jax.random.normal(jax.random.key(0), (3, 7, 5))  # [batch, items, features]
    order = jax.random.permutation(jax.random.key(1), 7)
    actor, critic = PointerActor(16, 2, 4), SetCritic(16, 2, 4, (16,))
    actor_vars, critic_vars = actor.init(jax.random.key(2), items), critic.init(jax.random.key(3), items)
    logits, _ = actor.apply(actor_vars, items)
    permuted, _ = actor.apply(actor_vars, items[:, order])
    assert logits.shape == (3, 7)
    np.testing.assert_allclose(permuted, logits[:, order], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(critic.apply(critic_vars, items[:, order]), critic.apply(critic_vars, items),
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(logits[:, 0], logits[:, 1])  # the items are told apart by their features

    config = ppo.PPOConfig(torso="set", hidden_sizes=(16,), attention_heads=4)
    state = ppo.init(jax.random.key(4), EnvSpec(spaces.Box(-1.0, 1.0, (7, 5)), spaces.Discrete(7), 10), config)
    mask = jnp.zeros(7, bool).at[jnp.array([2, 5])].set(True)
    actions = jax.vmap(lambda k: ppo.act(state, items[0], mask, k))(jax.random.split(jax.random.key(5), 64))
    assert set(np.asarray(actions).tolist()) <= {2, 5}
    with pytest.raises(ValueError, match=r"item observations \[N, F\] and a Discrete\(N\)"):
        ppo.init(jax.random.key(4), EnvSpec(spaces.Box(-1.0, 1.0, (35,)), spaces.Discrete(7), 10), config)
    with pytest.raises(ValueError, match="attention_heads"):
        ppo.check_config(config.replace(attention_heads=3))
    with pytest.raises(ValueError, match="torso='transformer'"):
        ppo.check_config(config.replace(torso="transformer"))
