"""Training and evaluation on one coRMAB instance (`agents.cormab`), all inside `jit`.

    evaluate(policy, problem, key, settings)            -> mean expected reward per step
    train_sequoia(problem, key, config)                 -> SequoiaResult (networks, curves)

A policy is `policy(states int32[J], key) -> levels int32[U]`. Evaluation follows the
authors' protocol (algos/baselines.py, driver.py): 50 episodes of 20 steps from states
drawn with P(state 1) = 0.2, the metric the mean over all steps of the step's (expected)
reward.

SEQUOIA's training (algos/dqn_estimator.py) in two phases:
  1. warm start: regress Q(s, a) on the next-step expected reward over a fixed set of
     (state, action) pairs (structured ones plus random ones), 300 epochs;
  2. DQN: 100 episodes of 20 steps, one gradient step per env step, batch 32, Huber loss,
     gradients clipped by value at 5, target r + gamma Q_target(s', argmax_a Q_target(s', a)),
     a soft target update with tau = 1e-6 (so the target stays the warm-started network),
     epsilon = 0.05 + 0.85 exp(-step / 1000), the learning rate x0.9 per episode.
The replay buffer starts with 1000 of the warm-start transitions. In the path domain the
training ignores the walk constraint (budget only) and the evaluation keeps it, as the
authors' routing code does (`relax_walk`). The argmax is
`agents.cormab.maximise` (local search) where the authors solve a MILP; the trained network
with `greedy_add` in its place is the paper's "iterative DQN" baseline (driver.py scores the
same network both ways): `sequoia_policy(..., selection="greedy")`.
Deliberate differences: the replay buffer samples uniformly (the authors' is a prioritised
buffer whose priorities are never updated, so its sampling and weights are uniform too);
warm-start minibatches are a permutation per epoch (theirs: random draws); no memoisation
of next-state argmaxes (a compute shortcut).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxrl_actions import combinatorial
from jaxrl_actions.agents.cormab import (
    CoupledProblem,
    QNetwork,
    SearchSettings,
    expected_reward,
    greedy_add,
    null_action,
    pulls,
    q_argmax,
    step_arms,
)
from jaxrl_actions.types import Array

Policy = Callable[[Array, Array], Array]  # (states int32[J], key) -> levels int32[U]
SELECTIONS = ("local_search", "greedy")


class EvalSettings(NamedTuple):
    episodes: int = 50  # driver.py: V = 50
    horizon: int = 20  # H = 20
    start_up: float = 0.2  # evaluation resets: P(state 1) = 0.2


def start_states(key: Array, num_arms: int, start_up: float) -> Array:
    return jax.random.bernoulli(key, start_up, (num_arms,)).astype(jnp.int32)


def episode(policy: Policy, problem: CoupledProblem, key: Array, horizon: int, start_up: float) -> Array:
    """float32[horizon]: the expected reward of each step of one episode."""
    k_start, key = jax.random.split(key)

    def step(states, step_key):
        k_act, k_env = jax.random.split(step_key)
        levels = policy(states, k_act)
        return step_arms(k_env, problem, states, levels), expected_reward(problem, states, levels)

    _, rewards = jax.lax.scan(step, start_states(k_start, problem.num_arms, start_up), jax.random.split(key, horizon))
    return rewards


def evaluate(policy: Policy, problem: CoupledProblem, key: Array, settings: EvalSettings = EvalSettings()) -> Array:
    """The mean expected reward per step over `settings.episodes` episodes: float32[]."""
    keys = jax.random.split(key, settings.episodes)
    return jax.vmap(lambda k: episode(policy, problem, k, settings.horizon, settings.start_up))(keys).mean()


# --- SEQUOIA -------------------------------------------------------------------------------
class SequoiaConfig(NamedTuple):
    hidden: tuple = (16, 32)  # dqn_estimator.py
    gamma: float = 0.99  # driver.py
    lr: float = 2.5e-4  # AdamW lr, eps 1.5e-4, amsgrad (dqn_estimator.py)
    adam_eps: float = 1.5e-4
    weight_decay: float = 0.01  # torch AdamW's default, which the authors keep
    lr_decay: float = 0.9  # ExponentialLR(0.9), stepped once per episode (per warm-start epoch)
    warm_epochs: int = 300
    batch_size: int = 32
    episodes: int = 100
    horizon: int = 20
    start_up: float = 0.5  # training resets: P(state 1) = 0.5
    tau: float = 1e-6  # soft target update per step
    grad_clip: float = 5.0  # clip_grad_value_
    eps_end: float = 0.05  # epsilon = eps_end + eps_span * exp(-step / eps_decay)
    eps_span: float = 0.85
    eps_decay: float = 1000.0
    random_warm_states: int = 1000  # 50 * H (get_training_data)
    random_warm_actions: int = 10
    replay_seed: int = 1000  # warm-start transitions the replay buffer starts with (MEMORY_SIZE / 10)
    relax_walk: bool = True  # train under the budget alone, the walk only at evaluation (routing_approximator.py)
    search: SearchSettings = SearchSettings()

    def check(self) -> None:
        for name in ("lr", "batch_size", "episodes", "horizon", "warm_epochs"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SequoiaConfig.{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.gamma < 1.0 or not 0.0 <= self.tau <= 1.0:
            raise ValueError(f"SequoiaConfig needs 0 <= gamma < 1 and 0 <= tau <= 1, got gamma={self.gamma}, tau={self.tau}")


class SequoiaResult(NamedTuple):
    params: Any  # the online network's parameters
    target_params: Any
    warm_loss: Array  # float32[warm_epochs] mean regression loss per epoch
    episode_reward: Array  # float32[episodes] mean expected reward per step while training
    td_loss: Array  # float32[episodes] mean Huber loss per episode


def _optimizer(config: SequoiaConfig, steps_per_decay: int):
    schedule = optax.exponential_decay(config.lr, steps_per_decay, config.lr_decay, staircase=True)
    return optax.chain(optax.clip(config.grad_clip), optax.scale_by_amsgrad(eps=config.adam_eps),
                       optax.add_decayed_weights(config.weight_decay), optax.scale_by_learning_rate(schedule))


def q_selector(network: QNetwork, problem: CoupledProblem, config: SequoiaConfig, selection: str = "local_search"):
    """(params, states, key) -> the joint action the Q-network rates highest (approximately)."""
    if selection not in SELECTIONS:
        raise ValueError(f"selection={selection!r}; choose one of {SELECTIONS}")

    def select(params, states, key):
        if selection == "greedy":
            score = lambda a: network.apply(params, pulls(a), states)  # noqa: E731
            return greedy_add(score, problem.constraints, null_action(problem))
        return q_argmax(network, params, problem, states, key, config.search)

    return select


def _one_hot_rows(n: int) -> Array:
    """int32[2 + 2n, n]: all ones, all zeros, each one-hot and each one-cold vector."""
    eye = jnp.eye(n, dtype=jnp.int32)
    return jnp.concatenate([jnp.ones((1, n), jnp.int32), jnp.zeros((1, n), jnp.int32), eye, 1 - eye])


def warm_start_pairs(problem: CoupledProblem, key: Array, config: SequoiaConfig) -> tuple[Array, Array]:
    """(states int32[P, J], levels int32[P, U]), the authors' warm-start set
    (dqn_estimator.py get_training_data; its actions need not be feasible):
      - the states {all 1, all 0, one-hot, one-cold} x the actions {10 random feasible} +
        {all, none, one-hot, one-cold};
      - 50 H random states, each with a matching action, 10 random feasible ones and the
        structured ones. Sigmoid domain: B random arms at state 1, the rest 0, and B random
        interventions; arm domains: random states with B random arms at state 3, and those
        B arms pulled."""
    j, u = problem.num_arms, problem.num_units
    starters = _one_hot_rows(u)
    k_act, k_state, k_match, k_rand = jax.random.split(key, 4)

    def random_actions(k, count):
        return jax.vmap(lambda kk: combinatorial.random_feasible(kk, problem.constraints))(jax.random.split(k, count))

    def grid(states, actions):  # every state with every action
        return jnp.repeat(states, actions.shape[1], axis=0), actions.reshape(-1, u)

    fixed_states = _one_hot_rows(j)
    fixed_actions = jnp.concatenate([random_actions(k_act, config.random_warm_actions), starters])
    pairs = [grid(fixed_states, jnp.broadcast_to(fixed_actions, (fixed_states.shape[0],) + fixed_actions.shape))]

    def random_state(k_s, k_m):
        chosen = jax.random.permutation(k_s, j)[:problem.budget]
        if problem.link == "sigmoid":
            states = jnp.zeros(j, jnp.int32).at[chosen].set(1)
            matching = jnp.zeros(u, jnp.int32).at[jax.random.permutation(k_m, u)[:problem.budget]].set(1)
        else:
            states = jax.random.randint(k_m, (j,), 0, 4).at[chosen].set(3)
            matching = jnp.zeros(u, jnp.int32).at[chosen].set(1)
        return states, matching

    n = config.random_warm_states
    states, matching = jax.vmap(random_state)(jax.random.split(k_state, n), jax.random.split(k_match, n))
    extra = jax.vmap(lambda k: random_actions(k, config.random_warm_actions))(jax.random.split(k_rand, n))
    actions = jnp.concatenate([matching[:, None], extra, jnp.broadcast_to(starters, (n,) + starters.shape)], axis=1)
    pairs.append(grid(states, actions))
    return jnp.concatenate([p[0] for p in pairs]), jnp.concatenate([p[1] for p in pairs])


def warm_start(network: QNetwork, params, problem: CoupledProblem, states: Array, levels: Array, key: Array,
               config: SequoiaConfig):
    """(params, loss per epoch): Q regressed on next-step expected reward (MSE)."""
    targets = jax.vmap(lambda s, a: expected_reward(problem, s, a))(states, levels)
    features = jax.vmap(pulls)(levels)
    batches = states.shape[0] // config.batch_size
    optimizer = _optimizer(config, batches)
    opt_state = optimizer.init(params)

    def loss_fn(p, idx):
        return jnp.mean((network.apply(p, features[idx], states[idx]) - targets[idx]) ** 2)

    def epoch(carry, k):
        p, o = carry
        order = jax.random.permutation(k, states.shape[0])[: batches * config.batch_size].reshape(batches, -1)

        def step(carry, idx):
            p, o = carry
            loss, grads = jax.value_and_grad(loss_fn)(p, idx)
            updates, o = optimizer.update(grads, o, p)
            return (optax.apply_updates(p, updates), o), loss

        (p, o), losses = jax.lax.scan(step, (p, o), order)
        return (p, o), losses.mean()

    (params, _), losses = jax.lax.scan(epoch, (params, opt_state), jax.random.split(key, config.warm_epochs))
    return params, losses


class Buffer(NamedTuple):
    states: Array  # int32[capacity, J]
    levels: Array  # int32[capacity, U]
    rewards: Array  # float32[capacity]
    next_states: Array  # int32[capacity, J]
    size: Array  # int32[]


def train_sequoia(problem: CoupledProblem, key: Array, config: SequoiaConfig = SequoiaConfig()) -> SequoiaResult:
    """Warm start, then DQN with the Q-network's argmax over the feasible set; one instance."""
    config.check()
    if config.relax_walk:
        problem = problem.replace(constraints=problem.constraints.replace(walk_slots=0))
    network = QNetwork(tuple(config.hidden))
    j, u = problem.num_arms, problem.num_units
    k_init, k_pairs, k_warm, k_seed, k_train = jax.random.split(key, 5)
    params = network.init(k_init, jnp.zeros(u), jnp.zeros(j, jnp.int32))
    warm_states, warm_levels = warm_start_pairs(problem, k_pairs, config)
    params, warm_loss = warm_start(network, params, problem, warm_states, warm_levels, k_warm, config)
    select = q_selector(network, problem, config)
    optimizer = _optimizer(config, config.horizon)
    seeded = min(config.replay_seed, warm_states.shape[0])
    capacity = seeded + config.episodes * config.horizon

    def td_loss(p, target_p, batch, key):
        next_levels = jax.vmap(lambda s, k: select(target_p, s, k))(batch.next_states, jax.random.split(key, batch.rewards.shape[0]))
        next_q = jax.vmap(lambda a, s: network.apply(target_p, pulls(a), s))(next_levels, batch.next_states)
        target = jax.lax.stop_gradient(batch.rewards + config.gamma * next_q)
        q = jax.vmap(lambda a, s: network.apply(p, pulls(a), s))(batch.levels, batch.states)
        return optax.huber_loss(q, target).mean()

    def env_step(carry, step_key):
        params, target_params, opt_state, buffer, states, step = carry
        k_explore, k_random, k_select, k_env, k_sample, k_target = jax.random.split(step_key, 6)
        epsilon = config.eps_end + config.eps_span * jnp.exp(-step / config.eps_decay)
        greedy = select(params, states, k_select)
        levels = jnp.where(jax.random.bernoulli(k_explore, epsilon),
                           combinatorial.random_feasible(k_random, problem.constraints), greedy)
        reward = expected_reward(problem, states, levels)
        next_states = step_arms(k_env, problem, states, levels)
        i = buffer.size
        buffer = Buffer(buffer.states.at[i].set(states), buffer.levels.at[i].set(levels), buffer.rewards.at[i].set(reward),
                        buffer.next_states.at[i].set(next_states), i + 1)
        idx = jax.random.randint(k_sample, (config.batch_size,), 0, jnp.maximum(buffer.size, 1))
        batch = Buffer(buffer.states[idx], buffer.levels[idx], buffer.rewards[idx], buffer.next_states[idx], buffer.size)
        loss, grads = jax.value_and_grad(td_loss)(params, target_params, batch, k_target)
        learn = buffer.size >= config.batch_size
        updates, new_opt = optimizer.update(grads, opt_state, params)
        params, opt_state = jax.tree.map(lambda new, old: jnp.where(learn, new, old),
                                         (optax.apply_updates(params, updates), new_opt), (params, opt_state))
        target_params = jax.tree.map(lambda t, o: (1.0 - config.tau) * t + config.tau * o, target_params, params)
        return (params, target_params, opt_state, buffer, next_states, step + 1), (reward, jnp.where(learn, loss, jnp.nan))

    def train_episode(carry, episode_key):
        params, target_params, opt_state, buffer, step = carry
        k_start, k_steps = jax.random.split(episode_key)
        states = start_states(k_start, j, config.start_up)
        (params, target_params, opt_state, buffer, _, step), (rewards, losses) = jax.lax.scan(
            env_step, (params, target_params, opt_state, buffer, states, step), jax.random.split(k_steps, config.horizon))
        return (params, target_params, opt_state, buffer, step), (rewards.mean(), jnp.nanmean(losses))

    k_pick, k_next = jax.random.split(k_seed)
    pick = jax.random.choice(k_pick, warm_states.shape[0], (seeded,), replace=False)
    seed_s, seed_a = warm_states[pick], warm_levels[pick]
    seed_r = jax.vmap(lambda s, a: expected_reward(problem, s, a))(seed_s, seed_a)
    seed_next = jax.vmap(lambda k, s, a: step_arms(k, problem, s, a))(jax.random.split(k_next, seeded), seed_s, seed_a)
    empty = capacity - seeded
    buffer = Buffer(jnp.concatenate([seed_s, jnp.zeros((empty, j), jnp.int32)]),
                    jnp.concatenate([seed_a, jnp.zeros((empty, u), jnp.int32)]),
                    jnp.concatenate([seed_r, jnp.zeros(empty)]),
                    jnp.concatenate([seed_next, jnp.zeros((empty, j), jnp.int32)]), jnp.int32(seeded))
    carry = (params, params, optimizer.init(params), buffer, jnp.float32(0))
    (params, target_params, _, _, _), (episode_reward, losses) = jax.lax.scan(
        train_episode, carry, jax.random.split(k_train, config.episodes))
    return SequoiaResult(params, target_params, warm_loss, episode_reward, losses)


def sequoia_policy(problem: CoupledProblem, result: SequoiaResult, config: SequoiaConfig = SequoiaConfig(),
                   selection: str = "local_search") -> Policy:
    """The trained network's argmax as a policy (no exploration); selection="greedy" is the
    paper's iterative-DQN baseline."""
    select = q_selector(QNetwork(tuple(config.hidden)), problem, config, selection)
    return lambda states, key: select(result.params, states, key)
