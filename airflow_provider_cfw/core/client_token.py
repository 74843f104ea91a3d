"""CreateFirewall's ``X-Client-Token``: one token per task instance and request, the same on every try.

CFW answers a repeated token with the first answer and creates nothing, so a retry of a create whose
answer was lost is safe even when ListFirewallList does not show the new firewall yet. The token is
derived, not random, so that every try of one task instance sends the same one: from the dag, the run,
the task and the map index (never the try number, nor the task instance's id, which change between
tries), the project and the request body (another name, flavor or billing is another order).

The run's ``clear_number`` is an input too: Airflow counts up when someone clears the run's task
instances, and such a clear is a new decision to create (after a failed creation was cleaned up, the
first answer, a failed job, must not come back), while the retries of one try share it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

#: Fixed for ever: changing it would give every task instance a new token.
CLIENT_TOKEN_NAMESPACE = uuid.UUID("7c4b6f0e-3c1d-5b8a-9f2e-6a1d0c9e4b21")


def client_token(
    *,
    dag_id: str | None,
    run_id: str | None,
    task_id: str,
    map_index: int | None,
    project_id: str | None,
    body: Mapping[str, Any],
    clear_number: int | None = None,
) -> str:
    """``uuid5(namespace, canonical JSON of the inputs).hex``: 32 hexadecimal characters.

    :param dag_id: the task instance's DAG.
    :param run_id: its DAG run.
    :param task_id: its task.
    :param map_index: its map index (``-1`` when not mapped).
    :param clear_number: how often the run was cleared (``None`` or ``0``: never).
    :param project_id: the project the firewall is ordered in (``None``: the connection's).
    :param body: the CreateFirewall request body.
    """
    canonical = json.dumps(
        {
            "dag_id": dag_id,
            "run_id": run_id,
            "task_id": task_id,
            "map_index": -1 if map_index is None else map_index,
            "clear_number": clear_number or 0,
            "project_id": project_id,
            "body": body,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return uuid.uuid5(CLIENT_TOKEN_NAMESPACE, canonical).hex
