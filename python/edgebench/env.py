"""Gymnasium environments over edgebench's simulator (the layout of
observations and actions is in ``edgebench._edgebench``'s docstring and
docs/python.md)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from ._edgebench import Sim, VecSim

#: Features of a task row, a link and a cache cell (see docs/python.md).
TASK_FEATURES = ("model", "input_mb", "deadline_s", "device_gflops", "x_m", "y_m", "vx_mps", "vy_mps", "last_edge")
LINK_FEATURES = ("accessible", "snr_db", "rate_mbps")
CACHE_FEATURES = ("cached", "ready_in_s", "last_used_slot")


def observation_space(dims: dict[str, Any]) -> spaces.Dict:
    t, n, m = dims["terminals"], dims["nodes"], dims["models"]
    f64 = np.float64
    return spaces.Dict(
        {
            "task_mask": spaces.Box(0.0, 1.0, (t,), f64),
            "task": spaces.Box(-np.inf, np.inf, (t, len(TASK_FEATURES)), f64),
            "links": spaces.Box(-np.inf, np.inf, (t, n, len(LINK_FEATURES)), f64),
            "cache": spaces.Box(-np.inf, np.inf, (n, m, len(CACHE_FEATURES)), f64),
            "time": spaces.Box(0.0, float(dims["slots"]), (2,), f64),
        }
    )


def _action(action: Any, length: int) -> np.ndarray:
    a = np.asarray(action)
    if a.shape != (length,):
        raise ValueError(f"action: expected shape ({length},), got {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"action: expected integers, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.int64)


class EdgeEnv(gym.Env):
    """One slot of ``scenario`` per step; reward = −(the slot's cost).

    ``reset(seed=s)`` builds the world of seed ``s`` exactly as
    ``edgebench run --seeds s`` does; ``reset()`` without a seed draws the
    next world seed from the environment's generator, itself seeded by
    ``seed`` here (so a fresh environment is deterministic too). Actions that
    break a capacity are made valid by the DPPO decoder's rule;
    ``info["changed"]`` counts the choices that were changed and
    ``info["action_mask"]`` (also ``action_masks()``, for sb3-contrib's
    MaskablePPO) the choices that can be valid.
    """

    metadata = {"render_modes": []}

    def __init__(self, scenario: str = "tiny", *, seed: int = 0, slots: int | None = None,
                 terminals: int | None = None) -> None:
        self._sim = Sim(scenario, seed, slots, terminals)
        self.dims = self._sim.dims()
        self.observation_space = observation_space(self.dims)
        self.action_space = spaces.MultiDiscrete(np.array(self.dims["nvec"], dtype=np.int64))
        self._np_random, _ = seeding.np_random(seed)
        self._length = len(self.dims["nvec"])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        world_seed = seed if seed is not None else int(self.np_random.integers(0, 2**63 - 1))
        if world_seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {world_seed}")
        self._sim.reset(world_seed)
        return self._sim.observation(), {"seed": world_seed, "action_mask": self._sim.action_mask()}

    def step(self, action: Any):
        reward, terminated, info = self._sim.step(_action(action, self._length))
        info["action_mask"] = self._sim.action_mask()
        return self._sim.observation(), reward, terminated, False, info

    def action_masks(self) -> np.ndarray:
        return self._sim.action_mask()


class EdgeVecEnv(gym.vector.VectorEnv):
    """``num_envs`` worlds of ``scenario`` stepped together in Rust (seeds
    ``seed``, ``seed + 1``, …; a world that ends is replaced by its seed plus
    ``num_envs``, and the observation returned is the new world's first slot:
    Gymnasium's same-step autoreset)."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(self, scenario: str = "tiny", num_envs: int = 8, *, seed: int = 0, slots: int | None = None,
                 terminals: int | None = None) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs: expected a positive integer, got {num_envs}")
        self._vec = VecSim(scenario, [seed + k for k in range(num_envs)], slots, terminals)
        self.dims = self._vec.dims()
        self.num_envs = num_envs
        self.single_observation_space = observation_space(self.dims)
        self.single_action_space = spaces.MultiDiscrete(np.array(self.dims["nvec"], dtype=np.int64))
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self._length = len(self.dims["nvec"])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._vec.reset([seed + k for k in range(self.num_envs)])
        return self._vec.observation(), {"seeds": np.array(self._vec.seeds), "action_mask": self._vec.action_mask()}

    def step(self, actions: Any):
        a = np.asarray(actions)
        if a.shape != (self.num_envs, self._length) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"actions: expected integers of shape ({self.num_envs}, {self._length}), got {a.dtype} {a.shape}")
        rewards, terminated, changed = self._vec.step(np.ascontiguousarray(a, dtype=np.int64))
        truncated = np.zeros(self.num_envs, dtype=bool)
        info = {"changed": changed, "action_mask": self._vec.action_mask()}
        return self._vec.observation(), rewards, terminated, truncated, info
