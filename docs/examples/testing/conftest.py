"""Settings Airflow reads once, when it is first imported: so they go here, before any test imports it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# A throwaway metadata database, unless you bring your own AIRFLOW_HOME.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
# dag.test() serializes the DAGs it finds in [core] dags_folder and runs the serialized DAG: without
# this line Airflow 3.3 fails with "Cannot create DagRun ... because the dag is not serialized".
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).parent / "dags")
