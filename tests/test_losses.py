"""GAE with truncation bootstrapping and the PPO losses against plain numpy references."""
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl_actions.losses import clipped_value_loss, gae_advantages, ppo_policy_loss


def gae_reference(rewards, values, terminated, truncated, final_values, last_value, gamma, lam):
    """Backward recursion, one env at a time, written from the definition."""
    T, B = rewards.shape
    adv = np.zeros((T, B))
    for b in range(B):
        running = 0.0
        for t in reversed(range(T)):
            if terminated[t, b]:
                delta, running = rewards[t, b] - values[t, b], 0.0
            elif truncated[t, b]:
                delta, running = rewards[t, b] + gamma * final_values[t, b] - values[t, b], 0.0
            else:
                next_value = last_value[b] if t == T - 1 else values[t + 1, b]
                delta = rewards[t, b] + gamma * next_value - values[t, b]
            running = delta + gamma * lam * running
            adv[t, b] = running
    return adv


@pytest.mark.parametrize("seed", [0, 1])
def test_gae_matches_reference_with_terminations_and_truncations(seed):
    rng = np.random.default_rng(seed)
    T, B = 17, 3
    rewards, values, final_values = (rng.normal(size=(T, B)).astype(np.float32) for _ in range(3))
    last_value = rng.normal(size=B).astype(np.float32)
    terminated = rng.random((T, B)) < 0.1
    truncated = (rng.random((T, B)) < 0.1) & ~terminated
    adv, targets = gae_advantages(jnp.asarray(rewards), jnp.asarray(values), jnp.asarray(terminated),
                                  jnp.asarray(truncated), jnp.asarray(final_values), jnp.asarray(last_value),
                                  0.97, 0.9)
    expected = gae_reference(rewards, values, terminated, truncated, final_values, last_value, 0.97, 0.9)
    np.testing.assert_allclose(adv, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(targets, expected + values, rtol=1e-5, atol=1e-5)


def test_truncation_bootstraps_from_final_value_but_termination_does_not():
    ones = jnp.ones((1, 1))
    zeros = jnp.zeros((1, 1), bool)
    common = dict(rewards=ones, values=jnp.zeros((1, 1)), final_values=5 * ones, last_value=jnp.full((1,), 100.0),
                  gamma=0.5, gae_lambda=1.0)
    truncated_adv, _ = gae_advantages(terminated=zeros, truncated=~zeros, **common)
    terminated_adv, _ = gae_advantages(terminated=~zeros, truncated=zeros, **common)
    assert float(truncated_adv[0, 0]) == pytest.approx(1 + 0.5 * 5)
    assert float(terminated_adv[0, 0]) == pytest.approx(1.0)


def test_ppo_policy_loss_clips_the_ratio():
    adv = jnp.array([1.0, -1.0, 1.0])
    old = jnp.zeros(3)
    new = jnp.log(jnp.array([1.5, 0.5, 1.0]))
    loss = ppo_policy_loss(new, old, adv, 0.2)
    # min(r * A, clip(r) * A) per sample: 1.2, -0.8, 1.0 -> mean, negated
    assert float(loss) == pytest.approx(-(1.2 - 0.8 + 1.0) / 3, rel=1e-5)


def test_clipped_value_loss_takes_the_pessimistic_error():
    values, old, targets = jnp.array([2.0]), jnp.array([0.0]), jnp.array([0.0])
    # unclipped error 4, clipped prediction 0.2 -> error 0.04; max is 4 -> 0.5 * 4
    assert float(clipped_value_loss(values, old, targets, 0.2)) == pytest.approx(2.0)
