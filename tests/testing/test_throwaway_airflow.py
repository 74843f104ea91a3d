"""The plugin's throwaway Airflow (``cfw_dags_folder``): opt-in, set before Airflow loads, never resets
another database.

Each case is a pytest run in a fresh process (the plugin acts before Airflow is imported, which this
session already did), in a temporary folder, by a "user" whose ``AIRFLOW_HOME`` is exported.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def _pytest(
    cwd: Path, home: Path, *args: str, files: dict[str, str] | None = None, **user_env: str
) -> subprocess.CompletedProcess[str]:
    for name, text in (files or {}).items():
        (cwd / name).write_text(textwrap.dedent(text))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
    env.update(AIRFLOW_HOME=str(home), **user_env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def user_home(tmp_path: Path) -> Path:
    """The user's own AIRFLOW_HOME, with a database that holds something."""
    home = tmp_path / "my-airflow"
    home.mkdir()
    with sqlite3.connect(home / "airflow.db") as db:
        db.execute("CREATE TABLE variable (key TEXT, val TEXT)")
        db.execute("INSERT INTO variable VALUES ('my_var', 'keep')")
    return home


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_without_the_option_nothing_changes_and_the_db_fixture_refuses(
    tmp_path: Path, user_home: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    before = _digest(user_home / "airflow.db")
    result = _pytest(
        project,
        user_home,
        files={
            "test_mine.py": f"""
            import os

            def test_my_environment_is_mine():
                assert os.environ["AIRFLOW_HOME"] == {str(user_home)!r}
                assert not {{k for k in os.environ if k.startswith("AIRFLOW__") or k == "AIRFLOW_CONFIG"}}

            def test_reset(cfw_airflow_db):
                pass
            """
        },
    )
    assert "1 passed, 1 error" in result.stdout, result.stdout[-3000:]
    assert "refusing to reset the metadata database" in result.stdout
    assert "cfw_dags_folder" in result.stdout  # ...and it says how to ask for a throwaway one
    assert _digest(user_home / "airflow.db") == before


def test_a_conftest_that_points_airflow_elsewhere_is_refused(tmp_path: Path, user_home: Path) -> None:
    project = tmp_path / "project"
    (project / "dags").mkdir(parents=True)
    before = _digest(user_home / "airflow.db")
    result = _pytest(
        project,
        user_home,
        files={
            "pytest.ini": "[pytest]\ncfw_dags_folder = dags\n",
            # Too late to matter for the plugin, not for Airflow: it is imported after this line.
            "conftest.py": f"""
            import os
            os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "sqlite:///{user_home / "airflow.db"}"
            """,
            "test_mine.py": """
            def test_reset(cfw_airflow_db):
                pass
            """,
        },
    )
    assert "1 error" in result.stdout, result.stdout[-3000:]
    assert f"refusing to reset the metadata database sqlite:///{user_home / 'airflow.db'}" in result.stdout
    assert _digest(user_home / "airflow.db") == before


def test_the_option_sets_a_throwaway_home_before_airflow_loads(tmp_path: Path, user_home: Path) -> None:
    project = tmp_path / "project"
    (project / "my_dags").mkdir(parents=True)
    # The user's own airflow.cfg, exported: the session must not read it.
    (user_home / "airflow.cfg").write_text("[core]\nparallelism = 7\n")
    result = _pytest(
        project,
        user_home,
        "--cfw-dags-folder",
        "my_dags",
        AIRFLOW_CONFIG=str(user_home / "airflow.cfg"),
        files={
            # A conftest.py that imports Airflow at the top sees the throwaway settings already.
            "conftest.py": "from airflow.configuration import conf\n",
            "test_mine.py": f"""
            import os

            def test_settings():
                from airflow.configuration import conf

                home = os.environ["AIRFLOW_HOME"]
                assert home != {str(user_home)!r} and "cfw-airflow-home-" in home
                assert conf.get("core", "dags_folder") == {str(project / "my_dags")!r}
                assert conf.get("database", "sql_alchemy_conn") == f"sqlite:///{{home}}/airflow.db"
                assert conf.getboolean("core", "load_examples") is False
                assert conf.getint("core", "parallelism") != 7
            """,
        },
    )
    assert "1 passed" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]
    assert sorted(p.name for p in user_home.iterdir()) == ["airflow.cfg", "airflow.db"]


def test_a_missing_dags_folder_is_a_usage_error(tmp_path: Path, user_home: Path) -> None:
    result = _pytest(tmp_path, user_home, files={"pytest.ini": "[pytest]\ncfw_dags_folder = dgas\n"})
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert f"expected a folder of DAG files, got {tmp_path / 'dgas'} (no such folder)" in result.stderr


def test_airflow_loaded_before_the_plugin_is_a_usage_error(tmp_path: Path, user_home: Path) -> None:
    (tmp_path / "dags").mkdir()
    (tmp_path / "early_airflow.py").write_text("import airflow.configuration\n")
    result = _pytest(
        tmp_path,
        user_home,
        "-p",
        "early_airflow",
        files={"pytest.ini": "[pytest]\ncfw_dags_folder = dags\n"},
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "Airflow's configuration was already loaded" in result.stderr
