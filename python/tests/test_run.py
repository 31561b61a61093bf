"""edgebench.run: Python policies judged on the CLI's worlds; the built-in
ones through Python give the CLI's results; errors are Python exceptions."""

import os
import subprocess
from pathlib import Path

import polars as pl
import pytest

import edgebench
from nearest import PyNearest

ROOT = Path(__file__).resolve().parents[2]
TIMING = ["decision_ms_mean", "decision_ms_p95", "milp_solve_ms_p50", "milp_solve_ms_p95", "milp_build_share"]


def without_timing(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop([c for c in TIMING if c in df.columns])


def test_nearest_written_in_python_equals_the_built_in_one(tmp_path, tiny_dims):
    res = edgebench.run("tiny", seeds=[1, 2, 3], policies=["nearest", PyNearest(tiny_dims)], out=tmp_path / "r")
    s = without_timing(res.summary)
    built_in = s.filter(pl.col("policy") == "nearest").drop("policy")
    python = s.filter(pl.col("policy") == "py-nearest").drop("policy")
    assert built_in.height == 3
    assert built_in.equals(python)
    # Every task, decision by decision.
    t = res.tasks
    cols = [c for c in t.columns if c != "policy"]
    assert t.filter(pl.col("policy") == "nearest").select(cols).equals(t.filter(pl.col("policy") == "py-nearest").select(cols))


def test_built_in_policies_through_python_give_the_clis_results(tmp_path):
    policies = ["greedy", "local", "nearest", "milp", "bound"]
    res = edgebench.run("tiny", seeds=[1, 2], policies=policies, out=tmp_path / "py")
    cli = tmp_path / "cli"
    env = dict(os.environ)
    subprocess.run(
        [str(ROOT / "target/release/edgebench"), "run", "--scenario", "tiny", "--seeds", "1,2", "--policies",
         ",".join(policies), "--quiet", "--out", str(cli)],
        check=True, env=env,
    )
    assert without_timing(res.summary).equals(without_timing(pl.read_parquet(cli / "summary.parquet")))
    assert res.tasks.equals(pl.read_parquet(cli / "tasks.parquet"))
    # The CLI's report reads it, and so does edgebench.report.
    report = edgebench.report(res)
    assert (report / "tables.md").is_file()


def test_bad_policies_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="unknown policy `gredy`"):
        edgebench.run("tiny", seeds=[1], policies=["gredy"], out=tmp_path / "a")
    with pytest.raises(ValueError, match="decide"):
        edgebench.run("tiny", seeds=[1], policies=[42], out=tmp_path / "b")

    class Named:
        name = "greedy"

        def decide(self, obs):
            return None

    with pytest.raises(ValueError, match="like a built-in"):
        edgebench.run("tiny", seeds=[1], policies=[Named()], out=tmp_path / "c")
    with pytest.raises(ValueError, match="listed twice"):
        edgebench.run("tiny", seeds=[1], policies=["local", "local"], out=tmp_path / "d")
    assert not any((tmp_path / x).exists() for x in "abcd")


def test_a_failing_python_policy_is_an_exception_not_a_crash(tmp_path, tiny_dims):
    class Broken:
        def decide(self, obs):
            raise KeyError("no such thing")

    class WrongShape:
        def decide(self, obs):
            return [0, 1]

    with pytest.raises(RuntimeError, match="no such thing"):
        edgebench.run("tiny", seeds=[1], policies=[Broken()], out=tmp_path / "a")
    with pytest.raises(RuntimeError, match="expected"):
        edgebench.run("tiny", seeds=[1], policies=[WrongShape()], out=tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
