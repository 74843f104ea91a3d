"""A task ended on Airflow 3's triggerer gives a downstream ``xcom_pull`` what a worker's push gives.

On a real stack (LocalExecutor, SQLite) whose ``[core] xcom_backend`` is the common.io provider's
object-storage backend (``XComObjectStorageBackend`` on a ``file://`` path, every value stored there):
the trigger pushes through ``task_success_event``, plain and mapped, and a ``TaskSuccessEvent(xcoms=...)``
is the control. One stack of its own, with one DAG run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.driver import E2eSession
from tests.e2e.records import ti_key
from tests.e2e.stack import airflow_major

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(airflow_major() < 3, reason="Airflow 2's triggerer stores the event's XComs"),
]

HERE = Path(__file__).resolve().parent / "xcom_push"
DAG_ID = "e2e_cfw_xcom_push"
JOB = {"id": "job-pushed", "status": "Success", "duration_seconds": 3, "request_id": None}
MAPPED = [{"id": "job-m0", "status": "Success"}, {"id": "job-m1", "status": "Success"}]
ENDED_HERE = [("pushed", -1), ("mapped", 0), ("mapped", 1), ("in_event", -1)]


@pytest.fixture(scope="module")
def storage() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="cfw-e2e-xcom-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(storage: Path) -> Iterator[E2eSession]:
    env = {
        "PYTHONPATH": str(HERE / "lib"),
        "AIRFLOW__CORE__XCOM_BACKEND": "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend",
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH": storage.as_uri(),
        "AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD": "0",  # every value goes to storage
    }
    session = E2eSession(
        [HERE / "dags" / f"{DAG_ID}.py"],
        [DAG_ID],
        jobs=[],
        parallelism=2,
        keep_home=bool(os.environ.get("CFW_E2E_KEEP")),
        env=env,
    )
    with session:
        yield session


def _stored(storage: Path, reference: Any, task_id: str) -> Any:
    """The value the backend wrote for a reference from the XCom table, in that task's folder."""
    assert isinstance(reference, str) and reference.startswith(storage.as_uri() + "/"), reference
    path = Path(reference.removeprefix("file://"))
    assert path.parent.name == task_id, reference
    return json.loads(path.read_text())


def test_a_downstream_task_pulls_the_triggerers_push_as_a_dict(stack: E2eSession, storage: Path) -> None:
    run_id = f"xcom-push-{uuid.uuid4().hex[:6]}"
    result = stack.run(DAG_ID, run_id, {})
    why = stack.diagnose(DAG_ID, run_id)
    records = stack.airflow.records
    assert result.state == "success", why
    for task_id, map_index in ENDED_HERE:
        ti = result.tasks[ti_key(task_id, map_index)]
        assert (ti.state, ti.try_number) == ("success", 1), (task_id, map_index, why)
        # The start that deferred (and returned nothing), and no other: the triggerer ended the task.
        assert records.task_starts(DAG_ID, run_id, task_id, map_index) == 1, (task_id, map_index, why)

    # What the downstream task's xcom_pull returned, through the configured backend.
    pulled = _stored(storage, records.xcom(DAG_ID, run_id, "pulled"), "pulled")
    assert pulled["pushed"] == ["dict", JOB], why
    assert pulled["mapped"] == ["list", MAPPED], why
    # The control: Airflow's own store of the event's XComs bypasses the backend, and is JSON text.
    assert pulled["in_event"] == ["str", json.dumps(JOB)], why
    assert records.xcom(DAG_ID, run_id, "in_event") == json.dumps(JOB)

    # The trigger's pushes went where the backend puts a worker's: object storage, a path in the table.
    pushes = [("pushed", -1, JOB), *(("mapped", i, value) for i, value in enumerate(MAPPED))]
    for task_id, map_index, value in pushes:
        reference = records.xcom(DAG_ID, run_id, task_id, map_index=map_index)
        assert _stored(storage, reference, task_id) == value, (task_id, map_index)
    log = stack.airflow.task_log(DAG_ID, run_id, "pushed")
    backend = "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend"
    assert f"Pushed the XCom return_value through {backend}" in log, why
