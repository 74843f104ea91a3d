"""A DAG of your own: create a firewall, use it, delete it (setup and teardown), waiting on the triggerer."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG, task

from airflow_provider_cfw import CfwCreateFirewallOperator, CfwDeleteFirewallOperator

with DAG(
    dag_id="firewall_lifecycle",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    params={"name": "test-fw"},
) as dag:
    create = CfwCreateFirewallOperator(
        task_id="create_firewall",
        name="{{ params.name }}",
        flavor={"version": "Professional"},
        deferrable=True,
        poll_interval=1,
        timeout=120,
    )

    @task
    def use_firewall(firewall: dict) -> str:
        return firewall["firewall_id"]

    delete = CfwDeleteFirewallOperator(
        task_id="delete_firewall",
        name="{{ params.name }}",
        deferrable=True,
        poll_interval=1,
        timeout=120,
    )
    create >> use_firewall(create.output) >> delete.as_teardown(setups=create)
