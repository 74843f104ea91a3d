"""E2E only: firewall DAGs on Airflow 3 and 2.11. A create with an Airflow retry (a lost answer ridden
out by token and name), create >> work >> delete as setup/teardown (the work may be told to fail), and
a prePaid order paid at once (no job: the firewall itself is waited for on the triggerer)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2.x
    from airflow.decorators import task  # type: ignore[no-redef]
    from airflow.models.dag import DAG  # type: ignore[no-redef]

from airflow_provider_cfw.operators.cfw import CfwCreateFirewallOperator, CfwDeleteFirewallOperator

START = datetime(2026, 1, 1, tzinfo=UTC)
PRO = {"version": "Professional"}

with DAG(
    dag_id="e2e_cfw_firewall_retry",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["e2e"],
    params={"name": "e2e-fw"},
):
    CfwCreateFirewallOperator(
        task_id="create_firewall",
        name="{{ params.name }}",
        flavor=PRO,
        # In the worker, so the retry's look-up and wait are plain to read in its log.
        deferrable=False,
        poll_interval=1,
        timeout=120,
        retries=1,
        retry_delay=timedelta(seconds=0),
    )

with DAG(
    dag_id="e2e_cfw_firewall_teardown",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["e2e"],
    params={"name": "e2e-fw", "fail_work": False},
):
    create = CfwCreateFirewallOperator(
        task_id="create_firewall",
        name="{{ params.name }}",
        flavor=PRO,
        deferrable=True,
        poll_interval=1,
        timeout=120,
        # A failed creation must not burn this retry: the test reads the try number.
        retries=1,
        retry_delay=timedelta(seconds=0),
    )

    @task
    def work(**context: Any) -> str:
        if context["params"]["fail_work"]:
            raise RuntimeError("the work failed, as asked")
        return "done"

    delete = CfwDeleteFirewallOperator(
        task_id="delete_firewall", name="{{ params.name }}", deferrable=True, poll_interval=1, timeout=120
    )
    create >> work() >> delete.as_teardown(setups=create)

with DAG(
    dag_id="e2e_cfw_firewall_prepaid",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["e2e"],
    params={"name": "e2e-fw"},
):
    CfwCreateFirewallOperator(
        task_id="create_firewall",
        name="{{ params.name }}",
        flavor={"version": "Standard"},
        charge_info={"charge_mode": "prePaid", "period_type": "month", "period_num": 1, "is_auto_pay": True},
        deferrable=True,
        poll_interval=1,
        timeout=120,
    )
