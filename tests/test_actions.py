"""Action transforms: exact action maps, consistent masks (sampling from the agent's mask
never gives an inner-invalid action), chain == nested wrappers, drivers (repeat, sticky),
invalid_penalty, interval_mask, errors at wrap time."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from jaxrl_actions.actions import (
    bang_bang,
    chain,
    clip,
    discretize,
    first_valid_action,
    flatten,
    flatten_index,
    interval_mask,
    invalid_penalty,
    joint_mask,
    repeat,
    rescale,
    sticky,
    transform_actions,
    unflatten_index,
)
from jaxrl_actions.environment import EnvSpec, Environment, scalar_timestep
from jaxrl_actions.spaces import Box, Discrete, MultiBinary, MultiDiscrete, Subset
from jaxrl_actions.types import EPISODE_LENGTH, EPISODE_RETURN, INVALID_ACTION
from jaxrl_actions.wrappers import wrap_for_training


@struct.dataclass
class EchoState:
    t: jax.Array  # int32[]
    mask: object  # the current action mask (or None)


def random_mask(space, key):
    """A random mask with at least one valid choice per dimension (Box: a random
    sub-interval of the bounds, often ending at a bound)."""
    if isinstance(space, Box):
        u = jnp.sort(jax.random.uniform(key, (2,) + space.shape), axis=0)
        u = jnp.where(u < 0.2, 0.0, jnp.where(u > 0.8, 1.0, u))  # often reach the bounds
        span = space.high - space.low
        return (space.low + u[0] * span, space.low + u[1] * span)
    k1, k2 = jax.random.split(key)
    nvec = space.nvec if isinstance(space, MultiDiscrete) else (space.n,)
    parts = []
    for k, n in zip(jax.random.split(k1, len(nvec)), nvec):
        ka, kb = jax.random.split(k)
        m = jax.random.bernoulli(ka, 0.5, (n,))
        parts.append(m.at[jax.random.randint(kb, (), 0, n)].set(True))
    return jnp.concatenate(parts)


class EchoEnv(Environment):
    """Test env. Observation: float32[d], the last action it received, flattened (zeros
    after reset). Action: `space`. Reward: t after the step (1, 2, 3, ...). Mask: drawn at
    random each state when `masked` (see random_mask), else None. info[INVALID_ACTION]
    (only when `reports_invalid`): the action received broke the space or the mask.
    Truncates after `max_steps`."""

    name = "echo"

    def __init__(self, space, masked=True, max_steps=1000, reports_invalid=True):
        self.space, self.masked, self.max_steps = space, masked, max_steps
        self.reports_invalid = reports_invalid

    def _info(self, invalid):
        return {INVALID_ACTION: invalid} if self.reports_invalid else {}

    @property
    def spec(self):
        d = int(np.prod(self.space.shape)) if self.space.shape else 1
        return EnvSpec(Box(-np.inf, np.inf, (d,)), self.space, self.max_steps)

    def _mask(self, key):
        return random_mask(self.space, key) if self.masked else None

    def reset_env(self, key, params):
        s = EchoState(jnp.int32(0), self._mask(key))
        obs = jnp.zeros(self.spec.obs_space.shape, jnp.float32)
        return s, scalar_timestep(obs, 0.0, False, False, s.mask, self._info(jnp.bool_(False)))

    def step_env(self, key, state, action, params):
        invalid = ~self.space.contains(action)
        if state.mask is not None:
            invalid = invalid | ~self.space.respects(action, state.mask)
        s = EchoState(state.t + 1, self._mask(key))
        obs = jnp.asarray(action, jnp.float32).reshape(-1)
        return s, scalar_timestep(obs, s.t, False, s.t >= self.max_steps, s.mask, self._info(invalid))


BOX = Box(np.array([-2.0, 0.0]), np.array([2.0, 1.0]))


@functools.lru_cache(maxsize=None)
def rollout_fn(env, steps, policy="mask"):
    """Jitted: reset, then `steps` steps where the agent samples from the agent mask
    ("mask") or ignores it ("uniform"). Returns per step the inner mask before the step,
    the agent mask, the agent action, and the TimeStep."""
    space = env.spec.action_space

    @jax.jit
    def run(key):
        state, ts = env.reset(key)

        def body(carry, k):
            state, ts = carry
            k_act, k_step = jax.random.split(k)
            if policy == "batched":  # a VecEnv: one uniform action per env
                n = env.num_envs
                action = jax.vmap(space.sample)(jax.random.split(k_act, n))
            else:
                action = space.sample(k_act, ts.action_mask if policy == "mask" else None)
            inner_mask = getattr(echo_state(state), "mask", None)
            state, next_ts = env.step(k_step, state, action, None)
            return (state, next_ts), (inner_mask, ts.action_mask, action, next_ts)

        return jax.lax.scan(body, (state, ts), jax.random.split(key, steps))[1]

    return run


def echo_state(state):
    """The EchoState inside any stack of wrapper states (None for other envs)."""
    while not isinstance(state, EchoState):
        state = getattr(state, "env_state", None)
        if state is None:
            return None
    return state


def np_tree(x):
    return jax.tree_util.tree_map(np.asarray, x)


@functools.lru_cache(maxsize=None)
def step_once_fn(env):
    @jax.jit
    def run(key, action):
        k0, k1 = jax.random.split(key)
        state, _ = env.reset(k0)
        return env.step(k1, state, action)[1]

    return run


def step_once(env, action, key=0):
    """The TimeStep after one step from a reset (jitted once per env)."""
    return step_once_fn(env)(jax.random.PRNGKey(key), action)


# ----------------------------------------------------------------------------- discretize
def test_discretize_hits_exact_bin_values():
    env = transform_actions(EchoEnv(BOX, masked=False), discretize(5))
    assert env.spec.action_space == MultiDiscrete([5, 5])
    for i, j in [(0, 0), (4, 4), (2, 1), (1, 3)]:
        ts = step_once(env, jnp.array([i, j], jnp.int32))
        expect = [-2.0 + i * 4.0 / 4, 0.0 + j * 1.0 / 4]
        np.testing.assert_array_equal(np.asarray(ts.obs), np.float32(expect))
    assert step_once(env, jnp.array([4, 4], jnp.int32)).obs.tolist() == [2.0, 1.0]  # exact endpoints
    # Odd ranges: endpoints stay exact where the arithmetic would round.
    odd = Box(np.float32(0.1), np.float32(0.7), (1,))
    ts = step_once(transform_actions(EchoEnv(odd, masked=False), discretize(7)), jnp.array([6], jnp.int32))
    assert ts.obs[0] == np.float32(0.7)


def test_discretize_mask_allows_exactly_the_bins_in_the_interval():
    env = transform_actions(EchoEnv(BOX), discretize(6))
    inner_mask, agent_mask, action, ts = np_tree(rollout_fn(env, 300)(jax.random.PRNGKey(0)))
    values = np.stack([np.linspace(-2, 2, 6), np.linspace(0, 1, 6)]).astype(np.float32)  # [dim, bins]
    lo, hi = inner_mask[0][:, :, None], inner_mask[1][:, :, None]
    inside = (values >= lo) & (values <= hi)  # [T, dim, bins]
    nearest = np.argmin(np.maximum(np.maximum(lo - values, values - hi), 0), -1)
    expect = np.where(inside.any(-1, keepdims=True), inside, np.eye(6, dtype=bool)[nearest])
    np.testing.assert_array_equal(agent_mask.reshape(-1, 2, 6), expect)
    # Sampling from the agent mask gives an inner-valid action whenever a bin is inside.
    has_bin = inside.any(-1).all(-1)
    assert has_bin.mean() > 0.3 and not ts.info[INVALID_ACTION][has_bin].any()


# ----------------------------------------------------------------------------- flatten
def test_flatten_round_trip_is_row_major():
    nvec = (3, 4, 2)
    for i in range(24):
        parts = unflatten_index(jnp.int32(i), nvec)
        assert parts.tolist() == list(np.unravel_index(i, nvec))
        assert int(flatten_index(parts, nvec)) == i


def test_flatten_masks_and_actions():
    space = MultiDiscrete([3, 4])
    env = transform_actions(EchoEnv(space), flatten())
    assert env.spec.action_space == Discrete(12)
    inner_mask, agent_mask, action, ts = np_tree(rollout_fn(env, 200)(jax.random.PRNGKey(1)))
    expect = (inner_mask[:, :3, None] & inner_mask[:, None, 3:]).reshape(-1, 12)
    np.testing.assert_array_equal(agent_mask, expect)
    np.testing.assert_array_equal(ts.obs, np.stack(np.unravel_index(action, (3, 4)), -1))
    assert not ts.info[INVALID_ACTION].any()
    # MultiBinary counts as MultiDiscrete([2] * n); Discrete passes through.
    mb_mask = jnp.array([[True, False], [True, True]])
    np.testing.assert_array_equal(joint_mask(mb_mask, (2, 2)), [True, True, False, False])
    assert flatten().space(MultiBinary(3)) == Discrete(8)
    assert flatten().space(Discrete(5)) == Discrete(5)


# ----------------------------------------------------------------------------- bang_bang / rescale / clip
def test_bang_bang_maps_to_bounds_and_masks_endpoints():
    env = transform_actions(EchoEnv(BOX), bang_bang())
    assert env.spec.action_space == MultiBinary(2)
    assert step_once(env, jnp.array([0, 1], jnp.int32)).obs.tolist() == [-2.0, 1.0]
    assert step_once(env, jnp.array([1, 0], jnp.int32)).obs.tolist() == [2.0, 0.0]
    inner_mask, agent_mask, action, ts = np_tree(rollout_fn(env, 200)(jax.random.PRNGKey(2)))
    ends = np.stack([BOX.low, BOX.high], -1)  # [dim, 2]
    inside = (ends >= inner_mask[0][..., None]) & (ends <= inner_mask[1][..., None])
    nearer_high = (ends[:, 1] - inner_mask[1]) < (inner_mask[0] - ends[:, 0])
    expect = np.where(inside.any(-1, keepdims=True), inside, np.stack([~nearer_high, nearer_high], -1))
    np.testing.assert_array_equal(agent_mask, expect)
    ok = inside.any(-1).all(-1)
    assert ok.any() and not ts.info[INVALID_ACTION][ok].any()


def test_rescale_affine_and_mask():
    env = transform_actions(EchoEnv(BOX), rescale(-1.0, 1.0))
    assert env.spec.action_space == Box(-1.0, 1.0, (2,))
    np.testing.assert_allclose(step_once(env, jnp.array([-1.0, 1.0])).obs, [-2.0, 1.0])
    np.testing.assert_allclose(step_once(env, jnp.array([0.0, -0.5])).obs, [0.0, 0.25])
    inner_mask, agent_mask, action, ts = np_tree(rollout_fn(env, 200)(jax.random.PRNGKey(3)))
    np.testing.assert_allclose(agent_mask[0], -1 + (inner_mask[0] - BOX.low) / ((BOX.high - BOX.low) / 2), atol=1e-6)
    assert np.all(ts.obs >= inner_mask[0] - 1e-5) and np.all(ts.obs <= inner_mask[1] + 1e-5)


def test_clip_to_bounds_and_mask():
    env = transform_actions(EchoEnv(BOX, masked=False), clip())
    assert step_once(env, jnp.array([-9.0, 9.0])).obs.tolist() == [-2.0, 1.0]
    inner_mask, _, _, ts = np_tree(rollout_fn(transform_actions(EchoEnv(BOX), clip()), 50, "uniform")(jax.random.PRNGKey(4)))
    assert not ts.info[INVALID_ACTION].any()


# ----------------------------------------------------------------------------- chain
def test_chain_equals_nested_wrappers_and_manual_composition():
    t_a, t_b = discretize(3), flatten()
    chained = transform_actions(EchoEnv(BOX), chain(t_a, t_b))
    nested = transform_actions(transform_actions(EchoEnv(BOX), t_a), t_b)
    assert chained.spec.action_space == nested.spec.action_space == Discrete(9)
    out_c = np_tree(rollout_fn(chained, 60)(jax.random.PRNGKey(5)))
    out_n = np_tree(rollout_fn(nested, 60)(jax.random.PRNGKey(5)))
    jax.tree_util.tree_map(np.testing.assert_array_equal, out_c, out_n)
    # Manual: b's apply then a's apply; a's mask map then b's.
    inner_mask, agent_mask, action, ts = out_c
    values = np.stack([np.linspace(-2, 2, 3), np.linspace(0, 1, 3)])
    idx = np.stack(np.unravel_index(action, (3, 3)), -1)
    np.testing.assert_allclose(ts.obs, np.take_along_axis(values, idx.T, 1).T, atol=1e-6)
    t = chain(t_a, t_b)
    m = (jnp.array([-2.0, 0.2]), jnp.array([0.5, 1.0]))
    np.testing.assert_array_equal(
        t.map_mask(m, BOX, t.init(jax.random.PRNGKey(0), BOX)),
        t_b.map_mask(t_a.map_mask(m, BOX, ()), MultiDiscrete([3, 3]), ()),
    )


def test_chain_with_random_and_stateful_transforms_matches_nesting():
    ts_ = (sticky(0.5), discretize(4), invalid_penalty(-1.0))
    chained = transform_actions(EchoEnv(BOX), chain(*ts_))
    nested = EchoEnv(BOX)
    for t in ts_:
        nested = transform_actions(nested, t)
    out_c = rollout_fn(chained, 40, "uniform")(jax.random.PRNGKey(6))
    out_n = rollout_fn(nested, 40, "uniform")(jax.random.PRNGKey(6))
    jax.tree_util.tree_map(np.testing.assert_array_equal, np_tree(out_c), np_tree(out_n))


# ----------------------------------------------------------------------------- repeat / sticky
def test_repeat_sums_rewards_and_stops_at_done():
    env = transform_actions(EchoEnv(Discrete(3), masked=False, max_steps=5), repeat(3))
    state, _ = env.reset(jax.random.PRNGKey(0))
    state, ts = env.step(jax.random.PRNGKey(1), state, jnp.int32(2))
    assert float(ts.reward) == 1 + 2 + 3 and int(state.env_state.t) == 3 and not ts.truncated
    state, ts = env.step(jax.random.PRNGKey(2), state, jnp.int32(1))
    assert float(ts.reward) == 4 + 5 and int(state.env_state.t) == 5 and bool(ts.truncated)
    assert ts.obs.tolist() == [1.0]


def test_sticky_repeats_previous_valid_action():
    always = transform_actions(EchoEnv(Discrete(6), masked=False), sticky(1.0))
    _, _, action, ts = np_tree(rollout_fn(always, 20, "uniform")(jax.random.PRNGKey(7)))
    assert np.all(ts.obs[:, 0] == action[0]) and len(set(action.tolist())) > 1
    never = transform_actions(EchoEnv(Discrete(6), masked=False), sticky(0.0))
    _, _, action, ts = np_tree(rollout_fn(never, 20, "uniform")(jax.random.PRNGKey(7)))
    np.testing.assert_array_equal(ts.obs[:, 0], action)
    # With masks, the previous action is repeated only where it is still valid.
    masked = transform_actions(EchoEnv(Discrete(6)), sticky(1.0))
    inner_mask, _, action, ts = np_tree(rollout_fn(masked, 200)(jax.random.PRNGKey(8)))
    got = ts.obs[:, 0].astype(int)
    prev = np.concatenate([[action[0]], got[:-1]])
    prev_ok = inner_mask[np.arange(200), prev]
    np.testing.assert_array_equal(got[1:], np.where(prev_ok, prev, action)[1:])
    assert prev_ok.any() and not prev_ok.all() and not ts.info[INVALID_ACTION].any()


# ----------------------------------------------------------------------------- invalid_penalty
def test_invalid_penalty_replaces_invalid_actions_when_the_env_does_not_judge():
    env = transform_actions(EchoEnv(MultiDiscrete([3, 4]), reports_invalid=False), invalid_penalty(-0.5))
    inner_mask, agent_mask, action, ts = np_tree(rollout_fn(env, 300, "uniform")(jax.random.PRNGKey(9)))
    assert agent_mask is None and ts.action_mask is None
    rows = np.arange(300)
    valid = inner_mask[rows, action[:, 0]] & inner_mask[rows, 3 + action[:, 1]]
    assert 0.1 < valid.mean() < 0.9
    np.testing.assert_array_equal(ts.info[INVALID_ACTION], ~valid)
    np.testing.assert_allclose(ts.reward, np.arange(1, 301) - 0.5 * ~valid)
    first_valid = np.stack([inner_mask[:, :3].argmax(1), inner_mask[:, 3:].argmax(1)], -1)
    np.testing.assert_array_equal(ts.obs, np.where(valid[:, None], action, first_valid))
    # The env itself never received an invalid action.
    seen = ts.obs.astype(int)
    assert np.all(inner_mask[rows, seen[:, 0]] & inner_mask[rows, 3 + seen[:, 1]])
    # Reset info has the same keys as step info (a scan carry needs one structure).
    _, ts0 = env.reset(jax.random.PRNGKey(0))
    assert set(ts0.info) == set(ts.info) and not ts0.info[INVALID_ACTION]


def test_invalid_penalty_follows_an_env_that_judges_its_actions():
    # EchoEnv reports info[INVALID_ACTION]: every in-space action reaches it unchanged and
    # the penalty follows its flag.
    env = transform_actions(EchoEnv(MultiDiscrete([3, 4])), invalid_penalty(-0.5))
    inner_mask, agent_mask, action, ts = np_tree(rollout_fn(env, 300, "uniform")(jax.random.PRNGKey(9)))
    assert agent_mask is None and ts.action_mask is None
    rows = np.arange(300)
    valid = inner_mask[rows, action[:, 0]] & inner_mask[rows, 3 + action[:, 1]]
    assert 0.1 < valid.mean() < 0.9
    np.testing.assert_array_equal(ts.obs, action)
    np.testing.assert_array_equal(ts.info[INVALID_ACTION], ~valid)
    np.testing.assert_allclose(ts.reward, np.arange(1, 301) - 0.5 * ~valid)
    _, ts0 = env.reset(jax.random.PRNGKey(0))
    assert set(ts0.info) == set(ts.info) and not ts0.info[INVALID_ACTION]
    # An action outside the space is still replaced (and penalised) before the env sees it.
    out = step_once(env, jnp.array([5, 1], jnp.int32))
    assert bool(out.info[INVALID_ACTION]) and out.obs[0] < 3


def test_first_valid_action_for_each_space():
    assert int(first_valid_action(Discrete(4), jnp.array([False, False, True, True]))) == 2
    assert first_valid_action(MultiBinary(2), jnp.array([[False, True], [True, True]])).tolist() == [1, 0]
    assert sorted(first_valid_action(Subset(5, 2), jnp.array([False, True, False, True, True])).tolist()) == [1, 3]
    box = first_valid_action(BOX, (jnp.array([0.5, 0.2]), jnp.array([1.0, 0.3])))
    assert box.tolist() == pytest.approx([0.5, 0.2])


# ----------------------------------------------------------------------------- interval_mask
def test_interval_mask_from_prior():
    prior = lambda obs: jnp.array([1.5, 0.5])  # a fixed prior action
    env = transform_actions(EchoEnv(BOX, masked=False), interval_mask(prior, width=0.75, eps=0.0))
    _, agent_mask, action, ts = np_tree(rollout_fn(env, 20, "uniform")(jax.random.PRNGKey(10)))
    np.testing.assert_allclose(agent_mask[0], np.broadcast_to([0.75, 0.0], (20, 2)))
    np.testing.assert_allclose(agent_mask[1], np.broadcast_to([2.0, 1.0], (20, 2)))
    np.testing.assert_allclose(ts.obs, np.clip(action, [0.75, 0.0], [2.0, 1.0]))
    # With the env's own mask: the intersection (or the env's mask if they do not meet).
    env = transform_actions(EchoEnv(BOX), interval_mask(prior, width=0.75, eps=0.0))
    inner_mask, agent_mask, _, ts = np_tree(rollout_fn(env, 100)(jax.random.PRNGKey(11)))
    low = np.maximum(inner_mask[0], [0.75, -0.25])
    high = np.minimum(inner_mask[1], [2.25, 1.25])
    meet = np.all(low <= high, -1, keepdims=True)
    np.testing.assert_allclose(agent_mask[0], np.where(meet, low, inner_mask[0]), atol=1e-6)
    np.testing.assert_allclose(agent_mask[1], np.where(meet, high, inner_mask[1]), atol=1e-6)
    assert not ts.info[INVALID_ACTION].any()
    # eps: the whole range in about eps of the states.
    env = transform_actions(EchoEnv(BOX, masked=False), interval_mask(prior, width=0.1, eps=0.3))
    _, agent_mask, _, _ = np_tree(rollout_fn(env, 400, "uniform")(jax.random.PRNGKey(12)))
    assert 0.2 < np.mean(agent_mask[0][:, 0] == -2.0) < 0.4


# ----------------------------------------------------------------------------- errors, stack
@pytest.mark.parametrize(
    "transform, space, words",
    [
        (discretize(3), Discrete(4), "Discrete(4)"),
        (bang_bang(), MultiDiscrete([2, 2]), "MultiDiscrete"),
        (rescale(), Box(-np.inf, np.inf, (2,)), "bounded"),
        (flatten(), BOX, "Box"),
        (interval_mask(lambda o: o, 0.1), Discrete(2), "Discrete(2)"),
    ],
)
def test_wrong_space_raises_at_wrap_time(transform, space, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        transform_actions(EchoEnv(space, masked=False), transform)


def test_bad_arguments_and_agent_actions():
    for make in (lambda: discretize(1), lambda: repeat(0), lambda: sticky(1.5), lambda: rescale(1, 1)):
        with pytest.raises(ValueError):
            make()
    with pytest.raises(ValueError, match="max_actions"):
        transform_actions(EchoEnv(MultiDiscrete([100, 100, 100]), masked=False), flatten(max_actions=1000))
    env = transform_actions(EchoEnv(BOX, masked=False), discretize(3))
    state, _ = env.reset(jax.random.PRNGKey(0))
    with pytest.raises(TypeError, match="integer"):  # the wrapper takes the agent's action
        env.step(jax.random.PRNGKey(0), state, jnp.zeros(2, jnp.float32))


def test_transformed_env_in_training_stack():
    env = wrap_for_training(transform_actions(EchoEnv(BOX), chain(discretize(3), flatten())), 4)
    state, ts0 = env.reset(jax.random.PRNGKey(0))
    state, ts = jax.jit(env.step)(jax.random.PRNGKey(1), state, jnp.arange(4, dtype=jnp.int32))
    assert ts.action_mask.shape == (4, 9) and ts.info[EPISODE_RETURN].shape == (4,)
    assert jax.tree_util.tree_structure(ts0) == jax.tree_util.tree_structure(ts)
    assert jax.tree_util.tree_map(lambda x: x.shape, ts0) == jax.tree_util.tree_map(lambda x: x.shape, ts)


# ----------------------------------------------------------------------------- registered envs
def registered_env(name, **kwargs):
    envs = pytest.importorskip("envs")
    if name not in envs.names():
        pytest.skip(f"env {name!r} is not registered yet")
    return envs.make(name, **kwargs)


def test_discretize_and_bang_bang_on_pendulum_give_exact_torques():
    pendulum = registered_env("pendulum")
    for transform, action, torque in [
        (chain(discretize(5), flatten()), jnp.int32(4), 2.0),
        (discretize(5), jnp.array([1], jnp.int32), -1.0),
        (bang_bang(), jnp.array([0], jnp.int32), -2.0),
    ]:
        # From the same state (pendulum dynamics ignore the step key), equal outcomes
        # mean equal torques.
        wrapped_env = transform_actions(pendulum, transform)
        state, _ = wrapped_env.reset(jax.random.PRNGKey(0))
        _, wrapped = wrapped_env.step(jax.random.PRNGKey(1), state, action)
        _, direct = pendulum.step(jax.random.PRNGKey(2), state.env_state, jnp.array([torque], jnp.float32))
        np.testing.assert_array_equal(wrapped.obs, direct.obs)
        assert float(wrapped.reward) == float(direct.reward)


def test_flattened_mining_masks_never_allow_invalid_actions():
    mining = registered_env("mining_grid", size=4)
    env = transform_actions(mining, flatten())
    assert env.spec.action_space == Discrete(16 * 4 ** 4)
    _, agent_mask, _, ts = np_tree(rollout_fn(env, 60)(jax.random.PRNGKey(13)))
    assert not ts.info[INVALID_ACTION].any()  # the env's own validity check
    # Uniform actions without the mask are mostly invalid: the penalty sees them.
    env = transform_actions(mining, invalid_penalty(-1.0))
    _, _, _, ts = np_tree(rollout_fn(env, 60, "uniform")(jax.random.PRNGKey(13)))
    assert ts.info[INVALID_ACTION].mean() > 0.5


def mining_penalty_rollout(size, steps, key, penalty=-1.0, rollouts=1):
    """Drives `invalid_penalty` on mining (with EpisodeStats between them, the masking
    study's stack) with a policy that draws, per step, one of three categories:
    0 (probability 1/2) work: a correct harvest or return when one is possible, else a
      move toward the nearest resource (the base when carrying);
    1 a uniformly drawn valid action;
    2 a uniformly drawn invalid action.
    The components an action does not read are uniform, so they often break the mask.
    Per step: category, whether it is a harvest/return, the env's own verdict, the mask
    test of the action, and the flag and reward of the penalised TimeStep; each
    [rollouts * steps] (independent layouts)."""
    from envs.mining import DIRECTIONS, HARVEST, MOVE, RETURN, Mining
    from jaxrl_actions.wrappers import EpisodeStats

    mining = Mining(size=size, max_steps=10_000)
    env = transform_actions(EpisodeStats(mining), invalid_penalty(penalty))
    space = mining.spec.action_space
    draws = 64
    grid = jnp.stack(jnp.meshgrid(jnp.arange(size), jnp.arange(size), indexing="ij"), -1)  # int32[n, n, 2]

    def pick(key, state, want_valid):
        """Rejection sampling: the first of `draws` uniform actions (source = the worker's
        cell when `want_valid`) whose validity is `want_valid`; uniform over that set."""
        cands = jax.random.randint(key, (draws, len(space.nvec)), 0, jnp.asarray(space.nvec))
        cands = cands.at[:, 0].set(jnp.where(want_valid, mining._worker_cell(state), cands[:, 0]))
        ok = jax.vmap(lambda a: mining.is_valid(state, a))(cands) == want_valid
        return cands[jnp.argmax(ok)]

    def work(key, state, base_action):
        allowed = mining._type_directions(state)
        kind = jnp.where(state.carrying, RETURN, HARVEST)
        can_work = allowed[kind].any()
        goal = jnp.where(state.carrying, jnp.all(grid == state.base, -1), state.resources > 0)  # bool[n, n]
        neighbours = state.worker + jnp.asarray(DIRECTIONS)  # int32[4, 2]
        dist = jnp.abs(neighbours[:, None, None, :] - grid).sum(-1)  # int32[4, n, n]
        dist = jnp.where(goal, dist, 4 * size).min(axis=(1, 2))
        move_dir = jnp.argmin(jnp.where(allowed[MOVE], dist, 4 * size + 1))
        dir_ = jnp.where(can_work, jax.random.categorical(key, jnp.log(allowed[kind])), move_dir)
        kind = jnp.where(can_work, kind, MOVE)
        action = base_action.at[1].set(kind).at[kind + 1].set(dir_)
        return jnp.where(can_work | allowed[MOVE].any(), action, base_action), can_work

    def body(carry, key):
        state, mstate, mask = carry
        k_cat, k_valid, k_invalid, k_dir, k_step = jax.random.split(key, 5)
        cat = jnp.maximum(jax.random.randint(k_cat, (), -1, 3), 0)
        valid_action = pick(k_valid, mstate, True)
        work_action, can_work = work(k_dir, mstate, valid_action)
        action = jnp.where(cat == 0, work_action, jnp.where(cat == 1, valid_action, pick(k_invalid, mstate, False)))
        record = dict(category=cat, harvest_return=(cat == 0) & can_work, env_valid=mining.is_valid(mstate, action),
                      respects=space.respects(action, mask))
        state, ts = env.step(k_step, state, action)
        record.update(flag=ts.info[INVALID_ACTION], reward=ts.reward)
        return (state, state.env_state.env_state, state.tstate.mask), record

    def rollout(key):
        state, _ = env.reset(key)
        carry = (state, state.env_state.env_state, state.tstate.mask)
        return jax.lax.scan(body, carry, jax.random.split(key, steps))[1]

    records = jax.jit(jax.vmap(rollout))(jax.random.split(key, rollouts))
    return jax.tree_util.tree_map(lambda x: x.reshape(-1), records)


def test_invalid_penalty_on_mining_flags_exactly_the_env_invalid_actions():
    registered_env("mining_grid")
    r = np_tree(mining_penalty_rollout(4, 600, jax.random.PRNGKey(4)))
    work, valid, invalid = r["harvest_return"], r["category"] == 1, r["category"] == 2
    assert work.sum() > 30 and valid.sum() > 30 and invalid.sum() > 30
    assert r["env_valid"][r["category"] < 2].all() and not r["env_valid"][invalid].any()
    # Every correct harvest / return counts as valid and earns its +1 unpenalised
    # (the mask test alone would reject many of them: their unread directions break it).
    assert not r["flag"][work].any() and (r["reward"][work] == 1.0).all()
    assert not r["respects"][work].all()
    # Uniformly drawn valid actions are never flagged; invalid ones always are, and cost
    # the penalty (an invalid action is a no-op, so the env's reward is 0).
    assert not r["flag"][valid].any() and (r["reward"][valid] >= 0).all()
    assert r["flag"][invalid].all() and (r["reward"][invalid] == -1.0).all()


def test_cartpole_training_stack_counts_episodes():
    env = wrap_for_training(registered_env("cartpole"), 4, normalize_obs=True)
    _, _, _, ts = np_tree(rollout_fn(env, 60, "batched")(jax.random.PRNGKey(14)))
    done = ts.terminated | ts.truncated
    assert done.any()
    # Reward is +1 per step, so a finished episode's return equals its length.
    np.testing.assert_allclose(ts.info[EPISODE_RETURN][done], ts.info[EPISODE_LENGTH][done])
    assert np.all(np.abs(ts.obs) <= 10.0) and ts.obs.shape == (60, 4, 4)
