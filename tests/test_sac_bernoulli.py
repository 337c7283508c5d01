"""Bang-bang SAC (agents/sac_bernoulli.py) against hand-computed references: per-dimension
Bernoulli entropy and log-probability, masks, the per-dimension-expectation actor loss on a
tiny example (and that its gradient is unbiased for the exact objective), the critic's
action encodings; plus a learning check on cartpole_continuous."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl_actions.actions import bang_bang, transform_actions
from jaxrl_actions.agents import sac_bernoulli as sb
from jaxrl_actions.environment import EnvSpec
from jaxrl_actions.spaces import Box, MultiBinary, MultiDiscrete
from jaxrl_actions.types import Transition
from conftest import LEARNED_FACTOR, LEARNED_FLOOR, balance_learning

OBS = Box(-1.0, 1.0, (3,))
TINY = dict(actor_hidden=(8,), critic_hidden=(8,), batch_size=4)


def _state(space, **overrides):
    spec = EnvSpec(OBS, space, 10)
    config = sb.SACBernoulliConfig(**{**TINY, **overrides})
    return jax.jit(lambda key: sb.init(key, spec, config))(jax.random.PRNGKey(0))


def test_entropy_and_log_prob_by_hand():
    p = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])
    log_probs = jnp.log(jnp.asarray(p))
    h = -(0.2 * np.log(0.2) + 0.8 * np.log(0.8)) + np.log(2) - (0.9 * np.log(0.9) + 0.1 * np.log(0.1))
    np.testing.assert_allclose(sb.entropy(log_probs), h, rtol=1e-6)
    np.testing.assert_allclose(sb.log_prob(log_probs, jnp.array([1, 0, 1])), np.log(0.8 * 0.5 * 0.1), rtol=1e-6)
    # Batched: [B, D, K] -> [B].
    np.testing.assert_allclose(sb.entropy(jnp.stack([log_probs, log_probs])), [h, h], rtol=1e-6)


def test_masked_choices_get_zero_probability_and_no_entropy():
    state = _state(MultiBinary(3))
    mask = jnp.array([[True, True], [False, True], [True, False]])  # dim 1 must be 1, dim 2 must be 0
    log_probs = jax.jit(sb.log_policy)(state, state.actor.params, jnp.ones(3), mask)
    probs = np.exp(np.asarray(log_probs))
    np.testing.assert_array_equal(probs[1:], [[0.0, 1.0], [1.0, 0.0]])
    p0 = probs[0]
    np.testing.assert_allclose(sb.entropy(log_probs), -np.sum(p0 * np.log(p0)), rtol=1e-5)  # dim 0 only
    actions = jax.jit(jax.vmap(lambda k: sb.act(state, jnp.ones(3), mask, k)))(jax.random.split(jax.random.PRNGKey(1), 200))
    assert (np.asarray(actions)[:, 1] == 1).all() and (np.asarray(actions)[:, 2] == 0).all()
    assert len(np.unique(np.asarray(actions)[:, 0])) == 2


def test_box_actions_are_the_extremes_of_the_space_or_the_mask():
    state = _state(Box(-2.0, 4.0, (2,)))
    keys = jax.random.split(jax.random.PRNGKey(1), 200)
    free = np.asarray(jax.jit(jax.vmap(lambda k: sb.act(state, jnp.ones(3), None, k)))(keys))
    assert set(np.unique(free)) == {-2.0, 4.0}
    mask = (jnp.array([0.0, -1.0]), jnp.array([1.0, 3.0]))
    masked = np.asarray(jax.jit(jax.vmap(lambda k: sb.act(state, jnp.ones(3), mask, k)))(keys))
    assert set(np.unique(masked[:, 0])) == {0.0, 1.0} and set(np.unique(masked[:, 1])) == {-1.0, 3.0}
    # The critic sees them rescaled by the space bounds: -2 -> -1, 4 -> +1; a mask's bounds in between.
    np.testing.assert_allclose(sb.encode_action(state.spec.action_space, jnp.array([[-2.0, 4.0]])), [[-1.0, 1.0]])
    extremes = sb.unit_extremes(state.spec.action_space, mask)
    np.testing.assert_allclose(sb.encode_choices(state.spec.action_space, jnp.eye(2)[jnp.array([0, 1])], extremes),
                               [-1 / 3, 2 / 3], rtol=1e-6)
    np.testing.assert_allclose(sb.encode_action(MultiBinary(2), jnp.array([1, 0])), [1.0, -1.0])
    np.testing.assert_allclose(sb.encode_action(MultiDiscrete([3, 2]), jnp.array([2, 0])), [0, 0, 1, 1, 0, 0])


def test_dimension_swaps_set_one_dimension_at_a_time():
    swaps = np.asarray(sb.dimension_swaps(jnp.array([[1, 0]]), 2))[0]  # [D, K, D, K]
    np.testing.assert_array_equal(swaps[0, 0], [[1, 0], [1, 0]])
    np.testing.assert_array_equal(swaps[0, 1], [[0, 1], [1, 0]])  # the sampled action itself
    np.testing.assert_array_equal(swaps[1, 0], [[0, 1], [1, 0]])
    np.testing.assert_array_equal(swaps[1, 1], [[0, 1], [0, 1]])


def test_actor_loss_on_a_tiny_example():
    p = np.array([[0.25, 0.75], [0.5, 0.5]])
    q = np.array([[1.0, 3.0], [2.0, -1.0]])  # Q(s, a with a_d := k)
    alpha = 0.5
    expected = (0.25 * (alpha * np.log(0.25) - 1.0) + 0.75 * (alpha * np.log(0.75) - 3.0)
                + 0.5 * (alpha * np.log(0.5) - 2.0) + 0.5 * (alpha * np.log(0.5) + 1.0))
    got = sb.actor_loss_terms(jnp.log(jnp.asarray(p))[None], jnp.asarray(q)[None], alpha)
    np.testing.assert_allclose(got, [expected], rtol=1e-6)


def _exact_objective(logits, q_table, alpha):
    """sum over joint actions a of pi(a) (alpha log pi(a) - Q(a)) for D independent dims."""
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    dim, bins = logits.shape
    total = 0.0
    for a in itertools.product(range(bins), repeat=dim):
        lp = sum(log_probs[d, a[d]] for d in range(dim))
        total = total + jnp.exp(lp) * (alpha * lp - q_table[a])
    return total


def test_expectation_gradient_is_unbiased_for_the_exact_objective():
    dim, bins, alpha = 3, 2, 0.3
    logits = jax.random.normal(jax.random.PRNGKey(0), (dim, bins))
    q_table = jax.random.normal(jax.random.PRNGKey(1), (bins,) * dim)

    def surrogate(logits, sampled):
        swaps = sb.dimension_swaps(jnp.asarray(sampled)[None], bins)[0]  # [D, K, D, K] one-hot
        index = tuple(jnp.argmax(swaps, axis=-1)[..., d] for d in range(dim))  # [D, K] per dim
        q_swaps = q_table[index]
        return sb.actor_loss_terms(jax.nn.log_softmax(logits)[None], q_swaps[None], alpha)[0]

    probs = jax.nn.softmax(logits)
    mean_grad = sum(float(np.prod([probs[d, a[d]] for d in range(dim)])) * jax.grad(surrogate)(logits, a)
                    for a in itertools.product(range(bins), repeat=dim))
    exact = jax.grad(_exact_objective)(logits, q_table, alpha)
    np.testing.assert_allclose(mean_grad, exact, rtol=1e-4, atol=1e-6)
    # D = 1: the loss is discrete SAC's sum_a pi(a) (alpha log pi(a) - Q(a)) exactly.
    one = jnp.array([[0.3, -0.4]])
    q1 = jnp.array([2.0, 1.0])
    lp = jax.nn.log_softmax(one)
    np.testing.assert_allclose(sb.actor_loss_terms(lp[None], q1[None, None], alpha)[0],
                               np.sum(np.exp(lp[0]) * (alpha * lp[0] - q1)), rtol=1e-6)


def test_actor_loss_evaluates_the_critic_at_each_swap():
    state = _state(Box(-1.0, 1.0, (2,)))
    obs = jax.random.normal(jax.random.PRNGKey(2), (4, 3))
    batch = Transition(obs, jnp.zeros((4, 2)), jnp.zeros(4), jnp.zeros(4, bool), jnp.zeros(4, bool), obs,
                       None, None, None, None)
    key = jax.random.PRNGKey(3)
    loss, h = jax.jit(sb._actor_loss)(state.actor.params, state, batch, key)
    log_probs = sb.log_policy(state, state.actor.params, obs, None)
    choices = sb.sample(log_probs, key)  # the same draw as inside the loss
    q = np.zeros((4, 2, 2))
    for b, d, k in itertools.product(range(4), range(2), range(2)):
        action = np.where(np.asarray(choices[b]) == 1, 1.0, -1.0)
        action[d] = 1.0 if k == 1 else -1.0
        q[b, d, k] = float(jnp.min(sb.q_values(state, state.critic.params, obs[b], jnp.asarray(action))))
    alpha = float(jnp.exp(state.log_alpha.params))
    np.testing.assert_allclose(loss, np.mean(sb.actor_loss_terms(log_probs, jnp.asarray(q), alpha)), rtol=1e-5)
    np.testing.assert_allclose(h, sb.entropy(log_probs), rtol=1e-5)


def test_sac_bernoulli_learns_to_balance(cartpole_continuous):
    # Through `bang_bang()` (MultiBinary), as the DMC experiment: warm-up actions are extremes too.
    env = transform_actions(cartpole_continuous, bang_bang())
    config = sb.SACBernoulliConfig(total_steps=10_000, num_envs=4, batch_size=128, buffer_size=20_000,
                                   warmup_steps=1_000, actor_hidden=(64, 64), critic_hidden=(64, 64), actor_lr=1e-3,
                                   critic_lr=1e-3)
    untrained, trained = balance_learning(env, sb.AGENT, config)
    assert trained > LEARNED_FACTOR * untrained and trained > LEARNED_FLOOR, (untrained, trained)
