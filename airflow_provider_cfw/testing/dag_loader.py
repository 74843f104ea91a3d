"""A DAG parsed afresh from the throwaway Airflow's DAG folder, for one ``dag.test()`` run.

Why afresh: Airflow 3.3.2's task runner merges a run's ``conf`` into the params by resolving the
task's own ``Param`` objects in place (``process_params``). In a deployment every task runs in a new
process, which parses the DAG file again; ``dag.test()`` runs the tasks of the DAG object it is given,
in the test's process. Run the same object twice and the second run sees, for every param its ``conf``
does not set, the first run's value instead of the default. A DAG loaded once per run (as Airflow's own
DagBag parses it: the file executed again under a fresh module name) starts from its defaults.

Imported only by the pytest plugin's ``cfw_load_dag`` fixture, once Airflow's settings are in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class DagNotFoundError(Exception):
    """The folder holds no DAG with that id (the message lists the ids found and any import errors)."""


def _dag_bag(folder: Path) -> Any:
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3
    except ImportError:  # Airflow 2.11
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    return DagBag(dag_folder=str(folder))


def load_dag(folder: Path, dag_id: str) -> Any:
    """Parse ``folder`` anew and return its DAG ``dag_id``: new task and ``Param`` objects every call.

    :param folder: the DAG folder (``[core] dags_folder``).
    :param dag_id: the DAG to return.
    :raises DagNotFoundError: no DAG of that id was found there.
    """
    bag = _dag_bag(folder)
    dag = bag.dags.get(dag_id)
    if dag is None:
        found = ", ".join(sorted(bag.dags)) or "none"
        errors = "".join(f"\n{path}: {error}" for path, error in sorted(bag.import_errors.items()))
        raise DagNotFoundError(
            f"no DAG {dag_id!r} in {folder} (DAGs found: {found})"
            + (f"; import errors:{errors}" if errors else "")
        )
    return dag
