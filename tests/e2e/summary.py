"""The demo's summary: one row per waiting task, every cell read back from Airflow or the emulator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tests.e2e.records import TaskTry
from tests.e2e.scenario import RunResult, where_the_wait_ran


@dataclass(frozen=True)
class Expectation:
    """What one task of one demo run must end as."""

    dag_id: str
    task_id: str
    mode: str
    job_id: str
    state: str
    where: str
    note: str = ""


@dataclass(frozen=True)
class Row:
    expected: Expectation
    where: str
    state: str
    tries: str
    polls: int
    seconds: float | None

    @property
    def ok(self) -> bool:
        return self.state == self.expected.state and self.where == self.expected.where


def task_seconds(ti: TaskTry | None, first_start: datetime | None) -> float | None:
    if ti is None or first_start is None or ti.end_date is None:
        return None
    return round((ti.end_date - first_start).total_seconds(), 1)


def make_row(
    expected: Expectation,
    result: RunResult,
    trigger_logs: Sequence[str],
    polls: int,
    first_start: datetime | None,
) -> Row:
    ti = result.tasks.get(expected.task_id)
    where = (
        "worker"
        if expected.mode == "hook"
        else where_the_wait_ran(expected.task_id, result.seen, trigger_logs)
    )
    tries = f"{ti.try_number}/{ti.max_tries + 1}" if ti else "-"
    return Row(
        expected, where, (ti.state if ti else None) or "none", tries, polls, task_seconds(ti, first_start)
    )


def render(rows: Sequence[Row]) -> str:
    header = ("DAG", "task", "mode", "wait ran on", "final state", "try", "polls", "time", "")
    lines = [header]
    for row in rows:
        exp = row.expected
        lines.append(
            (
                exp.dag_id,
                exp.task_id,
                exp.mode,
                row.where,
                row.state,
                row.tries,
                str(row.polls),
                "-" if row.seconds is None else f"{row.seconds:.1f} s",
                ("ok" if row.ok else f"UNEXPECTED (wanted {exp.state} on {exp.where})")
                + (f" {exp.note}" if exp.note else ""),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        out.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * width for width in widths).rstrip())
    return "\n".join(out)
