"""One emulator and one Airflow stack for every end-to-end test (starting them costs ~15 s)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e import failover
from tests.e2e.driver import E2eSession
from tests.e2e.firewall_scenarios import FIREWALL_DAG_IDS
from tests.e2e.scenario import E2E_DAGS, EXAMPLE_DAGS, polls_until

#: The deferrable sensor's ways to use the workers, as the DAG e2e_cfw_worker_free names its tasks.
WAIT_MODES = ("resume", "auto", "end", "start")
#: Jobs scripted by polls, so Airflow's start-up time does not eat into them. The worker pokes once
#: before deferring, so a deferred wait's trigger sees the script from its second entry on.
JOBS = {
    "deferred_ok": polls_until("Success", 8),
    "deferred_failed": polls_until("Failed", 2),
    # Long enough to outlive a triggerer killed after the trigger's first poll (1 s apart).
    "restart": polls_until("Success", 10),
    "poke": polls_until("Success", 3),
    "reschedule": polls_until("Success", 2),
    # Worker-free waits (test_e2e_worker_free.py): short jobs, one per wait.
    **{f"wf_ok_{mode}_{n}": polls_until("Success", 2) for mode in WAIT_MODES for n in (1, 2)},
    # Failed a few polls after the deferral: a job that ends within a second or two of it meets
    # Airflow 3.3.2's scheduler race (issue 26), which retries the task whatever the provider does.
    **{f"wf_failed_{mode}": polls_until("Failed", 3) for mode in WAIT_MODES},
    "wf_xcom_pull": polls_until("Success", 2),
}
#: Already done: began 100 s ago and ran for 42 s (the hook example branches on the duration).
HOOK_JOB_DURATION = 42.0

E2E_DAG_IDS = [
    "e2e_cfw_deferrable",
    "e2e_cfw_poke",
    "e2e_cfw_reschedule",
    "example_cfw_hook",
    "example_cfw_firewall_lifecycle",
    *FIREWALL_DAG_IDS,
    "e2e_cfw_worker_free",
    "e2e_cfw_start_xcom_pull",
]


def job_id(name: str) -> str:
    return f"e2e-{name}"


# Package scope: the stack stops after the last e2e test instead of idling through the rest of the suite.
@pytest.fixture(scope="package")
def e2e() -> Iterator[E2eSession]:
    jobs = [{"job_id": job_id(name), "statuses": statuses} for name, statuses in JOBS.items()]
    jobs.append(
        {
            "job_id": job_id("hook_done"),
            "statuses": [["Running", HOOK_JOB_DURATION], ["Success", None]],
            "begin_time": time.time() - 100,
        }
    )
    dag_files = [*sorted(E2E_DAGS.glob("*.py")), *sorted(EXAMPLE_DAGS.glob("example_*.py"))]
    session = E2eSession(
        dag_files,
        E2E_DAG_IDS,
        jobs,
        # One worker slot: a task that runs while a sensor waits proves the sensor left the slot.
        parallelism=1,
        keep_home=bool(os.environ.get("CFW_E2E_KEEP")),
    )
    with session:
        yield session


@pytest.fixture
def run_id(request: pytest.FixtureRequest) -> str:
    return f"{request.node.name}-{uuid.uuid4().hex[:6]}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The summary lines of the HA rounds and the Airflow 2.11 run, read back from their records."""
    if failover.SUMMARY_LINES:
        terminalreporter.section("end-to-end summary")
        for line in failover.SUMMARY_LINES:
            terminalreporter.write_line(line)
