"""The ``dag.test()`` recipe of docs/testing-dags.md passes as written, and leaves the user's Airflow alone.

Its files are run with pytest in a fresh process, from their own folder, the way the page tells a user
to run them, by a user who exported ``AIRFLOW_HOME`` as Airflow's quickstart says and keeps a Variable
there (made with the airflow CLI, in a temporary home standing in for theirs). The same recipe passes
with ``end_from_trigger`` set either way on the sensor and the operators: ``dag.test()`` runs a trigger
inline, without a task instance, and every path resumes the task there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from airflow import __version__ as airflow_version

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "testing"
AIRFLOW = Path(sys.executable).parent / "airflow"

pytestmark = pytest.mark.skipif(
    int(airflow_version.split(".")[0]) < 3, reason="the example is written for Airflow 3 (airflow.sdk)"
)


def _user_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
    return {**env, "AIRFLOW_HOME": str(home)}


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _snapshot(home: Path) -> dict[str, str]:
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(home.rglob("*"))
        if p.is_file()
    }


def test_the_documented_dag_test_recipe_passes_and_leaves_the_users_airflow_alone(tmp_path: Path) -> None:
    home = tmp_path / "my-airflow"
    home.mkdir()
    env = _user_env(home)
    for argv in ([str(AIRFLOW), "db", "migrate"], [str(AIRFLOW), "variables", "set", "my_var", "keep"]):
        made = _run(argv, env, tmp_path)
        assert made.returncode == 0, made.stderr[-3000:]
    before = _snapshot(home)

    result = _run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        env,
        EXAMPLE,
    )

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout
    # Not one byte of the user's home changed (no reset, no migration, no log), and the Variable is there.
    assert _snapshot(home) == before
    kept = _run([str(AIRFLOW), "variables", "get", "my_var"], env, tmp_path)
    assert (kept.returncode, kept.stdout.strip()) == (0, "keep"), kept.stderr[-2000:]


#: Where the recipe's DAGs defer: the sensor, the create and the delete.
DEFERRING = "        deferrable=True,\n"


@pytest.mark.parametrize("end_from_trigger", [True, False])
def test_the_recipe_passes_with_end_from_trigger_set(tmp_path: Path, end_from_trigger: bool) -> None:
    recipe = tmp_path / "recipe"
    shutil.copytree(EXAMPLE, recipe, ignore=shutil.ignore_patterns("__pycache__"))
    set_here = 0
    for dag in (recipe / "dags").glob("*.py"):
        text = dag.read_text()
        set_here += text.count(DEFERRING)
        dag.write_text(text.replace(DEFERRING, f"{DEFERRING}        end_from_trigger={end_from_trigger},\n"))
    assert set_here == 3
    env = _user_env(tmp_path / "unused-home")

    result = _run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-s"], env, recipe)

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout
    # Each wait said which path it took (-s: the tasks' logs, which dag.test() prints).
    path = "on success the triggerer ends this task" if end_from_trigger else "the task resumes on a worker"
    assert result.stdout.count(f"{path} (end_from_trigger={end_from_trigger})") == 3, result.stdout[-4000:]
    assert not (tmp_path / "unused-home").exists()


def test_the_readme_shows_the_recipes_pytest_setting() -> None:
    readme = (EXAMPLE.parents[2] / "README.md").read_text()
    shown = readme.split("```ini\n", 1)[1].split("```", 1)[0].splitlines()
    recipe = (EXAMPLE / "pytest.ini").read_text().splitlines()
    assert shown and set(shown) <= set(recipe)
