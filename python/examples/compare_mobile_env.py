"""EdgeEnv against mobile-env (2.1.0), in the same process, the same way:
random actions drawn beforehand, steps per second over about S seconds,
best of three (issue 18, point 6). mobile-env is not a dependency of
edgebench: install it beside it, e.g. in a throwaway venv with
`pip install mobile-env==2.1.0 polars` and `PYTHONPATH=python`.

    python python/examples/compare_mobile_env.py [--seconds S]
"""

import argparse

import gymnasium as gym

import edgebench  # noqa: F401  (registers edgebench/EdgeEnv-v0)
from steps_per_second import rate


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
