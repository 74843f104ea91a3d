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
  event; ``make race`` runs 100 or more waits per mode for that alone), counted per path: each
  sensor mode by its job's outcome, create and delete apart (issue 33).

The stack runs with Airflow's defaults for every setting that times a deferral
(``timing_defaults``), and the ``listeners`` mode on a second stack with a listener plugin installed.
``--hog N`` runs N busy-loop processes beside the stack, for a loaded machine; the one-minute load
average is read through every mode.

``--write-docs`` replaces the "Where a wait's cost really is" section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks.docs_page import SECTION_END, SECTION_START, replace_section
from benchmarks.report import environment
from tests.e2e.waits import DEFAULT_MODES, FIREWALL, LISTENERS, SENSOR_MODES, Batch, WaitsRun, summary

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "performance.md"
LABELS = {
    "worker": "`end_from_trigger=False`, resumed on a worker",
    "end_from_trigger": "`end_from_trigger=True`",
    "start_from_trigger": "`start_from_trigger=True` (Airflow 3.3+)",
    FIREWALL: "create / delete operators, deferred",
    "default": "default arguments, job succeeds",
    "failed": "default arguments, job fails",
    LISTENERS: "default arguments, job succeeds, a listener installed",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.race_bench", description=__doc__)
    parser.add_argument("--waits", type=int, default=50, help="waits per mode (default 50)")
    parser.add_argument(
        "--modes",
        default=",".join((*SENSOR_MODES, *DEFAULT_MODES, LISTENERS, FIREWALL)),
        help="comma-separated; a sensor mode the provider does not offer is skipped",
    )
    parser.add_argument("--runs-at-once", type=int, default=2, help="DAG runs in flight at a time")
    parser.add_argument("--json", type=Path, help="also write every wait here")
    parser.add_argument(
        "--write-docs", action="store_true", help="rewrite the section in docs/performance.md"
    )
    parser.add_argument("--keep-home", action="store_true", help="leave the AIRFLOW_HOME behind")
    parser.add_argument(
        "--hog", type=int, default=0, help="busy-loop processes to run beside the stack (default 0)"
    )
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


def race_table(batches: Sequence[Batch]) -> str:
    """The race figures: one row per path (each sensor mode by its job's outcome; create, delete)."""
    lines = [
        "| path | waits | wrongly failed | worker starts per wait | load average min / mean | hold |",
        "|---|---|---|---|---|---|",
    ]
    for b in batches:
        loads = f"{min(b.loads):.1f} / {statistics.fmean(b.loads):.1f}" if b.loads else "n/a"
        hold = "n/a" if b.hold_s is None else f"{b.hold_s:g} s"
        for path, waits in b.paths().items():
            starts = sum(w.starts for w in waits) / len(waits)
            failed = sum(w.wrongly_failed for w in waits)
            lines.append(f"| {path} | {len(waits)} | {failed} | {starts:.2f} | {loads} | {hold} |")
    return "\n".join(lines)


@contextlib.contextmanager
def cpu_hog(processes: int) -> Iterator[None]:
    """``processes`` busy loops, each in its own process group, stopped (by group) on the way out."""
    hogs = [
        subprocess.Popen(
            [sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL, start_new_session=True
        )
        for _ in range(processes)
    ]
    try:
        yield
    finally:
        for hog in hogs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(hog.pid, signal.SIGTERM)
        for hog in hogs:
            hog.wait(timeout=30)


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
            "slots, dag-processor, triggerer; SQLite; Airflow's defaults for every setting that times "
            "a deferral; `tests/e2e/waits.py`), "
            f"at least {n} waits per row, 6 `CfwJobSensor` tasks per DAG run (`poke_interval=1`, "
            "`retries=0`; jobs answer Running 1 to 3 times, then end; where a row sets a flag one job "
            "in six fails and the others succeed, a default-argument row says how its jobs end), "
            "or 3 create >> delete pairs per run; the listener row on a stack of its own with a "
            "listener plugin installed. Worker task starts are the executor events the scheduler logged for "
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
            "The same waits by path, with the load average read every 2 s through each row and the "
            "scheduler hold in force (wrongly failed: see troubleshooting):",
            "",
            race_table(batches),
            "",
            "Rerun: `make race RACE_ARGS=--write-docs` (100 waits per row, about 70 minutes on 2 busy "
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
        "loads": batch.loads,
        "hold_s": batch.hold_s,
        "waits": [
            {
                "run_id": w.run_id,
                "task_id": w.task_id,
                "outcome": w.outcome,
                "state": w.state,
                "path": w.path,
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
    batches: list[Batch] = []
    stacks = [(False, [m for m in wanted if m != LISTENERS])]
    if LISTENERS in wanted:
        # Listeners are installed per deployment: their path gets a stack of its own.
        stacks.append((True, [LISTENERS]))
    with cpu_hog(args.hog):
        for listeners, modes in stacks:
            if not modes:
                continue
            with WaitsRun(keep_home=args.keep_home, timing_defaults=True, listeners=listeners) as run:
                offered = run.modes()
                for mode in modes:
                    if mode not in offered:
                        print(f"{mode}: not offered by this provider or Airflow; skipped", file=sys.stderr)
                        continue
                    batch = run.run_mode(mode, args.waits, at_once=args.runs_at_once)
                    print(summary([batch]), file=sys.stderr, flush=True)
                    batches.append(batch)
                    if args.json is not None:  # as it goes: a long run keeps what it measured
                        args.json.write_text(json.dumps([_raw(b) for b in batches], indent=1, default=str))
    env = environment("python -m tests.e2e.race_bench " + " ".join(given))
    print(env + "\n\n" + table(batches) + "\n\n" + race_table(batches))
    if args.json is not None:
        args.json.write_text(json.dumps([_raw(b) for b in batches], indent=1, default=str))
    if args.write_docs:
        PAGE.write_text(replace_section(PAGE.read_text(), section(batches, env)))
        print(f"wrote {PAGE}", file=sys.stderr)
    # Issue 26: a job's success must never end as a failed task, in any mode.
    return 1 if any(b.wrongly_failed for b in batches) else 0


if __name__ == "__main__":
    sys.exit(main())
