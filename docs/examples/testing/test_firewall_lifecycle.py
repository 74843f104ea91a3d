"""Test a DAG with the firewall operators: ``pytest test_firewall_lifecycle.py``."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

DAGS = Path(__file__).parent / "dags"


@pytest.fixture
def firewall_lifecycle(cfw_airflow_db, monkeypatch):
    monkeypatch.syspath_prepend(str(DAGS))
    return importlib.import_module("firewall_lifecycle").dag


def test_the_dag_creates_uses_and_deletes_the_firewall(cfw, firewall_lifecycle):
    run = firewall_lifecycle.test(run_conf={"name": "test-fw-1"})

    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert run.state == "success"
    assert {task_id: ti.state for task_id, ti in tis.items()} == dict.fromkeys(tis, "success")
    # What the create returned, as the task downstream of it received it.
    created = tis["create_firewall"].xcom_pull(task_ids="create_firewall")
    assert (created["name"], created["status"], created["reused"]) == ("test-fw-1", 2, False)
    assert tis["use_firewall"].xcom_pull(task_ids="use_firewall") == created["firewall_id"]
    deleted = tis["delete_firewall"].xcom_pull(task_ids="delete_firewall")
    assert deleted == {"firewall_id": created["firewall_id"], "job_id": deleted["job_id"]}
    assert deleted["job_id"] and created["job_id"]
    # The emulator made one firewall and holds none: the teardown deleted it.
    assert cfw.firewalls_created == 1 and cfw.list_firewalls() == []
