"""E2E only: the production stack's DAGs (tests/e2e/test_e2e_production.py), run by two Celery workers
with OpenLineage's listener installed. Default arguments wherever the test does not need otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

from airflow_provider_cfw.operators.cfw import CfwCreateFirewallOperator, CfwDeleteFirewallOperator
from airflow_provider_cfw.sensors.cfw import CfwJobSensor

START = datetime(2026, 1, 1, tzinfo=UTC)
#: Fast waits per run of prod_fast_waits (tests/e2e/test_e2e_production.py reads it).
FAST_WAITS = 10
#: Tasks of each kind per run of the worker-kill DAGs.
KILL_SENSORS = 3
KILL_CREATES = 2
#: Try 2 of a task that lost its worker comes this long after Airflow failed try 1.
KILL_RETRY_DELAY = timedelta(seconds=2)


def _dag(dag_id: str, params: dict[str, Any]) -> DAG:
    return DAG(dag_id=dag_id, schedule=None, start_date=START, catchup=False, tags=["e2e"], params=params)


with _dag("prod_sensor_modes", {"poke": "", "reschedule": "", "deferrable": ""}):
    CfwJobSensor(task_id="poke", job_id="{{ params.poke }}", mode="poke", poke_interval=1)
    # Reschedule mode pokes every 10 s. With 3 s (what e2e_cfw_worker.py uses on the LocalExecutor) the
    # scheduler here took in a poke's exit 6 s after it, the next poke already scheduled, and failed the
    # task (apache/airflow#71172; CeleryExecutor, load average 16): a reschedule interval must outlast
    # how long the scheduler takes to hear from the executor.
    CfwJobSensor(task_id="reschedule", job_id="{{ params.reschedule }}", mode="reschedule", poke_interval=10)
    CfwJobSensor(task_id="deferrable", job_id="{{ params.deferrable }}", deferrable=True, poke_interval=1)

with _dag("prod_lifecycle", {"name": "prod"}):
    # The operators' defaults, deferred: the triggerer waits, end_from_trigger is left to auto.
    create = CfwCreateFirewallOperator(
        task_id="create", name="{{ params.name }}", flavor={"version": "Professional"}, deferrable=True
    )

    @task
    def check(firewall: Any) -> str:
        # What a downstream task gets from the create: the dict a worker returns, whichever path ended it.
        if not isinstance(firewall, dict):
            raise TypeError(f"the create's XCom is a {type(firewall).__name__}, not a dict: {firewall!r}")
        return str(firewall["firewall_id"])

    delete = CfwDeleteFirewallOperator(
        task_id="delete", firewall_id="{{ ti.xcom_pull(task_ids='check') }}", deferrable=True
    )
    check(create.output) >> delete

# Fast waits: each job answers Running to the worker's first poke, then Success to the trigger's first
# poll, so the task resumes within a second or two of its deferral (Airflow's fast-deferral race).
# retries=0: a success turned into a failure shows as a failed task, not a retry.
with _dag("prod_fast_waits", {f"job_{i}": "" for i in range(FAST_WAITS)}):
    for i in range(FAST_WAITS):
        CfwJobSensor(
            task_id=f"wait_{i}",
            job_id=f"{{{{ params.job_{i} }}}}",
            deferrable=True,
            poke_interval=1,
            retries=0,
            # A queue of their own: with [triggerer] queues_enabled their triggers carry it too, and only
            # a triggerer started with --queues naming it runs them.
            queue="cfw",
        )

# A worker is SIGKILLed under these: every task gets one retry, 2 s after Airflow fails the lost try.
for dag_id, deferrable in (("prod_kill_worker_waits", False), ("prod_kill_resumes", True)):
    with _dag(dag_id, {"name": "", **{f"job_{i}": "" for i in range(KILL_SENSORS)}}):
        for i in range(KILL_SENSORS):
            CfwJobSensor(
                task_id=f"wait_{i}",
                job_id=f"{{{{ params.job_{i} }}}}",
                deferrable=deferrable,
                poke_interval=1,
                retries=1,
                retry_delay=KILL_RETRY_DELAY,
            )
        for i in range(KILL_CREATES):
            CfwCreateFirewallOperator(
                task_id=f"create_{i}",
                name=f"{{{{ params.name }}}}-{i}",
                flavor={"version": "Professional"},
                deferrable=deferrable,
                poll_interval=1,
                retries=1,
                retry_delay=KILL_RETRY_DELAY,
            )
