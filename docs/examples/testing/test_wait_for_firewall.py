"""Test a DAG against the CFW emulator with ``dag.test()``: ``pytest test_wait_for_firewall.py``."""

from __future__ import annotations

import importlib
import json
import uuid
from pathlib import Path

import pytest

DAGS = Path(__file__).parent / "dags"
AK, SK = "EXAMPLEAK00000000000", "EXAMPLEsecretKey-not-a-real-key-000000000"
PROJECT = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="session")
def airflow_db():
    """A fresh metadata database in AIRFLOW_HOME (see conftest.py)."""
    from airflow.utils import db

    db.resetdb()


@pytest.fixture
def cfw(cfw_emulator, monkeypatch):
    """The emulator, with one account, and the ``cfw_default`` connection pointing at it."""
    cfw_emulator.add_aksk(AK, SK)
    cfw_emulator.add_project(PROJECT, "cn-north-4")
    conn = {
        "conn_type": "huaweicloud_cfw",
        "login": AK,
        "password": SK,
        "extra": {
            "region": "cn-north-4",
            "project_id": PROJECT,
            "endpoint": cfw_emulator.url,
            "iam_endpoint": cfw_emulator.url,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_CFW_DEFAULT", json.dumps(conn))
    return cfw_emulator


@pytest.fixture
def wait_for_firewall(monkeypatch):
    monkeypatch.syspath_prepend(str(DAGS))
    return importlib.import_module("wait_for_firewall").dag


def test_the_dag_waits_for_the_job_and_returns_it(airflow_db, cfw, wait_for_firewall):
    job_id = str(uuid.uuid4())
    cfw.add_job(PROJECT, job_id, statuses=["Running", "Running", "Success"])

    run = wait_for_firewall.test(run_conf={"job_id": job_id})

    assert run.state == "success"
    assert cfw.stats.count("cfw.job", 200) == 3  # one poke on the "worker", two polls by the trigger


def test_a_failed_job_fails_the_run(airflow_db, cfw, wait_for_firewall):
    job_id = str(uuid.uuid4())
    cfw.add_job(PROJECT, job_id, statuses=["Running", "Failed"])

    run = wait_for_firewall.test(run_conf={"job_id": job_id})

    assert run.state == "failed"
