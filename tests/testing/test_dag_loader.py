"""``cfw_load_dag``: several ``dag.test()`` runs in one pytest process, each on a DAG parsed afresh, so a
run's ``conf`` never leaks into the next run's params (issue 31).

The runs happen in a fresh pytest process on the plugin's throwaway Airflow (``cfw_dags_folder``), as a
user's suite runs them; the first case shows Airflow 3.3.2's own behaviour that the fixture avoids.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from airflow import __version__ as airflow_version

pytestmark = pytest.mark.skipif(
    int(airflow_version.split(".")[0]) < 3, reason="dag.test() recipes are Airflow 3's (airflow.sdk)"
)

DAG = """
from datetime import UTC, datetime

from airflow.sdk import DAG, task

with DAG("params_dag", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC),
         params={"job_id": "", "name": "default-name"}) as dag:

    @task
    def show(params=None):
        return dict(params)

    show()
"""

TESTS = """
import importlib

import pytest


def seen(run):
    return run.get_task_instance("show").xcom_pull(task_ids="show")


def test_one_dag_object_run_twice_leaks_the_first_conf(cfw_airflow_db, monkeypatch):
    monkeypatch.syspath_prepend("dags")
    dag = importlib.import_module("params_dag").dag
    dag.test(run_conf={"job_id": "one", "name": "first-name"})
    second = dag.test(run_conf={"job_id": "two"})
    assert seen(second) == {"job_id": "two", "name": "first-name"}  # not the default


def test_a_dag_loaded_for_each_run_starts_from_its_defaults(cfw_load_dag):
    first = cfw_load_dag("params_dag").test(run_conf={"job_id": "one", "name": "first-name"})
    second = cfw_load_dag("params_dag").test(run_conf={"job_id": "two"})
    assert seen(first) == {"job_id": "one", "name": "first-name"}
    assert seen(second) == {"job_id": "two", "name": "default-name"}
    assert second.state == "success"


def test_an_unknown_dag_id_fails_naming_what_was_found(cfw_load_dag):
    with pytest.raises(pytest.fail.Exception, match=r"no DAG 'nope' in .*dags \\(DAGs found: params_dag\\)"):
        cfw_load_dag("nope")
"""


def test_cfw_load_dag_isolates_runs_in_one_process(tmp_path: Path) -> None:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "params_dag.py").write_text(textwrap.dedent(DAG))
    (tmp_path / "pytest.ini").write_text("[pytest]\ncfw_dags_folder = dags\n")
    (tmp_path / "test_runs.py").write_text(textwrap.dedent(TESTS))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
    env["AIRFLOW_HOME"] = str(tmp_path / "user-home")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_runs.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout
