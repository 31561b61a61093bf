"""Steps per second of EdgeEnv and EdgeVecEnv from Python (issue 18, point 6).

    .venv/bin/python python/examples/steps_per_second.py [--seconds S]

Actions are drawn beforehand (the agent's cost is not the environment's);
each figure is the best of three timed runs of about S seconds."""

import argparse
import time

import numpy as np

from edgebench import EdgeEnv, EdgeVecEnv


def rate(env, seconds, vector=False):
    """Steps per second of `env` (a vector env counts each of its worlds' steps)."""
    env.reset(seed=1)
    actions = [env.action_space.sample() for _ in range(256)]
    per_call = env.num_envs if vector else 1
    best = 0.0
    for _ in range(3):
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for a in actions:
                _, _, terminated, truncated, _ = env.step(a)
                steps += per_call
                # A vector env resets its worlds itself.
                if not vector and (terminated or truncated):
                    env.reset(seed=1)
        best = max(best, steps / (time.perf_counter() - t0))
    return best


def rate_single(scenario, terminals, seconds):
    return rate(EdgeEnv(scenario, terminals=terminals), seconds)


def rate_vector(scenario, terminals, num_envs, seconds):
    return rate(EdgeVecEnv(scenario, num_envs=num_envs, terminals=terminals), seconds, vector=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=2.0)
    a = p.parse_args()
    print("| environment | terminals | steps/s |")
    print("|---|--:|--:|")
    for t in (12, 36, 120, 1000):
        print(f"| EdgeEnv('default') | {t} | {rate_single('default', t, a.seconds):,.0f} |")
    for n in (8, 64):
        print(f"| EdgeVecEnv('default', {n}) | 36 | {rate_vector('default', 36, n, a.seconds):,.0f} |")


if __name__ == "__main__":
    np.random.seed(0)
    main()
