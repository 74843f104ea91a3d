"""E2E only: a firewall create with an Airflow retry, so a lost answer can be ridden out by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_cfw.operators.cfw import CfwCreateFirewallOperator

with DAG(
    dag_id="e2e_cfw_firewall_retry",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["e2e"],
    params={"name": "e2e-fw"},
):
    CfwCreateFirewallOperator(
        task_id="create_firewall",
        name="{{ params.name }}",
        flavor={"version": "Professional"},
        # In the worker, so the retry's look-up and wait are plain to read in its log.
        deferrable=False,
        poll_interval=1,
        timeout=120,
        retries=1,
        retry_delay=timedelta(seconds=0),
    )
