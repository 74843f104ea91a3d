"""The ``dag.test()`` example of docs/testing-dags.md passes as written: its files are run with pytest in
a fresh process, from their own folder, the way the page tells a user to run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from airflow import __version__ as airflow_version

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "testing"

pytestmark = pytest.mark.skipif(
    int(airflow_version.split(".")[0]) < 3, reason="the example is written for Airflow 3 (airflow.sdk)"
)


def test_the_documented_dag_test_example_passes(tmp_path: Path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    env.pop("AIRFLOW__CORE__DAGS_FOLDER", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_wait_for_firewall.py"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "2 passed" in result.stdout
    # The run used the AIRFLOW_HOME it was given (conftest.py only sets one when none is set).
    assert (tmp_path / "airflow.db").exists()
