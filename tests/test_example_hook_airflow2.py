"""The hook example run by Airflow 2.11 (``dag.test()``: real TaskInstances and XCom rows) against the
emulator: ``read_job`` pushes one XCom, not one more per key of the job."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from airflow import __version__ as airflow_version

from tests.conftest import PROJECT

pytestmark = pytest.mark.skipif(
    int(airflow_version.split(".")[0]) >= 3, reason="Airflow 2's dag.test(); Airflow 3 is tests/e2e's"
)

EXAMPLE = Path(__file__).resolve().parents[1] / "example_dags" / "example_cfw_hook.py"


def xcom_keys(run: Any, task_id: str) -> list[str]:
    from airflow.models.xcom import XCom
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return list(
            session.scalars(
                select(XCom.key).where(
                    XCom.dag_id == run.dag_id, XCom.run_id == run.run_id, XCom.task_id == task_id
                )
            )
        )


def test_read_job_pushes_only_its_return_value(airflow_db: None, emu: Any, conn: Any) -> None:
    from airflow.models.dagbag import DagBag

    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, statuses=["Success"])
    dag = DagBag(dag_folder=str(EXAMPLE), include_examples=False).dags["example_cfw_hook"]
    dag.sync_to_db()
    run = dag.test(run_conf={"job_id": job_id})
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["read_job"] == "success" and states["job_was_fast"] == "success"
    assert xcom_keys(run, "read_job") == ["return_value"]
    assert emu.stats.count("cfw.job") == 1
