"""``end_from_trigger=True`` and Airflow's default ``load_examples=True``: what the docs say where they show
the flag, checked against Airflow itself (issue 31).

A plain ``airflow standalone`` keeps ``[core] load_examples`` on, which loads Airflow's example
listener plugin, and Airflow refuses a DAG with ``end_from_trigger=True`` while a listener is installed.
Each case parses a one-sensor DAG file with Airflow's DagBag in a fresh process and a throwaway
``AIRFLOW_HOME``, with the setting as a user would have it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from airflow import __version__ as airflow_version

ROOT = Path(__file__).resolve().parent.parent

DAG = """
from datetime import UTC, datetime

from airflow.sdk import DAG

from airflow_provider_cfw import CfwJobSensor

with DAG("my_dag", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)):
    CfwJobSensor(task_id="wait_for_cfw_job", job_id="x", deferrable=True, end_from_trigger=True)
"""

PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"dags": sorted(bag.dags), "errors": list(bag.import_errors.values())}))
"""


def parse(tmp_path: Path, load_examples: str | None) -> dict[str, list[str]]:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "my_dag.py").write_text(textwrap.dedent(DAG))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
    env["AIRFLOW_HOME"] = str(tmp_path / "home")
    if load_examples is not None:
        env["AIRFLOW__CORE__LOAD_EXAMPLES"] = load_examples
    out = subprocess.run(
        [sys.executable, "-c", PARSE, str(dags)], env=env, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(int(airflow_version.split(".")[0]) < 3, reason="the docs' DAGs are Airflow 3's")
def test_airflows_default_load_examples_refuses_end_from_trigger(tmp_path: Path) -> None:
    parsed = parse(tmp_path, None)  # Airflow's default, as a plain `airflow standalone` has it
    assert parsed["dags"] == []
    [error] = parsed["errors"]
    # The words troubleshooting.md quotes.
    assert "AirflowClusterPolicyError: ('Listeners are not supported with end_from_trigger=True" in error


@pytest.mark.skipif(int(airflow_version.split(".")[0]) < 3, reason="the docs' DAGs are Airflow 3's")
def test_load_examples_off_accepts_it(tmp_path: Path) -> None:
    assert parse(tmp_path, "False") == {"dags": ["my_dag"], "errors": []}


def sections(text: str) -> list[str]:
    return re.split(r"\n(?=#{2,3} )", text)


@pytest.mark.parametrize(
    "path",
    [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))],
    ids=lambda p: p.name,
)
def test_where_the_docs_show_end_from_trigger_true_they_say_load_examples(path: Path) -> None:
    if path.name in ("performance.md", "changelog.md"):
        return  # measurements and history, not advice
    for section in sections(path.read_text(encoding="utf-8")):
        if "end_from_trigger=True" in section:
            # load_examples, or AIRFLOW__CORE__LOAD_EXAMPLES
            assert "load_examples" in section.lower(), f"{path.name}: {section.splitlines()[0]}"
