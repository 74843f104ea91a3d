"""CfwJobSensor run by Airflow 2.11's own TaskInstance (a real metadata database, real TaskReschedule
rows, Airflow's executor safeguard on) against the emulator. Airflow 3 runs tasks through the Task SDK
instead; tests/e2e covers that on a real stack.

The database is a SQLite file in ``AIRFLOW_HOME``, which ``make test-airflow2`` points at a fresh
temporary folder.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from airflow import __version__ as airflow_version

from airflow_provider_cfw.sensors.cfw import CfwJobSensor
from tests.conftest import PROJECT

pytestmark = pytest.mark.skipif(
    int(airflow_version.split(".")[0]) >= 3, reason="Airflow 2's TaskInstance; Airflow 3 is tests/e2e's"
)

SAFEGUARD = "cannot be called outside TaskInstance"


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Attached to two loggers: a record that propagates from one to the other counts once.
        if all(record is not seen for seen in self.records):
            self.records.append(record)

    def count(self, needle: str) -> int:
        return sum(needle in record.getMessage() for record in self.records)


@pytest.fixture
def task_log() -> Iterator[Recorded]:
    """Every line the task logs: Airflow 2's ``airflow.task`` logger does not propagate to the root."""
    handler = Recorded()
    loggers = [logging.getLogger("airflow.task"), logging.getLogger()]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


def new_dag_run(sensor_class: type[CfwJobSensor] = CfwJobSensor, **sensor_kwargs: Any) -> tuple[Any, Any]:
    """A DAG holding one sensor, in the database, with a running DAG run; its task instance."""
    from airflow.models.dag import DAG
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunType

    sensor_kwargs.setdefault("poke_interval", 0)
    with DAG(
        f"cfw_{uuid.uuid4().hex[:12]}", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)
    ) as dag:
        task = sensor_class(task_id="wait", project_id=PROJECT, **sensor_kwargs)
    dag.sync_to_db()
    run = dag.create_dagrun(
        run_id="manual",
        state=DagRunState.RUNNING,
        execution_date=datetime.now(UTC),
        run_type=DagRunType.MANUAL,
    )
    ti = run.get_task_instance(task.task_id)
    ti.task = task
    # As the scheduler and executor do: scheduling numbers the first try 1 (and its TaskReschedule rows).
    run.schedule_tis([ti])
    ti.refresh_from_db()
    ti.set_state(TaskInstanceState.QUEUED)
    return dag, ti


def run_ti(ti: Any) -> str:
    """One try (one poke in reschedule mode), as a worker runs it; the state it leaves in the database.

    A failed try raises out of ``ti.run()`` after Airflow recorded the failure: the state says it.
    """
    # The DAG's own operator, never run: a worker parses the DAG afresh for every try and poke (Airflow
    # runs a copy of it and leaves that copy in ti.task).
    ti.task = ti.task.dag.get_task(ti.task_id)
    with contextlib.suppress(Exception):
        ti.run()
    ti.refresh_from_db()
    return str(ti.state)


def reschedule_rows(ti: Any) -> list[Any]:
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(TaskReschedule.stmt_for_task_instance(ti, try_number=1)).all()
        session.expunge_all()
        return list(rows)


# -- the executor safeguard ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_poke_and_reschedule_pass_with_nested_operators_refused(
    airflow_db: None, emu: Any, conn: Any, task_log: Recorded, mode: str
) -> None:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, statuses=["Running", "Success"])
    _dag, ti = new_dag_run(job_id=job_id, mode=mode, allow_nested_operators=False)
    states = [run_ti(ti)]
    if mode == "reschedule":
        assert states == ["up_for_reschedule"]
        states.append(run_ti(ti))
    assert states[-1] == "success"
    assert ti.xcom_pull(task_ids="wait")["status"] == "Success"
    assert task_log.count(SAFEGUARD) == 0


def test_deferrable_passes_with_nested_operators_refused(
    airflow_db: None, emu: Any, conn: Any, task_log: Recorded
) -> None:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, statuses=["Running", "Running", "Success"])
    dag, _ti = new_dag_run(job_id=job_id, deferrable=True, allow_nested_operators=False)
    # dag.test() runs the task through TaskInstance._run_raw_task and the trigger inline, then resumes.
    run = dag.test()
    (ti,) = run.get_task_instances()
    assert str(ti.state) == "success"
    assert ti.xcom_pull(task_ids="wait")["status"] == "Success"
    assert task_log.count(SAFEGUARD) == 0
    assert emu.stats.count("cfw.job") == 3  # one poke on the worker, two polls on the trigger


def test_safeguard_is_logged_by_a_nested_execute(
    airflow_db: None, emu: Any, conn: Any, task_log: Recorded
) -> None:
    # The tests above can fail: an operator whose execute calls another's trips the safeguard here.
    class Nested(CfwJobSensor):
        def execute(self, context: Any) -> Any:
            return super().execute(context)

    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, statuses=["Success"])
    _dag, ti = new_dag_run(Nested, job_id=job_id)
    assert run_ti(ti) == "success"
    assert task_log.count(SAFEGUARD) == 1


# -- reschedule mode: the not-found grace period counts from the first poke's TaskReschedule row -------


def backdate_first_reschedule(ti: Any, seconds: float) -> None:
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session

    with create_session() as session:
        first = session.scalars(TaskReschedule.stmt_for_task_instance(ti, try_number=1).limit(1)).one()
        first.start_date -= timedelta(seconds=seconds)


def test_reschedule_grace_period_counts_from_the_first_reschedule_row(
    airflow_db: None, emu: Any, conn: Any
) -> None:
    job_id = str(uuid.uuid4())  # never created: "not found" at every poke
    _dag, ti = new_dag_run(job_id=job_id, mode="reschedule", not_found_grace_period=60)
    assert [run_ti(ti), run_ti(ti)] == ["up_for_reschedule", "up_for_reschedule"]
    assert len(reschedule_rows(ti)) == 2
    # Only the first row moves back in time: the later pokes ran just now.
    backdate_first_reschedule(ti, 50)
    assert run_ti(ti) == "up_for_reschedule"
    backdate_first_reschedule(ti, 20)  # the first poke was 70 s ago now, past the 60 s grace period
    assert run_ti(ti) == "failed"
    assert len(reschedule_rows(ti)) == 3
    assert ti.try_number == 1 and ti.max_tries == 0  # failed for good (AirflowFailException), no retry
    assert emu.stats.count("cfw.job", 400) == 4
