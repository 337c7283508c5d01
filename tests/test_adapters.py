"""The Jumanji and gymnax adapters: episode flags, observation layouts, exact joint masks,
final observations for bootstrapping, and the error naming the extra to install.

A tiny hand-written Jumanji env (Jumanji's specs and TimeSteps, a joint (2, 3) mask that is
no product of per-component masks) pins the translation without compiling a real task;
BinPack-v2 and gymnax CartPole-v1 check the real envs.
"""
import builtins
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DEFAULT_OPTIMIZATION

jumanji = pytest.importorskip("jumanji", reason="needs the jumanji extra")

import envs  # noqa: E402
from jaxrl_actions.adapters.jumanji import JumanjiEnv  # noqa: E402
from jaxrl_actions.spaces import Box, Discrete, MultiDiscrete, Tuple  # noqa: E402
from jaxrl_actions.types import INVALID_ACTION  # noqa: E402
from jaxrl_actions.wrappers import AutoReset  # noqa: E402


# ----------------------------------------------------------------------------- a toy Jumanji env


class Pair(NamedTuple):
    a: jax.Array  # int32[2]
    b: jax.Array  # bool[]


class ToyObs(NamedTuple):
    x: jax.Array  # float32[3]
    pair: Pair
    action_mask: jax.Array  # bool[nvec]


class Toy:
    """Jumanji-style env: action (i, j) in [nvec[0]] x [nvec[1]]; i == 1 terminates (discount
    0), the third step otherwise truncates (discount 1); per-agent reward [1, 2]; joint mask
    mask[i, j] = (i + j + count) even, which no per-component mask can express."""

    def __init__(self, time_limit=None, nvec=(3, 4)):
        self.nvec = nvec
        if time_limit is not None:
            self.time_limit = time_limit

    @property
    def observation_spec(self):
        from jumanji import specs

        pair = specs.Spec(Pair, "Pair", a=specs.BoundedArray((2,), jnp.int32, -1, 5, "a"),
                          b=specs.BoundedArray((), bool, False, True, "b"))
        return specs.Spec(ToyObs, "ToyObs", x=specs.Array((3,), jnp.float32, "x"), pair=pair,
                          action_mask=specs.BoundedArray(self.nvec, bool, False, True, "action_mask"))

    @property
    def action_spec(self):
        from jumanji import specs

        return specs.MultiDiscreteArray(jnp.array(self.nvec, jnp.int32), name="action")

    def _obs(self, count):
        i, j = jnp.meshgrid(jnp.arange(self.nvec[0]), jnp.arange(self.nvec[1]), indexing="ij")
        mask = (i + j + count) % 2 == 0
        return ToyObs(jnp.full((3,), count, jnp.float32), Pair(jnp.array([count, -1], jnp.int32), count > 0), mask)

    def reset(self, key):
        from jumanji.types import restart

        return jnp.int32(0), restart(self._obs(jnp.int32(0)), shape=(2,))

    def step(self, count, action):
        from jumanji.types import termination, transition, truncation

        count = count + 1
        obs, reward = self._obs(count), jnp.array([1.0, 2.0])
        ts = jax.lax.cond(
            action[0] == 1, lambda: termination(reward, obs, shape=(2,)),
            lambda: jax.lax.cond(count >= 3, lambda: truncation(reward, obs, shape=(2,)),
                                 lambda: transition(reward, obs, shape=(2,))))
        return count, ts


