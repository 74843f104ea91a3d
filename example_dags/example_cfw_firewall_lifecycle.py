"""A firewall's whole life in one DAG: create it (waiting on the triggerer), use it, delete it.

Trigger it with a name, e.g. ``airflow dags trigger example_cfw_firewall_lifecycle --conf '{"name":
"airflow-fw-1"}'``. Needs a running triggerer. Credentials come only from the ``cfw_default``
connection. The firewall is pay-per-use (postPaid), the kind CFW deletes through its API.

The create and the delete are Airflow's setup and teardown: the delete runs even when the task in
the middle fails, so the firewall does not outlive the run, and the run still ends ``failed`` then (its
state comes from the work, not from the teardown). The delete finds the firewall by the create's name,
so it needs nothing from the create's XCom.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

try:
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2.x
    from airflow.decorators import task  # type: ignore[no-redef]
    from airflow.models.dag import DAG  # type: ignore[no-redef]
    from airflow.models.param import Param  # type: ignore[no-redef]

from airflow_provider_cfw.operators.cfw import CfwCreateFirewallOperator, CfwDeleteFirewallOperator

DAG_ID = "example_cfw_firewall_lifecycle"

log = logging.getLogger(__name__)

with DAG(
    dag_id=DAG_ID,
    description="Create a CFW firewall, use it, delete it: deferrable, and safe to retry",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["example", "cfw"],
    params={
        "name": Param(
            "airflow-example-fw",
            type="string",
            pattern="^[A-Za-z0-9_-]{1,48}$",
            description="The firewall's name; a run finds and reuses an existing firewall of that name.",
        ),
    },
) as dag:
    # [START howto_operator_cfw_create_firewall]
    create_firewall = CfwCreateFirewallOperator(
        task_id="create_firewall",
        name="{{ params.name }}",
        flavor={"version": "Professional"},
        charge_info={"charge_mode": "postPaid"},
        # Looks the name up first and sends an X-Client-Token derived from the task instance: a retry
        # after a lost answer never buys two. A failed creation is deleted before the task fails.
        if_exists="reuse",
        deferrable=True,
        poll_interval=10,
        timeout=30 * 60,
        retries=2,
    )
    # [END howto_operator_cfw_create_firewall]

    # [START howto_operator_cfw_use_firewall]
    @task
    def use_firewall(firewall: dict[str, Any]) -> str:
        """Anything that needs the firewall; here, read its status back by id."""
        # Imported in the task, not at the top: DAG files are parsed often and must stay cheap.
        from airflow_provider_cfw.hooks.cfw import CfwHook

        hook = CfwHook()
        [found] = [f for f in hook.list_firewalls(firewall["firewall_id"]) if f.id == firewall["firewall_id"]]
        log.info("Firewall %s (%s) is %s", found.name, found.id, found.status_text)
        return found.status_text

    used = use_firewall(create_firewall.output)
    # [END howto_operator_cfw_use_firewall]

    # [START howto_operator_cfw_delete_firewall]
    delete_firewall = CfwDeleteFirewallOperator(
        task_id="delete_firewall",
        # The create's name, not its XCom: found whatever the create managed to return. A firewall
        # already gone counts as deleted.
        name="{{ params.name }}",
        deferrable=True,
        poll_interval=10,
        retries=2,
    )
    # Setup and teardown: the delete runs after the work whatever its outcome, and the run's state
    # is the work's.
    create_firewall >> used >> delete_firewall.as_teardown(setups=create_firewall)
    # [END howto_operator_cfw_delete_firewall]
