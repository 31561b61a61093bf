"""The examples run (briefly), and the module lives with torch in one process."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgebench

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))


def test_maskable_ppo_trained_briefly_beats_random_on_held_out_seeds():
    import maskable_ppo_tiny

    table = maskable_ppo_tiny.main(["--steps", "4096", "--seeds", "101,102,103,104"])
    cost = dict(zip(table["policy"].to_list(), table["cost"].to_list()))
    assert cost["maskable-ppo"] < cost["random"], cost
    assert {"dppo", "milp", "greedy"} <= set(cost) and cost["bound"] <= min(cost.values())


def test_the_mask_rebuilt_from_an_observation_is_the_environments():
    import maskable_ppo_tiny

    env = edgebench.EdgeEnv("tiny")
    obs, info = env.reset(seed=2)
    for _ in range(10):
        assert np.array_equal(maskable_ppo_tiny.mask_from_observation(obs, env.dims), info["action_mask"])
        obs, _, _, _, info = env.step(env.action_space.sample())


def test_steps_per_second_script_runs():
    out = subprocess.run([sys.executable, str(EXAMPLES / "steps_per_second.py"), "--seconds", "0.02"],
                         check=True, capture_output=True, text=True).stdout
    assert "| EdgeEnv('default') | 36 |" in out


@pytest.mark.parametrize("first", ["torch", "edgebench"])
def test_torch_and_edgebench_share_one_process(first, tmp_path):
    second = "edgebench" if first == "torch" else "torch"
    code = f"""
import {first}, {second}
x = torch.ones(3) * 2
res = edgebench.run("tiny", seeds=[1], policies=["dppo", "greedy"], out={str(tmp_path / 'r')!r})
print(float(x.sum()), res.summary.height)
"""
    # Without LD_LIBRARY_PATH: the module finds libtorch by its own rpath, the one torch loads.
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env).stdout
    assert out.split() == ["6.0", "2"]
