"""Off-policy machinery: TD targets, the replay buffer, the loop (final_obs bootstrapping,
masks, the empty-mask error flag, a vmap sweep over a learning rate) and the SAC, TD3/DDPG
and REDQ agents (mask-respecting actions, structural flags, learning).

The learning check runs each agent on cartpole_continuous for 10k env steps (TD3 20k)
(4 envs); most of each test's time is compiling the physics step on CPU.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import rlax
from flax import struct

import envs
from jaxrl_actions import td
from jaxrl_actions.agents import dqn, redq, sac, td3
from jaxrl_actions.buffers.replay import make_replay_buffer
from jaxrl_actions.environment import EnvSpec, Environment, scalar_timestep
from jaxrl_actions.spaces import Box, Discrete
from jaxrl_actions.training import off_policy
from jaxrl_actions.training.config import learning_starts
from jaxrl_actions.training.common import LEARNED, RUN_AXIS, EmptyMaskError, fused_train, raise_if_set, run_chunk
from jaxrl_actions.types import Transition
from conftest import LEARNED_FACTOR, LEARNED_FLOOR, balance_learning

TINY = dict(actor_hidden=(16, 16), critic_hidden=(16, 16))
BOX_SPEC = EnvSpec(Box(-np.inf, np.inf, (3,)), Box(-2.0, 2.0, (2,)), 10)
AGENTS = {
    "sac": (sac.AGENT, sac.SACConfig(**TINY)),
    "td3": (td3.AGENT, td3.TD3Config(**TINY)),
    "ddpg": (td3.DDPG_AGENT, td3.DDPGConfig(**TINY)),
    "redq": (redq.AGENT, redq.REDQConfig(num_critics=4, **TINY)),
}


def init_state(agent, config, spec=BOX_SPEC, seed=0):
    """Jitted init (flax's eager init dispatches op by op, slowly on a busy CPU)."""
    return jax.jit(agent.init, static_argnums=1)(jax.random.key(seed), spec, config)


def fake_batch(key, spec, size=8, masked=False):
    k_obs, k_act, k_rew, k_mask = jax.random.split(key, 4)
    obs = jax.random.normal(k_obs, (size,) + spec.obs_space.shape)
    action = jax.random.uniform(k_act, (size,) + spec.action_space.shape, minval=-1.0, maxval=1.0)
    mask = None
    if masked:
        low = jax.random.uniform(k_mask, (size,) + spec.action_space.shape, minval=-2.0, maxval=0.0)
        mask = (low, low + 1.0)
    return Transition(obs, action, jax.random.normal(k_rew, (size,)), jnp.zeros(size, bool), jnp.zeros(size, bool),
                      obs + 0.1, mask, mask)


# ---------------------------------------------------------------------------------------
# TD targets and replay


def test_td_targets_match_rlax_and_stop_at_termination():
    key = jax.random.key(0)
    reward, next_v, v = jax.random.normal(key, (3, 16))
    terminated = jnp.arange(16) % 3 == 0
    batch = Transition(None, None, reward, terminated, jnp.zeros(16, bool), None, None, None)
    target = td.transition_target(batch, next_v, 0.9)
    discount = 0.9 * (1.0 - terminated)
    reference = jax.vmap(rlax.td_learning)(v, reward, discount, next_v) + v
    np.testing.assert_allclose(target, reference, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(target[terminated], reward[terminated])
    np.testing.assert_allclose(td.soft_update({"w": jnp.zeros(2)}, {"w": jnp.ones(2)}, 0.25)["w"], [0.25, 0.25])


def test_replay_wraparound_and_uniform_sampling():
    buffer = make_replay_buffer(capacity=10, batch_size=10)

    def items(start, n=4):
        ids = jnp.arange(start, start + n, dtype=jnp.float32)
        return Transition(ids[:, None], ids[:, None], ids, ids > 1e9, ids > 1e9, ids[:, None] + 0.5, None, None)

    state = buffer.init(jax.tree_util.tree_map(lambda x: x[0], items(0)))
    add, sample = jax.jit(buffer.add), jax.jit(buffer.sample)
    state = add(state, items(0))
    assert int(buffer.size(state)) == 4
    seen = np.concatenate([np.asarray(sample(state, jax.random.key(i)).reward) for i in range(20)])
    assert set(seen.tolist()) == {0.0, 1.0, 2.0, 3.0}  # only what was written
    state = add(add(state, items(4)), items(8))  # 12 items into 10 slots: 0 and 1 overwritten
    assert int(buffer.size(state)) == 10
    batches = [sample(state, jax.random.key(i)) for i in range(60)]
    seen = np.concatenate([np.asarray(b.reward) for b in batches])
    assert set(seen.tolist()) == set(range(2, 12))
    counts = np.bincount(seen.astype(int), minlength=12)[2:]
    assert counts.min() > 0.5 * counts.mean()  # roughly uniform (600 draws over 10 items)
    b = batches[0]
    np.testing.assert_array_equal(b.obs[:, 0], b.reward)  # fields of one item stay together
    np.testing.assert_array_equal(b.next_obs[:, 0], b.reward + 0.5)
    assert b.action_mask is None
    with pytest.raises(ValueError, match="capacity=4"):
        make_replay_buffer(capacity=4, batch_size=8)
    with pytest.raises(ValueError, match="cannot add 12"):
        buffer.add(state, items(0, 12))


# ---------------------------------------------------------------------------------------
# Agents


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_act_keeps_actions_inside_masks(name):
    agent, config = AGENTS[name]
    state = init_state(agent, config)
    n = 64
    k_obs, k_low, k_width, k_act = jax.random.split(jax.random.key(1), 4)
    obs = 3.0 * jax.random.normal(k_obs, (n, 3))
    low = jax.random.uniform(k_low, (n, 2), minval=-2.0, maxval=1.5)
    high = jnp.minimum(low + jax.random.uniform(k_width, (n, 2), maxval=1.0), 2.0)
    high = high.at[:4].set(low[:4])  # degenerate intervals: a single allowed value
    keys = jax.random.split(k_act, n)
    for deterministic in (False, True):
        act = jax.jit(jax.vmap(lambda o, m, k: agent.act(state, o, m, k, deterministic)))
        actions = np.asarray(act(obs, (low, high), keys))
        assert actions.shape == (n, 2) and actions.dtype == np.float32
        assert (actions >= np.asarray(low)).all() and (actions <= np.asarray(high)).all(), name
        np.testing.assert_allclose(actions[:4], np.asarray(low[:4]), atol=1e-6)
        unmasked = np.asarray(jax.jit(jax.vmap(lambda o, k: agent.act(state, o, None, k, deterministic)))(obs, keys))
        assert (np.abs(unmasked) <= 2.0).all()


def test_structural_flags_ddpg_td3_redq():
    def critics(agent, config):
        state = init_state(agent, config)
        return state, jax.tree_util.tree_leaves(state.critic.params)[0].shape[0]

    assert critics(*AGENTS["td3"])[1] == 2
    assert critics(*AGENTS["ddpg"])[1] == 1
    assert critics(*AGENTS["redq"])[1] == 4
    ddpg = td3.DDPGConfig()
    assert (ddpg.twin_critics, ddpg.target_smoothing, ddpg.policy_delay) == (False, False, 1)

    # TD3 moves its actor (and targets) only every `policy_delay` steps; DDPG every step.
    batch = fake_batch(jax.random.key(2), BOX_SPEC, masked=True)
    for name, moves_at_first in (("td3", False), ("ddpg", True)):
        state, _ = critics(*AGENTS[name])
        update = jax.jit(AGENTS[name][0].update)
        one, metrics = update(state, batch, jax.random.key(3))
        two, _ = update(one, batch, jax.random.key(4))
        leaf = lambda s: jax.tree_util.tree_leaves(s.actor.params)[-1]
        assert (not np.allclose(leaf(one), leaf(state))) == moves_at_first, name
        assert not np.allclose(leaf(two), leaf(one)), name
        assert np.isfinite(float(metrics["critic_loss"]))

    # REDQ: actor once per policy_delay critic steps; all critics move every step.
    state, _ = critics(redq.AGENT, redq.REDQConfig(num_critics=4, policy_delay=3, **TINY))
    update = jax.jit(redq.AGENT.update)
    actor0 = jax.tree_util.tree_leaves(state.actor.params)[-1]
    critic0 = jax.tree_util.tree_leaves(state.critic.params)[-1]
    for i in range(3):
        state, _ = update(state, batch, jax.random.key(10 + i))
        moved = not np.allclose(jax.tree_util.tree_leaves(state.actor.params)[-1], actor0)
        assert moved == (i == 2)
    assert (np.abs(np.asarray(jax.tree_util.tree_leaves(state.critic.params)[-1] - critic0)).reshape(4, -1).max(1) > 0).all()


def test_redq_clips_log_std_and_follows_the_authors_init_and_target_entropy():
    from jaxrl_actions.agents.continuous import GaussianActor

    # log_std = clip(raw, -20, 2) (REDQ core.py), not the smooth tanh squash SAC uses.
    actor = GaussianActor(2, (8,), "relu", -20.0, 2.0, "clip", "xavier")
    params = jax.jit(actor.init)(jax.random.key(0), jnp.zeros(3))
    head = params["params"]["Dense_1"]  # the log_std head

    def log_std_with_bias(bias):
        p = {"params": {**params["params"], "Dense_1": {"kernel": jnp.zeros_like(head["kernel"]),
                                                        "bias": jnp.asarray(bias)}}}
        return np.asarray(actor.apply(p, jnp.ones(3))[1])

    np.testing.assert_allclose(log_std_with_bias([-30.0, 5.0]), [-20.0, 2.0])
    np.testing.assert_allclose(log_std_with_bias([-3.0, 1.5]), [-3.0, 1.5])
    smooth = GaussianActor(2, (8,), "relu", -20.0, 2.0, "tanh", "xavier")
    assert not np.allclose(smooth.apply({"params": {**params["params"], "Dense_1": {
        "kernel": jnp.zeros_like(head["kernel"]), "bias": jnp.array([-3.0, 1.5])}}}, jnp.ones(3))[1], [-3.0, 1.5])

    config = redq.REDQConfig(num_critics=4, **TINY)
    assert (config.log_std_bound, config.log_std_min, config.log_std_max) == ("clip", -20.0, 2.0)
    # xavier_uniform (gain 1) kernels and zero biases everywhere (core.py weights_init_).
    state = init_state(redq.AGENT, config)
    for tree in (state.actor.params, state.critic.params):
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
            leaf = np.asarray(leaf)
            if path[-1].key == "bias":
                assert (leaf == 0).all()
            else:
                fan_in, fan_out = leaf.shape[-2:]
                assert np.abs(leaf).max() <= np.sqrt(6.0 / (fan_in + fan_out)) + 1e-6
    # Target entropy: -|A| unless set; the experiments set the MBPO table's value.
    assert float(sac.target_entropy(config, 3)) == -3.0
    assert float(sac.target_entropy(config.replace(target_entropy=redq.MBPO_TARGET_ENTROPY["hopper"]), 3)) == -1.0
    assert redq.MBPO_TARGET_ENTROPY == {"hopper": -1.0, "halfcheetah": -3.0, "walker2d": -3.0, "ant": -4.0,
                                        "humanoid": -2.0}


def test_td3_paper_settings_use_pytorch_default_init():
    state = init_state(td3.AGENT, td3.TD3Config(**{**td3.PAPER_2018, "actor_hidden": (40, 30),
                                                   "critic_hidden": (40, 30)}))
    for tree in (state.actor.params, state.critic.params):
        kernels = {p[:-1]: np.asarray(l) for p, l in jax.tree_util.tree_leaves_with_path(tree) if p[-1].key == "kernel"}
        for path, bias in jax.tree_util.tree_leaves_with_path(tree):
            if path[-1].key != "bias":
                continue
            bound = 1.0 / np.sqrt(kernels[path[:-1]].shape[-2])  # U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            assert np.abs(np.asarray(bias)).max() <= bound + 1e-6 and np.abs(np.asarray(bias)).max() > bound / 4
            assert np.abs(kernels[path[:-1]]).max() <= bound + 1e-6


def test_bad_configs_fail_before_compiling():
    with pytest.raises(ValueError, match="target_subset=3"):
        sac.init(jax.random.key(0), BOX_SPEC, sac.SACConfig(num_critics=2, target_subset=3))
    with pytest.raises(ValueError, match="actor_lr"):
        sac.init(jax.random.key(0), BOX_SPEC, sac.SACConfig(actor_lr=-1.0))
    with pytest.raises(ValueError, match="Box action space"):
        td3.init(jax.random.key(0), EnvSpec(BOX_SPEC.obs_space, Discrete(3), 10), td3.TD3Config())
    env = envs.make("pendulum")
    with pytest.raises(ValueError, match="buffer_size=8"):
        off_policy.make_trainer(env, sac.AGENT, sac.SACConfig(buffer_size=8, batch_size=16))
    with pytest.raises(ValueError, match="off_policy agent"):
        off_policy.make_trainer(env, sac.AGENT.__class__(**{**sac.AGENT.__dict__, "family": "on_policy"}), sac.SACConfig())


# ---------------------------------------------------------------------------------------
# The loop


@struct.dataclass
class IntervalState:
    time: jax.Array
    low: jax.Array
    high: jax.Array


class MaskedInterval(Environment):
    """Test env with a state-dependent Box mask. Observation: [time/10, low (2), high (2)].
    Action: Box(-2, 2, (2,)); the mask (low, high) is redrawn each step. Reward:
    -|a - midpoint|^2. No termination; truncated at 10 steps.
    `empty_at`: the mask after that many steps has low > high (no valid action)."""

    def __init__(self, empty_at: int = -1):
        self.empty_at = empty_at

    @property
    def spec(self):
        return EnvSpec(Box(-np.inf, np.inf, (5,)), Box(-2.0, 2.0, (2,)), 10)

    def _interval(self, key, time):
        k_low, k_width = jax.random.split(key)
        low = jax.random.uniform(k_low, (2,), minval=-2.0, maxval=1.0)
        high = low + jax.random.uniform(k_width, (2,), minval=0.1, maxval=1.0)
        empty = time == self.empty_at
        return jnp.where(empty, high + 1.0, low), high

    def _ts(self, state, reward, truncated):
        obs = jnp.concatenate([state.time[None] / 10.0, state.low, state.high])
        return scalar_timestep(obs, reward, False, truncated, action_mask=(state.low, state.high))

    def reset_env(self, key, params):
        state = IntervalState(jnp.int32(0), *self._interval(key, 0))
        return state, self._ts(state, 0.0, False)

    def step_env(self, key, state, action, params):
        reward = -jnp.sum(jnp.square(action - 0.5 * (state.low + state.high)))
        time = state.time + 1
        new = IntervalState(time, *self._interval(key, time))
        return new, self._ts(new, reward, time >= 10)


def small_config(**overrides):
    base = dict(total_steps=120, num_envs=2, batch_size=16, buffer_size=200, warmup_steps=40, utd=1, **TINY)
    return sac.SACConfig(**{**base, **overrides})


def test_loop_respects_masks_and_flags_empty_ones():
    config = small_config()
    trainer = off_policy.make_trainer(MaskedInterval(), sac.AGENT, config)
    carry, metrics = jax.jit(fused_train(trainer))(jax.random.key(0))
    assert not bool(carry.error.set)
    stored = carry.buffer_state.experience  # [1, capacity, ...]; 120 items written
    low, high = (np.asarray(m[0, :120]) for m in stored.action_mask)
    actions = np.asarray(stored.action[0, :120])
    assert ((actions >= low) & (actions <= high)).all()  # warm-up samples and policy actions alike
    # The bootstrap mask is next_obs's own, also where an episode was cut (obs holds low, high).
    next_low, next_high = (np.asarray(m[0, :120]) for m in stored.next_action_mask)
    next_obs = np.asarray(stored.next_obs[0, :120])
    assert np.asarray(stored.truncated[0, :120]).sum() == 12
    np.testing.assert_array_equal(next_low, next_obs[:, 1:3])
    np.testing.assert_array_equal(next_high, next_obs[:, 3:5])
    assert float(metrics["learning"][-1]) == 1.0 and float(metrics["learning"][0]) == 0.0
    assert int(metrics["env_steps"][-1]) == 120

    # No learning needed to see the flag (utd=0 keeps the compile small).
    empty = off_policy.make_trainer(MaskedInterval(empty_at=3), sac.AGENT, config.replace(utd=0, total_steps=20))
    carry, _ = jax.jit(fused_train(empty))(jax.random.key(0))
    assert bool(carry.error.set) and int(carry.error.update) == 3
    with pytest.raises(EmptyMaskError, match="update 3"):
        raise_if_set(carry.error, empty.steps_per_update)


def test_loop_bootstraps_truncation_from_final_obs_and_sweeps_lr():
    """Pendulum cut at 5 steps, 2 envs, two critic learning rates under one vmap."""
    env = envs.make("pendulum", max_steps=5)
    config = small_config(total_steps=60, warmup_steps=20, batch_size=8)
    configs = jax.tree_util.tree_map(lambda x: jnp.stack([jnp.asarray(x)] * 2), config)
    configs = configs.replace(critic_lr=jnp.array([1e-3, 1e-2]))
    run = jax.jit(jax.vmap(lambda k, c: fused_train(off_policy.make_trainer(env, sac.AGENT, c))(k)))
    carry, metrics = run(jax.random.split(jax.random.key(0), 2), configs)
    assert metrics["learn/critic_loss"].shape == (2, 30)
    kernel = jax.tree_util.tree_leaves(carry.agent_state.critic.params)[-1]  # [runs, critics, ...]
    assert not np.allclose(kernel[0], kernel[1])  # the two learning rates trained differently
    exp = jax.tree_util.tree_map(lambda x: np.asarray(x[0, 0, :60]), carry.buffer_state.experience)
    steps = 30
    obs, next_obs = exp.obs.reshape(steps, 2, 3), exp.next_obs.reshape(steps, 2, 3)
    truncated, terminated = exp.truncated.reshape(steps, 2), exp.terminated.reshape(steps, 2)
    assert not terminated.any()
    np.testing.assert_array_equal(truncated, (np.arange(1, steps + 1) % 5 == 0)[:, None].repeat(2, 1))
    cont = ~truncated[:-1]
    np.testing.assert_allclose(next_obs[:-1][cont], obs[1:][cont])  # ordinary steps chain up
    # At a cut, next_obs is the old episode's last observation, not the new episode's first.
    assert (np.abs(next_obs[:-1][~cont] - obs[1:][~cont]).max(axis=-1) > 1e-3).all()
    assert np.isfinite(np.asarray(metrics["learn/critic_loss"])).all()


def test_named_run_axis_keeps_learning_a_branch_with_the_same_numbers():
    """The runner inits the runs in one program and runs chunks in another, so a chunk gets
    the iteration count batched [runs]. Under its vmap (axis_name=RUN_AXIS) the conds on it
    share one predicate and stay `cond`s (no learning phase or buffer copy in skipped
    iterations); without the name they turn into selects. Both give the same numbers."""
    config = dqn.DQNConfig(total_steps=40, num_envs=2, batch_size=8, buffer_size=200, warmup_steps=10,
                           update_every=3, n_step=2, hidden_sizes=(16,))
    trainer = off_policy.make_trainer(envs.make("cartpole"), dqn.AGENT, config)
    carry = jax.jit(jax.vmap(trainer.init))(jax.random.split(jax.random.key(0), 2))

    def chunk(c):
        return run_chunk(trainer, c, trainer.num_updates)

    named, unnamed = jax.vmap(chunk, axis_name=RUN_AXIS), jax.vmap(chunk)

    def branch_count(fn):
        return str(jax.make_jaxpr(fn)(carry)).count(" cond[")

    assert branch_count(named) >= branch_count(unnamed) + 3  # act, n-step add, learn
    (carry_a, metrics_a), (carry_b, metrics_b) = jax.jit(named)(carry), jax.jit(unnamed)(carry)
    np.testing.assert_allclose(metrics_a["learn/q_loss"], metrics_b["learn/q_loss"], rtol=1e-5, atol=1e-6)
    learning_iterations = range(learning_starts(config), trainer.num_updates, config.update_every)
    assert int(jnp.sum(metrics_a["learn/q_loss"] != 0)) == 2 * len(learning_iterations)
    schedule = np.isin(np.arange(trainer.num_updates), learning_iterations)
    np.testing.assert_array_equal(np.asarray(metrics_a[LEARNED]), np.stack([schedule, schedule]).astype(np.float32))
    for a, b in zip(jax.tree_util.tree_leaves(carry_a.agent_state), jax.tree_util.tree_leaves(carry_b.agent_state)):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=1e-5, atol=1e-6)


def n_step_reference(reward, terminated, truncated, gamma, n):
    """By hand, for each start t of a [T, B] trajectory with a full window: (return, index
    of the last step used, discount)."""
    T, B = reward.shape
    out = []
    for t in range(T - n + 1):
        row = []
        for b in range(B):
            ret, k = 0.0, 0
            while True:
                ret += gamma ** k * reward[t + k, b]
                if terminated[t + k, b] or truncated[t + k, b] or k == n - 1:
                    break
                k += 1
            row.append((ret, t + k, gamma ** (k + 1)))
        out.append(row)
    return out


def check_n_step(stored, one_step, gamma, n):
    """`stored` (Transition [T - n + 1, B]) against n-step sums of `one_step` ([T, B])."""
    reference = n_step_reference(one_step.reward, one_step.terminated, one_step.truncated, gamma, n)
    for t, row in enumerate(reference):
        for b, (ret, last, discount) in enumerate(row):
            assert stored.reward[t, b] == pytest.approx(ret, rel=1e-5, abs=1e-5), (t, b)
            assert stored.discount[t, b] == pytest.approx(discount, rel=1e-6)
            np.testing.assert_array_equal(stored.obs[t, b], one_step.obs[t, b])
            np.testing.assert_array_equal(stored.action[t, b], one_step.action[t, b])
            np.testing.assert_array_equal(stored.next_obs[t, b], one_step.next_obs[last, b])
            assert stored.terminated[t, b] == one_step.terminated[last, b]
            assert stored.truncated[t, b] == one_step.truncated[last, b]


def test_n_step_transition_matches_reference():
    T, B, n, gamma = 14, 3, 4, 0.9
    keys = jax.random.split(jax.random.key(5), 4)
    one_step = Transition(
        obs=jax.random.normal(keys[0], (T, B, 2)), action=jnp.arange(T * B).reshape(T, B),
        reward=jax.random.normal(keys[1], (T, B)),
        terminated=jax.random.bernoulli(keys[2], 0.15, (T, B)), truncated=jax.random.bernoulli(keys[3], 0.15, (T, B)),
        next_obs=jnp.arange(T * B * 2, dtype=jnp.float32).reshape(T, B, 2), action_mask=None, next_action_mask=None)
    windows = [jax.tree_util.tree_map(lambda x: x[t:t + n], one_step) for t in range(T - n + 1)]
    stored = jax.tree_util.tree_map(lambda *x: np.stack(x), *[td.n_step_transition(w, gamma) for w in windows])
    one_step = jax.tree_util.tree_map(np.asarray, one_step)
    assert (one_step.terminated | one_step.truncated).sum() >= 5  # the draw cuts windows early
    check_n_step(stored, one_step, gamma, n)
    # A replay batch bootstraps with each transition's own discount.
    batch = jax.tree_util.tree_map(lambda x: x[0], stored)
    target = td.transition_target(batch, jnp.ones(B), 0.9, reward_scale=2.0)
    np.testing.assert_allclose(target, 2.0 * batch.reward + batch.discount * (1 - batch.terminated), rtol=1e-6)


def test_loop_stores_n_step_transitions():
    """Random warm-up actions only (utd=0), so runs with n_step 1 and 3 see one trajectory."""
    env = envs.make("pendulum", max_steps=5)
    config = small_config(total_steps=40, warmup_steps=40, utd=0, gamma=0.9)

    def buffer_contents(n):
        trainer = off_policy.make_trainer(env, sac.AGENT, config.replace(n_step=n))
        carry, _ = jax.jit(fused_train(trainer))(jax.random.key(3))
        items = 20 - n + 1
        return jax.tree_util.tree_map(lambda x: np.asarray(x[0, :2 * items]).reshape((items, 2) + x.shape[2:]),
                                      carry.buffer_state.experience)

    one_step, three_step = buffer_contents(1), buffer_contents(3)
    assert one_step.truncated.sum() == 8 and one_step.discount is None
    check_n_step(three_step, one_step, 0.9, 3)
    with pytest.raises(ValueError, match="n_step=0"):
        off_policy.make_trainer(env, sac.AGENT, config.replace(n_step=0))


# ---------------------------------------------------------------------------------------
# Learning


LEARNING = {
    "sac": (sac.AGENT, sac.SACConfig),
    "td3": (td3.AGENT, lambda **kw: td3.TD3Config(**{**kw, "total_steps": 20_000})),  # at 10k: 9, worse than random (23)
    "redq": (redq.AGENT, lambda **kw: redq.REDQConfig(num_critics=4, utd=4, policy_delay=4, **kw)),
}


@pytest.mark.parametrize("name", sorted(LEARNING))
def test_agent_learns_to_balance(name, cartpole_continuous):
    agent, make_config = LEARNING[name]
    config = make_config(total_steps=10_000, num_envs=4, batch_size=128, buffer_size=20_000, warmup_steps=1_000,
                         actor_hidden=(64, 64), critic_hidden=(64, 64), actor_lr=1e-3, critic_lr=1e-3)
    random_policy, trained = balance_learning(cartpole_continuous, agent, config)  # warm-up: uniform random actions
    assert trained > LEARNED_FACTOR * random_policy and trained > LEARNED_FLOOR, (name, random_policy, trained)
