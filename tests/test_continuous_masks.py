"""Continuous action masks (Stolz et al. 2024; CAMEL, Zhao et al. 2025): the gauge of a
zonotope equals a linear program's answer, every action an agent takes under a mask lies in
it (ray, generator, distributional and the prior band, with PPO, SAC and TD3), the truncated
normal's log-prob and entropy equal scipy's, and epsilon-masking lifts the mask as often as
its schedule says."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, optimize, stats

from jaxrl_actions import agents
from jaxrl_actions.actions import (
    EpsilonMasking,
    Zonotope,
    band,
    box,
    generator_mask,
    interval_mask,
    ray_mask,
    transform_actions,
)
from jaxrl_actions.actions.relevant_sets import gauge, ray_map
from jaxrl_actions.networks.heads import TruncatedNormal
from jaxrl_actions.spaces import Box
from jaxrl_actions.wrappers import AutoReset
from test_actions import EchoEnv, np_tree, rollout_fn

SPACE = Box(-np.ones(3, np.float32), np.ones(3, np.float32))


def lp_gauge(generators: np.ndarray, v: np.ndarray) -> float:
    """min t s.t. G lam = v, -t <= lam_i <= t: variables (lam, t)."""
    d, p = generators.shape
    cost = np.r_[np.zeros(p), 1.0]
    a_eq = np.c_[generators, np.zeros(d)]
    eye = np.eye(p)
    a_ub = np.r_[np.c_[eye, -np.ones(p)], np.c_[-eye, -np.ones(p)]]
    res = optimize.linprog(cost, A_ub=a_ub, b_ub=np.zeros(2 * p), A_eq=a_eq, b_eq=v,
                           bounds=[(None, None)] * (p + 1))
    assert res.status == 0, res.message
    return float(res.x[-1])


def in_zonotope(z: Zonotope, x: np.ndarray, tol: float = 1e-4) -> bool:
    return lp_gauge(np.asarray(z.generators, np.float64), np.asarray(x - z.center, np.float64)) <= 1.0 + tol


def obs_zonotope(obs) -> Zonotope:
    """A state-dependent relevant set inside [-1, 1]^3: 4 generators, center following obs."""
    generators = jnp.array([[0.3, 0.1, 0.0, 0.1], [0.0, 0.25, 0.1, -0.1], [0.1, 0.0, 0.2, 0.05]])
    center = 0.4 * jnp.tanh(obs[:3])
    return Zonotope(center, generators)


@pytest.mark.parametrize("d, p", [(1, 2), (2, 2), (2, 5), (3, 3), (3, 6)])
def test_gauge_equals_linear_program(d, p):
    rng = np.random.default_rng(d * 10 + p)
    for _ in range(5):
        generators = rng.normal(size=(d, p)).astype(np.float32)
        v = rng.normal(size=d).astype(np.float32)
        z = Zonotope(jnp.zeros(d), jnp.asarray(generators))
        assert float(gauge(z, jnp.asarray(v))) == pytest.approx(lp_gauge(generators.astype(np.float64), v), rel=1e-4)


def test_ray_map_keeps_rays_and_depths():
    z = obs_zonotope(jnp.array([0.5, -1.0, 0.2]))
    low, high = SPACE.low, SPACE.high
    rng = np.random.default_rng(0)
    for a in rng.uniform(-1, 1, size=(30, 3)).astype(np.float32):
        out = np.asarray(ray_map(z, low, high, jnp.asarray(a)))
        v, w = a - np.asarray(z.center), out - np.asarray(z.center)
        assert in_zonotope(z, out)
        assert np.dot(v, w) > 0 and np.linalg.norm(np.cross(v, w)) < 1e-4 * np.linalg.norm(v) * np.linalg.norm(w) + 1e-6
        box_depth = np.max(np.maximum(v / (high - z.center), -v / (z.center - low)))
        assert lp_gauge(np.asarray(z.generators, np.float64), w.astype(np.float64)) == pytest.approx(box_depth, rel=1e-3)
    # The box's corner reaches Z's boundary, its center stays put, Z = the box is the identity.
    assert lp_gauge(np.asarray(z.generators, np.float64),
                    np.asarray(ray_map(z, low, high, jnp.ones(3)) - z.center, np.float64)) == pytest.approx(1.0, rel=1e-4)
    np.testing.assert_allclose(ray_map(z, low, high, z.center), z.center)
    a = jnp.array([0.3, -0.9, 0.5])
    np.testing.assert_allclose(ray_map(box(low, high), low, high, a), a, atol=1e-6)


def test_truncated_normal_matches_scipy():
    loc = jnp.array([0.2, 3.0, -0.5, -4.0])
    scale = jnp.array([0.5, 0.3, 2.0, 0.4])
    low, high = jnp.array([-1.0, -1.0, 0.0, 0.5]), jnp.array([1.0, -0.5, 0.3, 1.0])
    dist = TruncatedNormal(loc, scale, low, high)
    a, b = (low - loc) / scale, (high - loc) / scale
    ref = stats.truncnorm(np.asarray(a, np.float64), np.asarray(b, np.float64), loc=np.asarray(loc, np.float64),
                          scale=np.asarray(scale, np.float64))
    x = (low + high) / 2 + 0.2 * (high - low)
    assert float(dist.log_prob(x)) == pytest.approx(float(np.sum(ref.logpdf(np.asarray(x, np.float64)))), rel=1e-4)
    # scipy's entropy overflows in the far tail (the last dimension): integrate -p log p instead.
    def entropy_1d(i):
        logpdf = lambda x: ref.logpdf(np.full(4, x))[i]
        return integrate.quad(lambda x: -np.exp(logpdf(x)) * logpdf(x), float(low[i]), float(high[i]))[0]

    assert float(dist.entropy()) == pytest.approx(sum(entropy_1d(i) for i in range(4)), rel=1e-3, abs=1e-3)
    samples = np.asarray(jax.vmap(dist.sample)(jax.random.split(jax.random.PRNGKey(0), 4000)))
    assert np.all(samples >= np.asarray(low)) and np.all(samples <= np.asarray(high))
    mean, std = ref.mean(), ref.std()
    assert np.all(np.abs(samples.mean(0) - mean) < 4 * std / np.sqrt(4000) + 1e-4), (samples.mean(0), mean)


def band_prior(obs):
    return band(0.8 * jnp.tanh(obs[:3] + 0.5), 0.3, SPACE.low, SPACE.high)


MASKED_ENVS = {
    # name: (transform, relevant set of an observation (None: the agent mask is the set))
    "band": (interval_mask(lambda obs: 0.8 * jnp.tanh(obs[:3] + 0.5), 0.3), band_prior),
    "ray": (ray_mask(obs_zonotope, num_generators=4), obs_zonotope),
    "generator": (generator_mask(obs_zonotope, 4), obs_zonotope),
}
TINY = {"ppo": dict(hidden_sizes=(8,)), "sac": dict(actor_hidden=(8,), critic_hidden=(8,)),
        "td3": dict(actor_hidden=(8,), critic_hidden=(8,))}
TRUNCATED = {"box_distribution": "truncated_normal"}
# Each mask form with each agent that has a reason to differ on it (PPO's tanh-Gaussian in a band
# is covered by test_heads.py's state-dependent interval test).
AGENT_SETUPS = [("ppo", TRUNCATED, "band"), ("sac", {}, "band"), ("td3", {}, "band"), ("td3", {}, "ray"),
                ("ppo", {}, "generator")]


@pytest.mark.parametrize("agent_name, overrides, mask", AGENT_SETUPS)
def test_agents_act_inside_the_mask(agent_name, overrides, mask):
    transform, relevant = MASKED_ENVS[mask]
    env = transform_actions(EchoEnv(SPACE, masked=False, max_steps=8), transform)
    agent = agents.get(agent_name)
    config = agent.config_cls(**TINY[agent_name], **overrides)
    state = jax.jit(lambda key: agent.init(key, env.spec, config))(jax.random.PRNGKey(1))

    @jax.jit
    def run(key):
        env_state, ts = env.reset(key)

        def body(carry, k):
            env_state, ts = carry
            k_act, k_step = jax.random.split(k)
            action = agent.act(state, ts.obs, ts.action_mask, k_act)
            env_state, next_ts = env.step(k_step, env_state, action, None)
            return (env_state, next_ts), (ts.obs, next_ts.obs)

        return jax.lax.scan(body, (env_state, ts), jax.random.split(key, 24))[1]

    before, executed = np_tree(run(jax.random.PRNGKey(2)))
    for obs, x in zip(before, executed):
        assert in_zonotope(relevant(jnp.asarray(obs)), x), (obs, x)


def test_epsilon_masking_follows_its_schedule():
    schedule = EpsilonMasking(start=0.0, end=1.0, steps=400)
    prior = lambda obs: jnp.zeros(2)
    env = AutoReset(transform_actions(EchoEnv(Box(-np.ones(2), np.ones(2)), masked=False, max_steps=4),
                                      interval_mask(prior, 0.1, schedule)))
    keys = jax.random.split(jax.random.PRNGKey(3), 64)
    _, agent_mask, _, ts = np_tree(jax.vmap(rollout_fn(env, 600, "uniform"))(keys))
    lifted = agent_mask[0][..., 0] == -1.0  # [envs, steps]: the whole range allowed
    # State t (t = 0..599) of each env copy is lifted with probability eps(t) = t / 400 (capped
    # at 1), except an episode's first state, built by the reset at eps(0) = 0.
    first = np.arange(600) % 4 == 0
    assert not lifted[:, first].any()
    for start in range(0, 600, 100):
        later = ~first[start:start + 100]
        eps = np.clip(np.arange(start, start + 100)[later] / 400, 0, 1).mean()
        sigma = np.sqrt(eps * (1 - eps) / (64 * 25)) + 1e-3
        assert abs(lifted[:, start:start + 100][:, later].mean() - eps) < 4 * sigma + 0.02, start
    # One draw per episode: once lifted, an episode stays lifted.
    episode = np.arange(600) // 4
    for e in range(150):
        rows = lifted[:, episode == e]
        assert np.all(np.diff(rows.astype(int), axis=1) >= 0)


def test_masks_refuse_bad_relevant_sets():
    env_space = Box(-np.ones(3, np.float32), np.ones(3, np.float32))
    with pytest.raises(ValueError, match="num_generators >= "):
        transform_actions(EchoEnv(env_space, masked=False), generator_mask(obs_zonotope, 2))
    with pytest.raises(ValueError, match=r"center \[3\]"):
        env = transform_actions(EchoEnv(env_space, masked=False), ray_mask(lambda o: Zonotope(jnp.zeros(2), jnp.eye(2))))
        env.reset(jax.random.PRNGKey(0))
    flat = lambda o: Zonotope(jnp.zeros(3), jnp.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]) * 0.5)
    with pytest.raises(ValueError, match="degenerate"):  # an eager reset sees the values
        transform_actions(EchoEnv(env_space, masked=False), ray_mask(flat)).reset(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="steps >= 1"):
        interval_mask(lambda o: o, 0.1, EpsilonMasking(steps=0))
    with pytest.raises(ValueError, match="box_distribution='beta'"):
        agents.get("ppo").init(jax.random.PRNGKey(0), EchoEnv(env_space, masked=False).spec,
                               agents.get("ppo").config_cls(box_distribution="beta"))
