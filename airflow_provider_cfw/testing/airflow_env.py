"""A throwaway Airflow for DAG tests: what the pytest plugin sets up when a project asks for it.

Asked for with the ``cfw_dags_folder`` ini option (or ``--cfw-dags-folder``): before Airflow is first
imported, the session gets a fresh ``AIRFLOW_HOME`` in a temporary folder, a SQLite metadata database
in it, and ``[core] dags_folder`` pointed at the user's DAGs. The user's own ``AIRFLOW_HOME``,
``AIRFLOW_CONFIG`` and database settings are shadowed for this process only, and put back at the end.

Only this module's own database is ever reset: :func:`reset_database` refuses any other one.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

#: Read by Airflow once, when it is first imported.
_SETTINGS = (
    "AIRFLOW_HOME",
    "AIRFLOW_CONFIG",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
)
#: Modules whose import reads Airflow's configuration: once loaded, settings made here come too late.
_CONFIG_MODULES = ("airflow.configuration", "airflow.settings")


class ThrowawayAirflowError(Exception):
    """The throwaway Airflow cannot be set up, or a database is not the throwaway one."""


@dataclass
class ThrowawayAirflow:
    """A temporary ``AIRFLOW_HOME`` with its own SQLite database, set in ``os.environ`` until :meth:`restore`.

    :param dags_folder: the folder ``[core] dags_folder`` points at.
    """

    dags_folder: Path
    home: Path = field(init=False)
    _saved: dict[str, str | None] = field(init=False, default_factory=dict)

    @property
    def database(self) -> Path:
        return self.home / "airflow.db"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database}"

    @classmethod
    def start(cls, dags_folder: Path, option: str) -> ThrowawayAirflow:
        """Check that it is not too late, then set the environment.

        :param dags_folder: the user's DAG folder (absolute).
        :param option: how the user named it, for error messages.
        """
        loaded = [name for name in _CONFIG_MODULES if name in sys.modules]
        if loaded:
            raise ThrowawayAirflowError(
                f"{option}: Airflow's configuration was already loaded ({', '.join(loaded)} imported, by "
                "another plugin or by -p), so the throwaway AIRFLOW_HOME would come too late and the tests "
                "would use your own Airflow. Import Airflow only from tests and fixtures."
            )
        if not dags_folder.is_dir():
            raise ThrowawayAirflowError(
                f"{option}: expected a folder of DAG files, got {dags_folder} (no such folder)"
            )
        env = cls(dags_folder)
        env.home = Path(tempfile.mkdtemp(prefix="cfw-airflow-home-"))
        values = {
            "AIRFLOW_HOME": str(env.home),
            "AIRFLOW_CONFIG": str(env.home / "airflow.cfg"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": env.database_url,
        }
        env._saved = {name: os.environ.get(name) for name in _SETTINGS}
        os.environ.update(values)
        return env

    def restore(self) -> None:
        """Put the environment back as it was, and delete the temporary home."""
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(self.home, ignore_errors=True)

    def check_database(self) -> None:
        """Refuse unless Airflow, as imported, uses this throwaway database."""
        from airflow import settings
        from airflow.configuration import conf

        configured = conf.get("database", "sql_alchemy_conn")
        engine = getattr(settings, "engine", None)
        in_use = None if engine is None else engine.url.render_as_string(hide_password=True)
        if configured != self.database_url or (in_use is not None and in_use != self.database_url):
            raise ThrowawayAirflowError(
                f"refusing to reset the metadata database {in_use or configured}: it is not the throwaway "
                f"one this session made ({self.database_url}). Something changed Airflow's database "
                "settings after the plugin set them (a conftest.py setting AIRFLOW_HOME or "
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN?); nothing was reset."
            )


def reset_database(env: ThrowawayAirflow | None) -> None:
    """Create the throwaway metadata database from scratch; refuse every other database.

    :param env: the session's throwaway Airflow, or None when the project did not ask for one.
    """
    if env is None:
        raise ThrowawayAirflowError(
            "refusing to reset the metadata database: cfw_airflow_db resets only the throwaway database "
            "of a session that asked for one, and this one did not. Add `cfw_dags_folder = <your DAG "
            "folder>` to your pytest configuration ([pytest] in pytest.ini, or "
            "[tool.pytest.ini_options] in pyproject.toml), or pass --cfw-dags-folder."
        )
    env.check_database()
    from airflow.utils import db

    db.resetdb()
