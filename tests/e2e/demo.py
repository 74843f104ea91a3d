"""``make demo``: the example DAGs on a real Airflow stack against the local CFW emulator.

Starts the emulator from a config file with scripted jobs (fake, per-run credentials), a throwaway
AIRFLOW_HOME (SQLite, LocalExecutor), the api-server (execution API), scheduler, dag-processor and
triggerer on 127.0.0.1; triggers the example DAGs; prints where each wait ran and how it ended; stops
everything it started. Exits 0 only if every outcome was the expected one (the failed job's run is
expected to fail).

    python -m tests.e2e.demo [--keep] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from types import FrameType

from tests.e2e.driver import E2eSession
from tests.e2e.processes import ManagedProcess
from tests.e2e.scenario import EXAMPLE_DAGS, RunResult, polls_until
from tests.e2e.summary import Expectation, Row, make_row, render

SENSOR_DAG = "example_cfw_job_sensor"
DEFERRABLE_DAG = "example_cfw_job_sensor_deferrable"
HOOK_DAG = "example_cfw_hook"
LIFECYCLE_DAG = "example_cfw_firewall_lifecycle"
#: The firewall the lifecycle run creates (setup) and deletes (teardown); its jobs are the emulator's own.
DEMO_FIREWALL = "demo-firewall"
#: How long the emulator's firewall jobs run in the demo. Real ones take minutes (the emulator's own
#: default is 180 s); 30 s shows a real wait (the operators poll every 10 s, so about three polls,
#: and well past the scheduler-race window of the first seconds after a deferral) and keeps the
#: lifecycle run (create, use, delete: about 90 s) inside the demo's 150 s for the runs.
DEMO_FIREWALL_JOB_SECONDS = 30.0
#: Expectation.job_id for a job the run itself started: read from that task's XCom.
FROM_XCOM = "xcom:"

#: Poll-scripted jobs, so the stack's start-up time does not count. The sensors poll every 10 s.
JOBS = {
    "demo-job-succeeds": polls_until("Success", 2),
    "demo-job-fails": polls_until("Failed", 1),
    # Polled by both tasks of the sensor DAG (poke every 10 s, reschedule every 30 s).
    "demo-job-worker": polls_until("Success", 3),
}
#: Already finished when the demo starts: it ran for 95 s, which the hook DAG calls fast (< 300 s).
FINISHED_JOB = "demo-job-finished"
FINISHED_JOB_SECONDS = 95.0

RUNS = [
    ("demo-succeeds", DEFERRABLE_DAG, "demo-job-succeeds"),
    ("demo-fails", DEFERRABLE_DAG, "demo-job-fails"),
    ("demo-worker", SENSOR_DAG, "demo-job-worker"),
    ("demo-hook", HOOK_DAG, FINISHED_JOB),
]
#: Runs whose conf is not a job id: (run id, DAG id, conf).
OTHER_RUNS = [("demo-lifecycle", LIFECYCLE_DAG, {"name": DEMO_FIREWALL})]
#: The run each expectation belongs to, and what it must end as.
EXPECTED = {
    "demo-succeeds": [Expectation(DEFERRABLE_DAG, "wait_for_job", "deferrable", "demo-job-succeeds", "success", "triggerer")],
    "demo-fails": [
        Expectation(DEFERRABLE_DAG, "wait_for_job", "deferrable", "demo-job-fails", "failed", "triggerer",
                    "(job Failed: no retry)"),
    ],
    "demo-worker": [
        Expectation(SENSOR_DAG, "wait_for_job", "poke", "demo-job-worker", "success", "worker", "*"),
        Expectation(SENSOR_DAG, "wait_for_job_reschedule", "reschedule", "demo-job-worker", "success",
                    "worker (reschedule)", "*"),
    ],
    "demo-hook": [
        Expectation(HOOK_DAG, "read_job", "hook", FINISHED_JOB, "success", "worker"),
        Expectation(HOOK_DAG, "job_was_fast", "hook", FINISHED_JOB, "success", "worker", "(branch: 95 s < 300 s)"),
    ],
    "demo-lifecycle": [
        Expectation(LIFECYCLE_DAG, "create_firewall", "deferrable", FROM_XCOM + "create_firewall", "success",
                    "triggerer", "(setup: firewall created)"),
        Expectation(LIFECYCLE_DAG, "use_firewall", "hook", "-", "success", "worker"),
        Expectation(LIFECYCLE_DAG, "delete_firewall", "deferrable", FROM_XCOM + "delete_firewall", "success",
                    "triggerer", "(teardown: firewall deleted)"),
    ],
}  # fmt: skip


def say(began: float, message: str) -> None:
    print(f"[{time.monotonic() - began:6.1f}s] {message}", flush=True)


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into the same unwinding as Ctrl-C, so every process still gets stopped.
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--keep", action="store_true", help="keep the AIRFLOW_HOME (logs, database) afterwards"
    )
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds to wait for the runs (150)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the harness does")
    parser.add_argument("--parallelism", type=int, default=2, help="LocalExecutor worker slots (2)")
    return parser.parse_args(argv)


def _polls(session: E2eSession, result: RunResult, expected: Expectation) -> int:
    job_id = expected.job_id
    if job_id.startswith(FROM_XCOM):
        xcom = session.airflow.records.xcom(result.dag_id, result.run_id, job_id.removeprefix(FROM_XCOM))
        job_id = (xcom or {}).get("job_id") or "-"
    return session.polls(job_id) if job_id != "-" else 0


def collect_rows(session: E2eSession, results: list[RunResult]) -> list[Row]:
    """One row per expectation, read back from Airflow's records and the emulator's counters."""
    stack = session.airflow
    rows = []
    for result in results:
        for expected in EXPECTED[result.run_id]:
            logs = list(stack.trigger_logs(result.dag_id, result.run_id, expected.task_id))
            first_start = stack.records.first_start(result.dag_id, result.run_id, expected.task_id)
            rows.append(make_row(expected, result, logs, _polls(session, result, expected), first_start))
        wanted = "failed" if result.run_id == "demo-fails" else "success"
        if result.state != wanted:
            run = Expectation(result.dag_id, "(the run)", "-", "-", wanted, "-")
            rows.append(Row(run, "-", result.state or "none", "-", 0, None))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    signal.signal(signal.SIGTERM, _terminate)
    began = time.monotonic()
    jobs: list[dict[str, object]] = [{"job_id": job, "statuses": script} for job, script in JOBS.items()]
    jobs.append(
        {
            "job_id": FINISHED_JOB,
            "statuses": [["Running", FINISHED_JOB_SECONDS], ["Success", None]],
            "begin_time": time.time() - 2 * FINISHED_JOB_SECONDS,
        }
    )
    session = E2eSession(
        sorted(EXAMPLE_DAGS.glob("example_*.py")),
        [SENSOR_DAG, DEFERRABLE_DAG, HOOK_DAG, LIFECYCLE_DAG],
        jobs,
        parallelism=args.parallelism,
        keep_home=args.keep,
        firewall_job_seconds=DEMO_FIREWALL_JOB_SECONDS,
    )
    rows: list[Row] = []
    firewalls_left = -1
    survivors: list[str] = []
    try:
        say(
            began,
            f"starting the CFW emulator ({len(jobs)} scripted jobs, firewall jobs of "
            f"{DEMO_FIREWALL_JOB_SECONDS:.0f} s, fake AK/SK; {session.config_path})",
        )
        say(
            began,
            "starting Airflow: db migrate, api-server (--apps execution), scheduler, dag-processor, triggerer",
        )
        session.start()
        stack = session.airflow
        assert session.emulator is not None
        say(
            began,
            f"ready: emulator on {session.emulator.url} (AIRFLOW_CONN_CFW_DEFAULT points at it); api-server on "
            f"127.0.0.1:{stack.api_port}; LocalExecutor x{args.parallelism}; SQLite in {stack.home}",
        )
        runs = [(dag_id, run_id, {"job_id": job}) for run_id, dag_id, job in RUNS]
        runs += [(dag_id, run_id, conf) for run_id, dag_id, conf in OTHER_RUNS]
        launches = session.launch(runs)
        say(
            began,
            f"triggered {len(launches)} runs of the example DAGs; waiting (at most {args.timeout:.0f} s)",
        )
        results = session.wait(launches, timeout=args.timeout)
        say(began, "all runs finished")
        rows = collect_rows(session, results)
        firewalls_left = len(session.emulator.list_firewalls(DEMO_FIREWALL))
    except KeyboardInterrupt:
        print("\ninterrupted; stopping everything", flush=True)
        return 130
    except Exception as err:
        print(f"\ndemo failed: {err}", flush=True)
        if session.stack is not None:
            for name, proc in session.stack.processes.items():
                print(f"--- {name}\n{proc.tail(15)}", flush=True)
        return 1
    finally:
        procs = list(session.stack.processes.values()) if session.stack else []
        session.close()
        survivors = [p.name for p in procs if p.pid and ManagedProcess.group_alive(p.pid)]
        if procs:
            pids = ", ".join(str(p.pid) for p in procs if p.pid)
            say(began, f"stopped every process it started (process groups {pids})" if not survivors
                else f"COULD NOT STOP: {', '.join(survivors)}")  # fmt: skip
        if args.keep:
            say(began, f"kept {session.home}")
    if survivors:
        return 1

    print()
    print(render(rows))
    print("* one job, polled by both tasks of the run")
    print(f"firewall {DEMO_FIREWALL!r}: {firewalls_left} left after the lifecycle run (expected 0)")
    ok = all(row.ok for row in rows) and firewalls_left == 0
    total = time.monotonic() - began
    print()
    if ok:
        print(
            f"demo OK: all {len(rows)} outcomes as expected, in {total:.0f} s (stack ready in {session.startup_seconds} s)"
        )
        return 0
    print(f"demo FAILED: {sum(not r.ok for r in rows)} unexpected outcome(s), in {total:.0f} s")
    return 1


if __name__ == "__main__":
    sys.exit(main())
