"""Runs of built-in and Python policies on identical worlds, as polars frames."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import polars as pl

from . import _edgebench


@dataclass
class Results:
    """A results set (the CLI's ``--out`` folder) and its frames."""

    folder: Path
    tasks: pl.DataFrame
    slots: pl.DataFrame
    summary: pl.DataFrame

    @classmethod
    def read(cls, folder: str | Path) -> "Results":
        f = Path(folder)
        return cls(f, pl.read_parquet(f / "tasks.parquet"), pl.read_parquet(f / "slots.parquet"),
                   pl.read_parquet(f / "summary.parquet"))


def run(scenario: str, seeds: Iterable[int] = tuple(_edgebench.DEFAULT_SEEDS), policies: Iterable[Any] | None = None, *,
        out: str | Path | None = None, slots: int | None = None, terminals: int | None = None,
        checkpoint: str | Path | None = None, milp_time_limit: float | None = None,
        threads: int | None = None) -> Results:
    """Run ``policies`` (built-in names such as ``"greedy"``, ``"dppo"``,
    ``"milp"``, ``"bound"``, and objects with ``decide(observation) ->
    action`` and optionally ``name``) on the worlds of ``seeds``, exactly as
    ``edgebench run`` does; the results set goes to ``out`` (a temporary
    folder by default); ``milp_time_limit`` None is the CLI's default. Bad
    input raises ``ValueError`` with the CLI's message."""
    if policies is None:
        policies = builtin_default()
    seeds = [int(s) for s in seeds]
    if any(s < 0 for s in seeds):
        raise ValueError(f"seeds: expected non-negative integers, got {seeds}")
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="edgebench-")) / "results"
    done = _edgebench.run(scenario, seeds, list(policies), str(folder), slots, terminals,
                          None if checkpoint is None else str(checkpoint),
                          None if milp_time_limit is None else float(milp_time_limit), threads)
    return Results.read(done)


def builtin_default() -> list[str]:
    return list(_edgebench.builtin_policies()[0])


def report(results: Results | str | Path, out: str | Path | None = None) -> Path:
    """The CLI's tables and figures of a results set; returns the report folder."""
    folder = results.folder if isinstance(results, Results) else Path(results)
    return Path(_edgebench.report(str(folder), None if out is None else str(out)))
