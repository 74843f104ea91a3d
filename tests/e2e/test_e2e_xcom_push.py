"""A task ended on Airflow 3's triggerer gives a downstream ``xcom_pull`` what a worker's push gives.

On a real stack (LocalExecutor, SQLite) whose ``[core] xcom_backend`` is a custom backend that keeps
values in files (``FileXCom``, standing for object storage): the trigger pushes through
``task_success_event``, plain and mapped, and a ``TaskSuccessEvent(xcoms=...)`` is the control. One
stack of its own, with one DAG run.
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
PREFIX = "cfw-e2e-xcom://"
JOB = {"id": "job-pushed", "status": "Success", "duration_seconds": 3, "request_id": None}
MAPPED = [{"id": "job-m0", "status": "Success"}, {"id": "job-m1", "status": "Success"}]
ENDED_HERE = [("pushed", -1), ("mapped", 0), ("mapped", 1), ("in_event", -1)]


@pytest.fixture(scope="module")
def xcom_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="cfw-e2e-xcom-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(xcom_dir: Path) -> Iterator[E2eSession]:
    env = {
        "PYTHONPATH": str(HERE / "lib"),
        "AIRFLOW__CORE__XCOM_BACKEND": "cfw_e2e_xcom.FileXCom",
        "CFW_E2E_XCOM_DIR": str(xcom_dir),
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


def _stored(xcom_dir: Path, reference: Any) -> dict[str, Any]:
    """What FileXCom wrote for a reference from the XCom table."""
    assert isinstance(reference, str) and reference.startswith(PREFIX), reference
    stored: dict[str, Any] = json.loads((xcom_dir / reference.removeprefix(PREFIX)).read_text())
    return stored


def test_a_downstream_task_pulls_the_triggerers_push_as_a_dict(stack: E2eSession, xcom_dir: Path) -> None:
    run_id = f"xcom-push-{uuid.uuid4().hex[:6]}"
    result = stack.run(DAG_ID, run_id, {})
    why = stack.diagnose(DAG_ID, run_id)
    records = stack.airflow.records
    assert result.state == "success", why
    for task_id, map_index in ENDED_HERE:
        ti = result.tasks[ti_key(task_id, map_index)]
        assert (ti.state, ti.try_number) == ("success", 1), (task_id, map_index, why)
        # The start that deferred, and no other: the triggerer ended the task.
        assert records.task_starts(DAG_ID, run_id, task_id, map_index) == 1, (task_id, map_index, why)

    # What the downstream task's xcom_pull returned, through the configured backend.
    pulled = _stored(xcom_dir, records.xcom(DAG_ID, run_id, "pulled"))["value"]
    assert pulled["pushed"] == ["dict", JOB], why
    assert pulled["mapped"] == ["list", MAPPED], why
    # The control: Airflow's own store of the event's XComs bypasses the backend, and is JSON text.
    assert pulled["in_event"] == ["str", json.dumps(JOB)], why
    assert records.xcom(DAG_ID, run_id, "in_event") == json.dumps(JOB)

    # The pushes went through the configured backend, in the triggerer, as the worker's would.
    for task_id, map_index, value in [("pushed", -1, JOB), *(("mapped", i, v) for i, v in enumerate(MAPPED))]:
        stored = _stored(xcom_dir, records.xcom(DAG_ID, run_id, task_id, map_index=map_index))
        assert stored["value"] == value, (task_id, map_index)
        assert stored["process"] == ["triggerer"], (task_id, map_index, stored)
        assert stored["ids"] == {
            "key": "return_value",
            "dag_id": DAG_ID,
            "task_id": task_id,
            "run_id": run_id,
            "map_index": map_index,
        }
    log = stack.airflow.task_log(DAG_ID, run_id, "pushed")
    assert "Pushed the XCom return_value through cfw_e2e_xcom.FileXCom" in log, why