def test_joint_mask_becomes_flat_discrete_over_the_product():
    env = JumanjiEnv(Toy())
    assert env.layout.kind == "joint" and env.spec.action_space == Discrete(12)
    _, ts = env.reset(jax.random.key(0))
    # mask[i, j] = (i + j) even at count 0, row-major over (3, 4)
    np.testing.assert_array_equal(ts.action_mask, [1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0])
    for a in range(12):
        np.testing.assert_array_equal(env.to_jumanji_action(jnp.int32(a)), [a // 4, a % 4])


def test_flags_reward_and_invalid_actions():
    env = JumanjiEnv(Toy())
    state, ts = env.reset(jax.random.key(0))
    assert not ts.terminated and not ts.truncated and not ts.info[INVALID_ACTION]
    state, ts = env.step(jax.random.key(1), state, jnp.int32(0))  # (0, 0): valid, goes on
    assert float(ts.reward) == 3.0  # per-agent rewards summed
    assert not ts.terminated and not ts.truncated and not ts.info[INVALID_ACTION]
    state, ts = env.step(jax.random.key(1), state, jnp.int32(0))  # (0, 0) at count 1: odd -> invalid
    assert ts.info[INVALID_ACTION] and not ts.done
    state, ts = env.step(jax.random.key(1), state, jnp.int32(1))  # count 3: LAST, discount 1
    assert ts.truncated and not ts.terminated
    state, ts = env.reset(jax.random.key(0))
    state, ts = env.step(jax.random.key(1), state, jnp.int32(5))  # (1, 1): LAST, discount 0
    assert ts.terminated and not ts.truncated


def test_max_steps_truncates_and_env_time_limit_is_the_default():
    assert JumanjiEnv(Toy()).spec.max_episode_steps is None
    assert JumanjiEnv(Toy(time_limit=7)).spec.max_episode_steps == 7
    env = JumanjiEnv(Toy(), max_steps=1)
    state, _ = env.reset(jax.random.key(0))
    _, ts = env.step(jax.random.key(1), state, jnp.int32(0))
    assert ts.truncated and not ts.terminated
    _, ts = env.step(jax.random.key(1), state, jnp.int32(5))  # termination wins at the limit
    assert ts.terminated and not ts.truncated


def test_flat_and_structured_observations():
    flat = JumanjiEnv(Toy())
    _, ts = flat.reset(jax.random.key(0))
    # x (3) then pair.a (2) then pair.b (1); the mask is dropped
    np.testing.assert_array_equal(ts.obs, [0, 0, 0, 0, -1, 0])
    assert ts.obs.dtype == jnp.float32 and flat.spec.obs_space.shape == (6,)
    np.testing.assert_array_equal(flat.spec.obs_space.low, [-np.inf] * 3 + [-1, -1, 0])
    assert bool(flat.spec.obs_space.contains(ts.obs))

    structured = JumanjiEnv(Toy(), observation="structured")
    _, ts = structured.reset(jax.random.key(0))
    assert ts.obs._fields == ("x", "pair") and ts.obs.pair._fields == ("a", "b")
    assert ts.obs.pair.a.dtype == jnp.int32
    assert isinstance(structured.spec.obs_space, Tuple) and bool(structured.spec.obs_space.contains(ts.obs))

    kept = JumanjiEnv(Toy(), observation="structured", keep_mask_in_obs=True)
    _, ts = kept.reset(jax.random.key(0))
    assert ts.obs._fields == ("x", "pair", "action_mask")
    assert JumanjiEnv(Toy(), keep_mask_in_obs=True).spec.obs_space.shape == (18,)


def test_mask_kind_per_dimension_and_bad_options():
    # A (2, 3) mask over nvec (2, 3) also reads as one row per component: it must be chosen.
    with pytest.raises(ValueError, match="reads both"):
        JumanjiEnv(Toy(nvec=(2, 3)))
    assert JumanjiEnv(Toy(nvec=(2, 3)), mask_kind="joint").spec.action_space == Discrete(6)
    env = JumanjiEnv(Toy(nvec=(2, 3)), mask_kind="per_dimension")
    assert env.spec.action_space == MultiDiscrete([2, 3])
    _, ts = env.reset(jax.random.key(0))
    np.testing.assert_array_equal(ts.action_mask, [True, False, False, True, False])  # row 0[:2], row 1
    # an empty row (a finished agent) allows every choice; so does an empty joint mask
    rows = jnp.array([[False, False, False], [False, True, False]])
    np.testing.assert_array_equal(env.to_mask(rows), [True, True, False, True, False])
    np.testing.assert_array_equal(JumanjiEnv(Toy()).to_mask(jnp.zeros((3, 4), bool)), np.ones(12, bool))
    with pytest.raises(ValueError, match="mask_kind='per_dimension' needs"):
        JumanjiEnv(Toy(), mask_kind="per_dimension")
    with pytest.raises(ValueError, match="observation='pixels'"):
        JumanjiEnv(Toy(), observation="pixels")
    with pytest.raises(ValueError, match="mask_kind"):
        JumanjiEnv(Toy(), mask_kind="marginal")
    with pytest.raises(KeyError, match="Knapsak-v1"):
        JumanjiEnv.from_name("Knapsak-v1")


def test_registered_ids_and_layouts():
    jumanji_names = {n for n in envs.names() if n.startswith("jumanji/")}
    assert {f"jumanji/{i}" for i in jumanji.registered_environments()} <= jumanji_names
    assert "gymnax/CartPole-v1" in envs.names()
    knapsack = envs.make("jumanji/Knapsack-v1")
    assert knapsack.name == "jumanji/Knapsack-v1" and knapsack.spec.action_space == Discrete(50)
    assert knapsack.spec.obs_space.shape == (150,) and knapsack.spec.max_episode_steps == 50
    jobshop = envs.make("jumanji/JobShop-v0")
    assert jobshop.layout.kind == "per_dimension" and jobshop.spec.action_space == MultiDiscrete([21] * 10)
    search = envs.make("jumanji/SearchAndRescue-v0")
    assert search.spec.action_space == Box(-1.0, 1.0, (2, 2))


@pytest.mark.parametrize("name, extra", [("jumanji/Knapsack-v1", "jumanji"), ("gymnax/CartPole-v1", "gymnax")])
def test_missing_package_names_the_extra(monkeypatch, name, extra):
    real_import = builtins.__import__

    def no_package(module, *args, **kwargs):
        if module.split(".")[0] == extra:
            raise ModuleNotFoundError(f"No module named {extra!r}", name=extra)
        return real_import(module, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_package)
    with pytest.raises(ImportError, match=rf'pip install -e "\.\[{extra}\]"'):
        envs.make(name)


# ----------------------------------------------------------------------------- BinPack joint masks

BINPACK_ENVS = 256
BINPACK_STEPS = 8


def test_binpack_joint_mask_sampling_is_exact():
    """Masked sampling over the flattened (ems, item) product never picks a pair that
    Jumanji's own (40, 20) mask forbids, over thousands of states; sampling each component
    from its marginal mask (what a per-dimension MultiDiscrete mask allows) does."""
    env = envs.make("jumanji/BinPack-v2")
    assert env.layout.kind == "joint" and env.layout.nvec == (40, 20)
    space = env.spec.action_space
    keys = jax.random.split(jax.random.key(0), BINPACK_ENVS)
    state, ts = jax.jit(jax.vmap(env.reset))(keys)

    @jax.jit
    @jax.vmap
    def check(key, state, mask):
        k_joint, k_rows, k_cols, k_step = jax.random.split(key, 4)
        jumanji_mask = state.jumanji_state.action_mask  # bool[40, 20], Jumanji's own
        action = space.sample(k_joint, mask)
        ems, item = env.to_jumanji_action(action)
        # the per-dimension alternative: a valid ems, then independently a valid item
        marginal_ems = jax.random.categorical(k_rows, jnp.where(jumanji_mask.any(1), 0.0, -jnp.inf))
        marginal_item = jax.random.categorical(k_cols, jnp.where(jumanji_mask.any(0), 0.0, -jnp.inf))
        state, ts = env.step(k_step, state, action)
        return state, ts, jumanji_mask.any(), jumanji_mask[ems, item], jumanji_mask[marginal_ems, marginal_item]

    alive = np.ones(BINPACK_ENVS, bool)
    checked = joint_valid = marginal_valid = 0
    for t in range(BINPACK_STEPS):
        keys = jax.random.split(jax.random.key(t + 1), BINPACK_ENVS)
        state, ts, has_valid, valid, marginal = check(keys, state, ts.action_mask)
        live = alive & np.asarray(has_valid)  # states of episodes still running
        checked += live.sum()
        joint_valid += (np.asarray(valid) & live).sum()
        marginal_valid += (np.asarray(marginal) & live).sum()
        assert not np.asarray(ts.info[INVALID_ACTION])[live].any()
        alive = live & ~np.asarray(ts.done)
    assert checked >= 1500, f"only {checked} live states sampled"
    assert joint_valid == checked
    assert marginal_valid < checked, "the per-dimension control found no invalid pair; the test would not notice one"


# ----------------------------------------------------------------------------- gymnax

def test_gymnax_cartpole_matches_gymnax_step_and_keeps_final_obs():
    """AutoReset over the adapter gives what gymnax's own auto-resetting `step` gives for
    the same keys, and `final_obs` is gymnax's `final_observation` (the stepped state before
    the reset), with the time limit as truncation."""
    pytest.importorskip("gymnax", reason="needs the gymnax extra")
    from jaxrl_actions.adapters.gymnax import GymnaxEnv, make_gymnax_env

    gymnax_env, params = make_gymnax_env("CartPole-v1")
    params = params.replace(max_steps_in_episode=12)  # truncations within a short run
    env = AutoReset(GymnaxEnv(gymnax_env, params))
    assert env.spec.max_episode_steps == 12

    def run(key):
        k_reset, k_run = jax.random.split(key)
        state, ts = env.reset(k_reset)
        g_obs, g_state = gymnax_env.reset(k_reset, params)

        def body(carry, key):
            state, g_state = carry
            k_action, k_step = jax.random.split(key)
            action = jax.random.randint(k_action, (), 0, 2)
            state, ts = env.step(k_step, state, action)
            g_obs, g_state, g_reward, g_term, g_trunc, g_info = gymnax_env.step(k_step, g_state, action, params)
            same = (jnp.allclose(ts.obs, g_obs) & jnp.allclose(ts.final_obs, g_info["final_observation"])
                    & (ts.terminated == g_term) & (ts.truncated == (g_trunc & ~g_term)) & (ts.reward == g_reward))
            return (state, g_state), (same, ts.terminated, ts.truncated)

        return jax.lax.scan(body, (state, g_state), jax.random.split(k_run, 200))[1]

    same, terminated, truncated = jax.jit(run)(jax.random.key(0))
    assert np.asarray(same).all()
    assert np.asarray(terminated).any() and np.asarray(truncated).any()


def test_ppo_on_gymnax_cartpole_trains_like_the_native_cartpole():
    """Same dynamics, reset distribution and episode ends (gymnax CartPole-v1 and our
    `cartpole` both follow Gymnasium CartPole-v1), so PPO with the same seeds and budget
    follows the same learning curve through the adapter. Two different programs agree to the
    last bit only where XLA compiles them alike: at conftest's quick compile level the curves
    part after some updates (random-action rollouts still match exactly), so this comparison
    is made at XLA's default level, the one users run."""
    pytest.importorskip("gymnax", reason="needs the gymnax extra")
    from jaxrl_actions.agents import ppo
    from jaxrl_actions.training import make_train

    config = ppo.PPOConfig(total_steps=16_384, num_envs=4, rollout_len=128, update_epochs=4, num_minibatches=4,
                           hidden_sizes=(64, 64), lr=2.5e-3, gamma=0.99, gae_lambda=0.95, ent_coef=0.01)
    keys = jax.random.split(jax.random.key(0), 2)
    curves = {}
    for name in ("cartpole", "gymnax/CartPole-v1"):
        env = envs.make(name)
        _, metrics = jax.jit(jax.vmap(make_train(env, ppo.AGENT, config)), compiler_options=DEFAULT_OPTIMIZATION)(keys)
        curves[name] = np.asarray(metrics["episode_return"])  # [seeds, updates]
    native, adapted = curves["cartpole"], curves["gymnax/CartPole-v1"]
    np.testing.assert_allclose(adapted, native, rtol=1e-4)
    assert native[:, -4:].mean() > 2 * native[:, :2].mean()  # it learned, so the comparison says something


def test_fields_unflattens_a_flat_observation():
    flat, structured = JumanjiEnv(Toy()), JumanjiEnv(Toy(), observation="structured")
    state, _ = flat.reset(jax.random.key(0))
    _, ts_flat = flat.step(jax.random.key(1), state, jnp.int32(0))
    state, _ = structured.reset(jax.random.key(0))
    _, ts = structured.step(jax.random.key(1), state, jnp.int32(0))
    fields = flat.fields(ts_flat.obs)
    assert fields._fields == ts.obs._fields and fields.pair._fields == ts.obs.pair._fields
    for got, want in zip(jax.tree.leaves(fields), jax.tree.leaves(ts.obs)):
        np.testing.assert_array_equal(got, np.asarray(want, np.float32))
    assert structured.fields(ts.obs) is ts.obs


def test_knapsack_greedy_and_tsp_nearest_neighbour_choices():
    from envs.jumanji_heuristics import knapsack_greedy, tsp_nearest_neighbour

    knapsack = envs.make("jumanji/Knapsack-v1")
    weights, values = jnp.full(50, 0.5).at[:3].set(jnp.array([0.1, 0.2, 0.4])), jnp.full(50, 0.1)
    values = values.at[:3].set(jnp.array([0.2, 0.6, 1.0]))  # ratios 2, 3, 2.5; the rest 0.2
    obs = jnp.concatenate([weights, values, jnp.zeros(50)])  # fields: weights, values, packed_items
    mask = jnp.ones(50, bool)
    act = knapsack_greedy(knapsack)
    assert int(act(obs, mask, None)) == 1
    assert int(act(obs, mask.at[1].set(False), None)) == 2  # item 1 packed or too heavy

    tsp = envs.make("jumanji/TSP-v1")
    coords = jnp.stack([jnp.arange(20) * 0.05, jnp.zeros(20)], -1).at[7].set(jnp.array([0.31, 0.0]))
    trajectory = jnp.full(20, -1)
    act = tsp_nearest_neighbour(tsp)
    first = jnp.concatenate([coords.ravel(), jnp.array([-1.0]), trajectory])  # coordinates, position, trajectory
    assert int(act(first, jnp.ones(20, bool), None)) == 0
    at_6 = jnp.concatenate([coords.ravel(), jnp.array([6.0]), trajectory])
    assert int(act(at_6, jnp.ones(20, bool).at[6].set(False), None)) == 7  # 0.31 is nearer 0.30 than 0.25 is


@pytest.mark.parametrize("name", ["jumanji/Knapsack-v1", "jumanji/TSP-v1"])
def test_item_observations_hold_the_fields_and_the_heuristics_act_alike(name):
    """observation="items": one row per item/city whose columns are hand-checkable from
    Jumanji's own observation, and the heuristics choose what they choose on flat observations."""
    from envs.jumanji_heuristics import knapsack_greedy, tsp_nearest_neighbour

    heuristic = knapsack_greedy if "Knapsack" in name else tsp_nearest_neighbour
    flat, items = envs.make(name), envs.make(name, observation="items")
    n = flat.spec.action_space.n
    assert items.spec.obs_space.shape[0] == n and items.spec.action_space == flat.spec.action_space

    def episode(env):
        act = heuristic(env)

        def step(carry, key):
            state, ts = carry
            action = act(ts.obs, ts.action_mask, key)
            state, next_ts = env.step(key, state, action)
            return (state, next_ts), (ts.obs, ts.action_mask, action)

        return jax.lax.scan(step, env.reset(jax.random.key(4)), jax.random.split(jax.random.key(5), 6))[1]

    flat_obs, _, flat_actions = jax.jit(episode, static_argnums=0)(flat)
    item_obs, masks, item_actions = jax.jit(episode, static_argnums=0)(items)
    np.testing.assert_array_equal(flat_actions, item_actions)
    f = flat.fields(flat_obs)
    if "Knapsack" in name:
        remaining = 12.5 - np.sum(np.asarray(f.weights) * np.asarray(f.packed_items), axis=-1)
        np.testing.assert_allclose(item_obs[..., 0], f.weights)
        np.testing.assert_array_equal(item_obs[..., 2], f.packed_items)
        np.testing.assert_allclose(item_obs[..., 4], np.repeat(remaining[:, None], n, 1), rtol=1e-5)
        np.testing.assert_array_equal(item_obs[..., 5] > 0.5, np.asarray(f.weights) <= remaining[:, None] + 1e-6)
    else:
        position = np.asarray(f.position, int)
        visited = np.asarray(item_obs[..., 2]) > 0.5
        np.testing.assert_array_equal(visited[1:], ~np.asarray(masks[1:]))  # the mask: unvisited cities
        np.testing.assert_array_equal(np.argmax(item_obs[1:, :, 3], -1), position[1:])
        np.testing.assert_array_equal(items.fields(item_obs).position, position)
        here = np.asarray(f.coordinates)[np.arange(6), np.maximum(position, 0)]
        distance = np.linalg.norm(np.asarray(f.coordinates) - here[:, None], axis=-1) * (position >= 0)[:, None]
        np.testing.assert_allclose(item_obs[..., 7], distance, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="ItemsView"):
        envs.make("jumanji/BinPack-v2", observation="items")
