"""Airflow 2.11 on a real stack (``make e2e-airflow2``): PostgreSQL, LocalExecutor, scheduler and
triggerer, running the example DAGs and the e2e DAGs in every mode, outcomes read from the database.

Airflow 2 behaves differently where it matters to the sensor: its executor safeguard around
``execute``, its reschedule bookkeeping (``_first_reschedule_date_airflow2`` reads task_reschedule),
its deferral timeout. Unit tests cannot show those; this run does. The firewall lifecycle's scenarios
(setup/teardown, a failed creation, a lost answer with a lagging list, a prePaid order) run here too,
one after another, once the sensor runs are done.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e import failover
from tests.e2e import firewall_scenarios as scenarios
from tests.e2e.conftest import JOBS as E2E_JOBS
from tests.e2e.conftest import job_id
from tests.e2e.driver import E2eSession
from tests.e2e.scenario import E2E_DAGS, EXAMPLE_DAGS, RunResult, polls_until
from tests.e2e.stack import airflow_major
from tests.e2e.test_e2e_worker_free import check_failed_job_fails_the_first_try, check_worker_starts

pytestmark = [pytest.mark.e2e_airflow2, pytest.mark.timeout(600)]

DEFERRABLE_EXAMPLE = "example_cfw_job_sensor_deferrable"
WORKER_EXAMPLE = "example_cfw_job_sensor"
#: Poll-scripted jobs, so the stack's start-up time does not count.
JOBS = {
    "a2-deferred-ok": polls_until("Success", 2),
    "a2-deferred-failed": polls_until("Failed", 1),
    "a2-poke": polls_until("Success", 3),
    "a2-reschedule": polls_until("Success", 2),
    # Polled by both tasks of the example's run (poke every 10 s, reschedule every 30 s).
    "a2-worker-example": polls_until("Success", 3),
}
#: The worker-free waits' jobs (tests/e2e/test_e2e_worker_free.py), in this stack too.
WORKER_FREE_JOBS = {name: script for name, script in E2E_JOBS.items() if name.startswith("wf_")}
MISSING_JOB = "a2-never-created"
MISSING_RESCHEDULED_JOB = "a2-never-created-either"
#: What Airflow 2's executor safeguard logs when an operator's execute calls another execute.
SAFEGUARD = "execute cannot be called outside TaskInstance!"
#: What the sensor logs when Airflow 2's first reschedule date cannot be read.
NO_FIRST_RESCHEDULE = "Could not read the first reschedule date"

#: (run name, DAG, job id, the run's final state, {task: final state})
RUNS = [
    ("deferred-ok", DEFERRABLE_EXAMPLE, "a2-deferred-ok", "success", {"wait_for_job": "success", "report": "success"}),
    ("deferred-failed", DEFERRABLE_EXAMPLE, "a2-deferred-failed", "failed",
     {"wait_for_job": "failed", "report": "upstream_failed"}),
    ("not-found", "e2e_cfw_deferrable", MISSING_JOB, "failed", {"wait": "failed"}),
    ("poke", "e2e_cfw_poke", "a2-poke", "success", {"wait": "success"}),
    ("reschedule", "e2e_cfw_reschedule", "a2-reschedule", "success", {"wait": "success"}),
    # Each poke is a new task process: the grace period counts from the first poke only if the sensor
    # reads Airflow 2's first reschedule date; otherwise it starts over and the sensor times out.
    ("reschedule-not-found", "e2e_cfw_reschedule", MISSING_RESCHEDULED_JOB, "failed", {"wait": "failed"}),
    ("worker-example", WORKER_EXAMPLE, "a2-worker-example", "success",
     {"wait_for_job": "success", "wait_for_job_reschedule": "success"}),
]  # fmt: skip


@pytest.fixture(scope="module")
def results() -> Iterator[tuple[E2eSession, dict[str, RunResult]]]:
    if airflow_major() != 2:
        pytest.fail("the Airflow 2.11 stack runs from .venv-airflow2: make e2e-airflow2")
    jobs = [{"job_id": job, "statuses": script} for job, script in JOBS.items()]
    session = E2eSession(
        [
            *sorted(EXAMPLE_DAGS.glob("example_cfw_job_sensor*.py")),
            E2E_DAGS / "e2e_cfw_deferrable.py",
            E2E_DAGS / "e2e_cfw_worker.py",
            E2E_DAGS / "e2e_cfw_firewall.py",
            E2E_DAGS / "e2e_cfw_worker_free.py",
        ],
        [
            DEFERRABLE_EXAMPLE,
            WORKER_EXAMPLE,
            "e2e_cfw_deferrable",
            "e2e_cfw_poke",
            "e2e_cfw_reschedule",
            *scenarios.FIREWALL_DAG_IDS,
            "e2e_cfw_worker_free",
        ],
        [*jobs, *({"job_id": job_id(name), "statuses": script} for name, script in WORKER_FREE_JOBS.items())],
        parallelism=4,
        keep_home=bool(os.environ.get("CFW_E2E_KEEP")),
        postgres=True,
    )
    with session:
        suffix = uuid.uuid4().hex[:6]
        launches = session.launch(
            [(dag, f"{name}-{suffix}", {"job_id": job}) for name, dag, job, _, _ in RUNS]
        )
        finished = session.wait(launches, timeout=420)
        by_name = {name: result for (name, *_), result in zip(RUNS, finished, strict=True)}
        failover.SUMMARY_LINES.append(_safeguard_report(session, by_name))
        yield session, by_name


def _logs(session: E2eSession, result: RunResult) -> str:
    return "\n".join(
        session.airflow.task_log(result.dag_id, result.run_id, task, ti.try_number)
        for task, ti in result.tasks.items()
    )


def _safeguard_hits(session: E2eSession, results: dict[str, RunResult]) -> list[str]:
    return sorted(name for name, result in results.items() if SAFEGUARD in _logs(session, result))


def _safeguard_report(session: E2eSession, results: dict[str, RunResult]) -> str:
    hit = _safeguard_hits(session, results)
    return f"Airflow 2.11: {SAFEGUARD!r} logged by {len(hit)} of {len(results)} runs ({', '.join(hit) or 'none'})"


def test_no_run_trips_airflow2s_executor_safeguard(results: tuple[E2eSession, dict[str, RunResult]]) -> None:
    # Before the sensor deferred from its first poke, every poke and reschedule run logged it (with
    # `[core] allow_nested_operators = False` the task failed on it).
    session, by_name = results
    assert _safeguard_hits(session, by_name) == []


@pytest.mark.parametrize(
    ("name", "dag_id", "job_id", "run_state", "task_states"), RUNS, ids=[r[0] for r in RUNS]
)
def test_outcome(
    results: tuple[E2eSession, dict[str, RunResult]],
    name: str,
    dag_id: str,
    job_id: str,
    run_state: str,
    task_states: dict[str, str],
) -> None:
    session, by_name = results
    result = by_name[name]
    why = session.diagnose(dag_id, result.run_id)
    assert result.state == run_state, why
    assert {task: ti.state for task, ti in result.tasks.items() if task in task_states} == task_states, why
    # Every wait ended on its first try: a failed or missing job does not burn retries.
    for task in task_states:
        assert result.tasks[task].try_number in (0, 1), (task, result.tasks[task], why)
        assert session.airflow.records.task_history(dag_id, result.run_id, task) == [], why


def test_deferrable_waits_ran_on_the_triggerer(results: tuple[E2eSession, dict[str, RunResult]]) -> None:
    session, by_name = results
    for name, task in (
        ("deferred-ok", "wait_for_job"),
        ("deferred-failed", "wait_for_job"),
        ("not-found", "wait"),
    ):
        result = by_name[name]
        assert "deferred" in result.seen.states[task], (name, result.seen)
        logs = session.airflow.trigger_logs(result.dag_id, result.run_id, task)
        # Airflow 2.11's triggerer logs "Trigger <name> fired: <event>" into the task's trigger log.
        assert sum(text.count(" fired: TriggerEvent") for text in logs.values()) == 1, (name, logs)
    ok = session.airflow.records.xcom(
        by_name["deferred-ok"].dag_id, by_name["deferred-ok"].run_id, "wait_for_job"
    )
    assert (ok["id"], ok["status"]) == ("a2-deferred-ok", "Success")
    assert session.polls("a2-deferred-ok") == len(JOBS["a2-deferred-ok"])
    assert session.polls("a2-deferred-failed") == len(JOBS["a2-deferred-failed"])
    not_found = _logs(session, by_name["not-found"])
    assert f"CFW job {MISSING_JOB} was not found" in not_found, not_found[-3000:]


def test_worker_modes_and_airflow2_reschedule_bookkeeping(
    results: tuple[E2eSession, dict[str, RunResult]],
) -> None:
    session, by_name = results
    records = session.airflow.records
    poke, reschedule = by_name["poke"], by_name["reschedule"]
    assert not {"deferred", "up_for_reschedule"} & set(poke.seen.states["wait"]), poke.seen
    assert session.polls("a2-poke") == len(JOBS["a2-poke"])
    # One reschedule per Running answer, counted in Airflow 2's task_reschedule table ...
    running_polls = len(JOBS["a2-reschedule"]) - 1
    assert records.reschedules(reschedule.dag_id, reschedule.run_id, "wait") == running_polls
    assert session.polls("a2-reschedule") == len(JOBS["a2-reschedule"])
    # ... which the sensor read for real on each poke after the first (the Airflow 2 path).
    for name in ("reschedule", "reschedule-not-found", "worker-example"):
        assert NO_FIRST_RESCHEDULE not in _logs(session, by_name[name]), name
    xcom = records.xcom(reschedule.dag_id, reschedule.run_id, "wait")
    assert (xcom["id"], xcom["status"]) == ("a2-reschedule", "Success")
    missing = _logs(session, by_name["reschedule-not-found"])
    assert f"CFW job {MISSING_RESCHEDULED_JOB} was not found after" in missing, missing[-3000:]
    assert records.reschedules(reschedule.dag_id, by_name["reschedule-not-found"].run_id, "wait") >= 2


# -- the firewall lifecycle on Airflow 2.11 (the same scenarios as tests/e2e/test_e2e_firewall_lifecycle.py)


def test_a_failing_work_fails_the_run_and_the_teardown_deletes(
    results: tuple[E2eSession, dict[str, RunResult]], run_id: str
) -> None:
    scenarios.failing_work_fails_the_run_and_the_teardown_deletes(results[0], run_id)


def test_a_failed_creation_leaves_no_firewall_and_the_name_works_next_run(
    results: tuple[E2eSession, dict[str, RunResult]], run_id: str
) -> None:
    scenarios.failed_creation_leaves_nothing_and_the_name_works_next_run(results[0], run_id)


def test_a_lost_answer_and_a_lagging_list_make_one_firewall(
    results: tuple[E2eSession, dict[str, RunResult]], run_id: str
) -> None:
    scenarios.lost_answer_and_lagging_list_make_one_firewall(results[0], run_id)


def test_a_prepaid_auto_paid_order_returns_the_running_firewall(
    results: tuple[E2eSession, dict[str, RunResult]], run_id: str
) -> None:
    scenarios.prepaid_auto_paid_order_returns_the_running_firewall(results[0], run_id)


def test_worker_starts_per_wait(results: tuple[E2eSession, dict[str, RunResult]]) -> None:
    """end_from_trigger: one worker start per wait on Airflow 2.11 too (and auto is on here)."""
    check_worker_starts(results[0], f"worker-free-{uuid.uuid4().hex[:6]}")


def test_failed_job_fails_the_first_try_in_every_mode(
    results: tuple[E2eSession, dict[str, RunResult]],
) -> None:
    check_failed_job_fails_the_first_try(results[0], f"worker-free-failed-{uuid.uuid4().hex[:6]}")
