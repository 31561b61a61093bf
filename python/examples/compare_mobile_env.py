"""EdgeEnv against mobile-env (2.1.0), in the same process, the same way:
random actions drawn beforehand, steps per second over about S seconds,
best of three (issue 18, point 6). mobile-env is not a dependency of
edgebench: install it beside it, e.g. in a throwaway venv with
`pip install mobile-env==2.1.0 polars` and `PYTHONPATH=python`.

    python python/examples/compare_mobile_env.py [--seconds S]
"""

import argparse
import time

import gymnasium as gym

import edgebench  # noqa: F401  (registers edgebench/EdgeEnv-v0)


def rate(env, seconds):
    env.reset(seed=1)
    actions = [env.action_space.sample() for _ in range(256)]
    best = 0.0
    for _ in range(3):
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for a in actions:
                _, _, terminated, truncated, _ = env.step(a)
                steps += 1
                if terminated or truncated:
                    env.reset(seed=1)
        best = max(best, steps / (time.perf_counter() - t0))
    return best


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=3.0)
    a = p.parse_args()
    import mobile_env  # noqa: F401  (registers mobile-*-v0)

    # All through gym.make, so each has Gymnasium's wrappers (order enforcing, checker).
    rows = [
        ("mobile-env mobile-small-central-v0 (5 users, 3 stations)", gym.make("mobile-small-central-v0")),
        ("mobile-env mobile-large-central-v0 (30 users, 13 stations)", gym.make("mobile-large-central-v0")),
        ("edgebench EdgeEnv('default') (36 terminals, 9 nodes)", gym.make("edgebench/EdgeEnv-v0", scenario="default")),
    ]
    print("| environment | steps/s |")
    print("|---|--:|")
    for name, env in rows:
        print(f"| {name} | {rate(env, a.seconds):,.1f} |", flush=True)


if __name__ == "__main__":
    main()
