"""The Python module shares the workspace's build: maturin builds this crate
alone, and cargo then resolves features for its dependencies alone; if any
dependency of polars, HiGHS or the torch bindings got other features than in
the workspace build, a fresh clone would build them twice (python/Cargo.toml
pins the ones that differed)."""

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("polars", "polars-core", "highs-sys", "torch-sys", "tch")


def artifacts(args):
    """{package: artifact file name} of a cargo command whose build is up to date (nothing is compiled)."""
    out = subprocess.run(["cargo", *args, "--release", "--locked", "--message-format=json"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        m = json.loads(line)
        if m.get("reason") == "compiler-artifact" and m["target"]["kind"] == ["lib"]:
            found[m["target"]["name"].replace("_", "-")] = Path(m["filenames"][0]).name
    return found


def test_the_modules_heavy_dependencies_are_the_workspace_builds():
    features = os.environ.get("EDGEBENCH_CARGO_FEATURES", "harness/dppo,harness/mpi")
    # What `make test` built (cargo test), and what maturin builds.
    ws = artifacts(["test", "--no-run", "--workspace", "--features", features])
    py = artifacts(["build", "-p", "edgebench-python"])
    for name in HEAVY:
        key = name.replace("_", "-")
        assert key in py and py.get(key) == ws.get(key), f"{name}: {py.get(key)} (module) vs {ws.get(key)} (workspace)"
