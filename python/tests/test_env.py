"""EdgeEnv and EdgeVecEnv: Gymnasium's checker, seeding, fresh arrays, the
repair of invalid actions, errors as ValueError, and the CLI's worlds."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import edgebench
from edgebench import EdgeEnv, EdgeVecEnv


def local_action(dims):
    return np.zeros(len(dims["nvec"]), dtype=np.int64)


def test_passes_gymnasiums_env_checker():
    check_env(EdgeEnv("tiny"), skip_render_check=True)


def test_spaces_have_the_scenarios_fixed_shapes(tiny_dims):
    env = EdgeEnv("tiny")
    t, n, m = tiny_dims["terminals"], tiny_dims["nodes"], tiny_dims["models"]
    obs, info = env.reset(seed=1)
    assert obs["task"].shape == (t, 9) and obs["links"].shape == (t, n, 3) and obs["cache"].shape == (n, m, 3)
    assert env.action_space.shape == (4 * t + n * m,)
    assert info["action_mask"].shape == (int(np.sum(tiny_dims["nvec"])),)
    assert env.observation_space.contains(obs)


def test_same_seed_same_episode_and_fresh_arrays():
    env = EdgeEnv("tiny")
    rng = np.random.default_rng(5)
    actions = [env.action_space.sample() for _ in range(10)]
    runs = []
    for _ in range(2):
        obs, _ = env.reset(seed=3)
        first = {k: v.copy() for k, v in obs.items()}
        obs["links"][:] = 99.0  # must not touch the environment
        again = env._sim.observation()
        assert all(np.array_equal(again[k], first[k]) for k in first)
        assert not np.shares_memory(again["links"], obs["links"])
        rewards = [env.step(a)[1] for a in actions]
        runs.append(rewards)
    assert runs[0] == runs[1]
    env.reset(seed=4)
    assert [env.step(a)[1] for a in actions] != runs[0]
    del rng


def test_reset_without_seed_is_deterministic_from_the_constructor_seed():
    seeds = []
    for _ in range(2):
        env = EdgeEnv("tiny", seed=11)
        seeds.append([env.reset()[1]["seed"] for _ in range(3)])
    assert seeds[0] == seeds[1] and len(set(seeds[0])) == 3


def test_an_all_local_episode_costs_what_the_clis_local_policy_costs(tmp_path):
    env = EdgeEnv("tiny")
    total = {}
    for seed in (1, 2):
        env.reset(seed=seed)
        cost, done = 0.0, False
        while not done:
            _, reward, done, truncated, info = env.step(local_action(env.dims))
            assert not truncated and info["changed"] == 0
            cost -= reward
        total[seed] = cost
    res = edgebench.run("tiny", seeds=[1, 2], policies=["local"], out=tmp_path / "r")
    by_seed = dict(zip(res.summary["seed"].to_list(), res.summary["cost"].to_list()))
    for seed in (1, 2):
        assert total[seed] == pytest.approx(by_seed[seed], rel=1e-12)


def test_invalid_choices_are_repaired_and_counted(tiny_dims):
    env = EdgeEnv("tiny")
    obs, info = env.reset(seed=1)
    t, n = tiny_dims["terminals"], tiny_dims["nodes"]
    mask = info["action_mask"]
    per = 2 + n + tiny_dims["cuts"] + len(tiny_dims["rb_levels"]) + len(tiny_dims["cu_levels"])
    # Ask every task to offload to a node it cannot reach, where there is one.
    action = local_action(tiny_dims)
    asked = 0
    for u in np.flatnonzero(obs["task_mask"]):
        unreachable = [k for k in range(n) if not mask[u * per + 2 + k]]
        if unreachable:
            action[4 * u] = 2 + unreachable[0]
            asked += 1
    assert asked > 0, "tiny must have a task out of some node's reach"
    _, _, _, _, info = env.step(action)
    assert info["changed"] >= asked
    # Asking for the largest levels everywhere: repaired to what fits.
    env.reset(seed=1)
    greedy_levels = local_action(tiny_dims)
    for u in range(t):
        greedy_levels[4 * u: 4 * u + 4] = [2, 0, len(tiny_dims["rb_levels"]) - 1, len(tiny_dims["cu_levels"]) - 1]
    _, reward, _, _, info = env.step(greedy_levels)
    assert np.isfinite(reward) and info["changed"] >= 0


def test_bad_input_raises_value_error_with_the_clis_message():
    with pytest.raises(ValueError, match="unknown preset"):
        EdgeEnv("no-such-scenario")
    env = EdgeEnv("tiny")
    env.reset(seed=1)
    with pytest.raises(ValueError, match="expected shape"):
        env.step(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="integers"):
        env.step(np.zeros(env.action_space.shape, dtype=np.float32))
    bad = local_action(env.dims)
    bad[0] = 999
    with pytest.raises(ValueError, match=r"action\[0\]"):
        env.step(bad)
    with pytest.raises(ValueError, match="slots"):
        EdgeEnv("tiny", slots=0)


def test_stepping_after_the_end_raises_and_reset_recovers():
    env = EdgeEnv("tiny", slots=2)
    env.reset(seed=1)
    a = local_action(env.dims)
    assert env.step(a)[2] is False
    assert env.step(a)[2] is True
    with pytest.raises(ValueError, match="reset"):
        env.step(a)
    env.reset(seed=1)
    assert env.step(a)[2] is False


def test_the_vector_env_steps_the_same_worlds_as_single_envs():
    vec = EdgeVecEnv("tiny", num_envs=3, seed=7, slots=5)
    singles = [EdgeEnv("tiny", slots=5) for _ in range(3)]
    vobs, _ = vec.reset(seed=7)
    for k, e in enumerate(singles):
        obs, _ = e.reset(seed=7 + k)
        assert np.array_equal(vobs["links"][k], obs["links"])
    rng = np.random.default_rng(0)
    for step in range(7):  # past the end: the worlds restart at seed + 3
        actions = np.stack([vec.single_action_space.sample() for _ in range(3)])
        _, rewards, terminated, _, _ = vec.step(actions)
        for k, e in enumerate(singles):
            _, r, done, _, _ = e.step(actions[k])
            assert r == rewards[k] and done == terminated[k]
            if done:
                e.reset(seed=7 + k + 3)
    del rng


def test_gymnasium_can_make_it_through_a_spec():
    env = gym.make("edgebench/EdgeEnv-v0", scenario="tiny")
    obs, _ = env.reset(seed=1)
    assert obs["task_mask"].shape[0] == env.unwrapped.dims["terminals"]
