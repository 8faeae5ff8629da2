"""Timing helpers and the results table; every figure is a ratio to a baseline from the same run."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field


@dataclass
class Row:
    operation: str
    store: str
    size: str
    value: float
    baseline: float
    unit: str = "ms"
    target: str = ""
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("nan")


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(self.format_row(row), flush=True)

    @staticmethod
    def header() -> str:
        return (f"{'operation':<38} {'store':<10} {'size':>9} {'value':>11} {'baseline':>11} "
                f"{'ratio':>7}  {'target':<10} note")

    @staticmethod
    def format_row(r: Row) -> str:
        return (f"{r.operation:<38} {r.store:<10} {r.size:>9} {r.value:>9.2f}{r.unit:>2} "
                f"{r.baseline:>9.2f}{r.unit:>2} {r.ratio:>7.2f}  {r.target:<10} {r.note}")


def paired_times(operation, baseline, inputs, rounds: int = 3) -> tuple[list[float], list[float]]:
    """Time ``operation(x)`` and ``baseline(x)`` on each input, alternating, so machine noise hits both alike."""
    ours, base = [], []
    for _ in range(rounds):
        for item in inputs:
            t0 = time.perf_counter()
            baseline(item)
            t1 = time.perf_counter()
            operation(item)
            t2 = time.perf_counter()
            base.append((t1 - t0) * 1000)
            ours.append((t2 - t1) * 1000)
    return ours, base


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values)
