"""Your own DAG: a firewall for as long as the work needs it (create, use, delete)."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG, task

from airflow_provider_cfw import CfwCreateFirewallOperator, CfwDeleteFirewallOperator

with DAG(
    dag_id="my_firewall",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    params={"name": "my-firewall"},
):
    create = CfwCreateFirewallOperator(
        task_id="create_firewall",
        name="{{ params.name }}",
        flavor={"version": "Professional"},
        charge_info={"charge_mode": "postPaid"},
        deferrable=True,  # the triggerer waits for the creation job, not a worker
        poll_interval=2,  # short for a local try; the default, 10 s, suits Huawei Cloud
    )

    @task
    def use(firewall: dict) -> str:
        print("protecting with", firewall["firewall_id"])
        return firewall["firewall_id"]

    delete = CfwDeleteFirewallOperator(
        task_id="delete_firewall",
        name="{{ params.name }}",
        deferrable=True,
        poll_interval=2,
    )
    create >> use(create.output) >> delete.as_teardown(setups=create)
