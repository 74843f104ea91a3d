"""``python -m tests.e2e.race_bench``: what a whole deferred wait costs a deployment, on a real Airflow stack.

Airflow 3 (api-server, scheduler with the LocalExecutor, dag-processor, triggerer; SQLite), the
emulator in this process. For each way the provider offers to wait, N waits of jobs that answer
Running 1 to 3 times, then Success (one job in six fails instead), and from Airflow's records:

- worker task starts per wait: the executor events the scheduler drained for the task (one per task
  process that ran on a worker, "TaskInstance Finished" in its log);
- CPU of every Airflow process per wait: utime + stime of each process tree (children reaped
  included, ``/proc/<pid>/stat``) before and after, raw and less the stack's idle rate;
- the time from the job turning Success (the emulator's first Success answer) to the task's
  ``end_date``;
- the tasks Airflow failed although their job succeeded (issue 26: the scheduler's stale executor
  event; ``make race`` runs 100 or more waits per mode for that alone).

``--write-docs`` replaces the "Where a wait's cost really is" section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.docs_page import SECTION_END, SECTION_START, replace_section
from benchmarks.report import environment
from tests.e2e.waits import FIREWALL, SENSOR_MODES, Batch, WaitsRun, summary

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "performance.md"
LABELS = {
    "worker": "deferred, resumed on a worker (today's path, events held 5 s after the deferral)",
    "end_from_trigger": "`end_from_trigger=True`",
    "start_from_trigger": "`start_from_trigger=True` (Airflow 3.3+)",
    FIREWALL: "create / delete operators, deferred",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.race_bench", description=__doc__)
    parser.add_argument("--waits", type=int, default=50, help="waits per mode (default 50)")
    parser.add_argument(
        "--modes",
        default=",".join((*SENSOR_MODES, FIREWALL)),
        help="comma-separated; a sensor mode the provider does not offer is skipped",
    )
    parser.add_argument("--runs-at-once", type=int, default=2, help="DAG runs in flight at a time")
    parser.add_argument("--json", type=Path, help="also write every wait here")
    parser.add_argument(
        "--write-docs", action="store_true", help="rewrite the section in docs/performance.md"
    )
    parser.add_argument("--keep-home", action="store_true", help="leave the AIRFLOW_HOME behind")
    return parser.parse_args(argv)


def _pct(values: Sequence[float], q: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _per_wait(batch: Batch, outcome: str) -> str:
    waits = [w for w in batch.waits if w.outcome == outcome]
    return f"{sum(w.starts for w in waits) / len(waits):.2f}" if waits else "n/a"


def table(batches: Sequence[Batch]) -> str:
    """The docs table: one row per mode."""
    lines = [
        "| how the task waits | waits | worker task starts per wait: job Success / Failed "
        "| CPU per wait, all Airflow processes | the same, idle excluded "
        "| job Success → task end, median (p90) | wrongly failed (issue 26) |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in batches:
        latencies = [x for w in b.waits if (x := w.end_latency_s) is not None and w.outcome == "Success"]
        latency = (
            f"{statistics.median(latencies):.1f} s ({_pct(latencies, 90):.1f} s)" if latencies else "n/a"
        )
        n = len(b.waits)
        lines.append(
            f"| {LABELS.get(b.mode, b.mode)} | {n} | {_per_wait(b, 'Success')} / {_per_wait(b, 'Failed')} "
            f"| {b.cpu_s / n:.2f} s | {(b.cpu_s - b.idle_cpu_s) / n:.2f} s | {latency} "
            f"| {len(b.wrongly_failed)} |"
        )
    return "\n".join(lines)


def section(batches: Sequence[Batch], env: str) -> str:
    n = min(len(b.waits) for b in batches)
    return "\n".join(
        [
            SECTION_START,
            "## Where a wait's cost really is",
            "",
            "The figures above are the triggerer's share of a wait: well under a millisecond of CPU per "
            "poll. A deferred wait also starts its task on a worker, and a task process parses the DAG "
            "file, loads the task and calls the execution API on the way in and out. Here the whole wait "
            "is measured on a real Airflow stack (api-server, scheduler with the LocalExecutor and 4 "
            "slots, dag-processor, triggerer; SQLite; `tests/e2e/waits.py`), "
            f"at least {n} waits per row, 6 `CfwJobSensor` tasks per DAG run (`poke_interval=1`, "
            "`retries=0`; jobs answer Running 1 to 3 times, then Success; one in six fails instead), "
            "two runs at a time. Worker task starts are the executor events the scheduler logged for "
            "each task; CPU is every Airflow process with its children (executor workers, task "
            'processes, the triggerer\'s runner); "idle excluded" takes out what the same stack burns '
            "with nothing to run, measured for 10 s before each row. The latency counts from the "
            "emulator's first Success answer to the task's `end_date`; a resumed task, and one that "
            "ended within a few seconds of deferring, waits for the scheduler "
            "(see [troubleshooting](troubleshooting.md#a-deferred-task-fails-although-its-cfw-job-succeeded)). "
            "On the LocalExecutor a task process is forked from a worker that has already imported "
            "Airflow, so a start costs a few tenths of a second of CPU here; an executor that starts a "
            "fresh interpreter per task (a KubernetesExecutor pod) pays the imports on top, per start "
            "(2.2 to 2.4 s of CPU on this machine).",
            "",
            env,
            "",
            table(batches),
            "",
            "Rerun: `make race RACE_ARGS=--write-docs` (100 waits per row, about 40 minutes on 2 busy "
            "cores), or `.venv/bin/python -m tests.e2e.race_bench --waits 50 --write-docs`.",
            SECTION_END,
        ]
    )


def _raw(batch: Batch) -> dict[str, Any]:
    return {
        "mode": batch.mode,
        "cpu_s": batch.cpu_s,
        "idle_cpu_s": batch.idle_cpu_s,
        "seconds": batch.seconds,
        "waits": [
            {
                "run_id": w.run_id,
                "task_id": w.task_id,
                "outcome": w.outcome,
                "state": w.state,
                "starts": w.starts,
                "mismatch": w.mismatch,
                "drain_s": w.drain_s,
                "end_latency_s": w.end_latency_s,
            }
            for w in batch.waits
        ],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    wanted = args.modes.split(",")
    batches = []
    with WaitsRun(keep_home=args.keep_home) as run:
        offered = run.modes()
        for mode in wanted:
            if mode not in offered:
                print(f"{mode}: not offered by this provider or Airflow; skipped", file=sys.stderr)
                continue
            batch = run.run_mode(mode, args.waits, at_once=args.runs_at_once)
            print(summary([batch]), file=sys.stderr, flush=True)
            batches.append(batch)
    env = environment("python -m tests.e2e.race_bench " + " ".join(given))
    print(env + "\n\n" + table(batches))
    if args.json is not None:
        args.json.write_text(json.dumps([_raw(b) for b in batches], indent=1, default=str))
    if args.write_docs:
        PAGE.write_text(replace_section(PAGE.read_text(), section(batches, env)))
        print(f"wrote {PAGE}", file=sys.stderr)
    # Issue 26: a job's success must never end as a failed task, in any mode.
    return 1 if any(b.wrongly_failed for b in batches) else 0


if __name__ == "__main__":
    sys.exit(main())
