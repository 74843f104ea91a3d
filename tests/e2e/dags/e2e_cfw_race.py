"""E2E only: short deferred waits, several per run, for Airflow's stale-executor-event race (issues 26
and 33) and the cost of a wait (issue 25): one DAG per way the sensor can wait (default arguments
included), one for the firewall operators (their ``end_from_trigger`` left to its default).

Every task has ``retries=0``: a success turned into a failure shows as a failed task, not a retry.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

from airflow.sdk import DAG

from airflow_provider_cfw.operators.cfw import CfwCreateFirewallOperator, CfwDeleteFirewallOperator
from airflow_provider_cfw.sensors.cfw import CfwJobSensor
from airflow_provider_cfw.version_compat import listeners_installed

#: Sensors per DAG run, and create/delete pairs per firewall run (tests/e2e/waits.py reads both).
SENSORS = 6
PAIRS = 3
#: The sensor's ways to wait, by the keyword that selects each; a mode whose keyword the installed
#: sensor does not take is left out, and the driver skips it.
SENSOR_MODES: dict[str, dict[str, bool]] = {
    "worker": {"end_from_trigger": False, "start_from_trigger": False},
    "end_from_trigger": {"end_from_trigger": True, "start_from_trigger": False},
    "start_from_trigger": {"end_from_trigger": True, "start_from_trigger": True},
    # Default arguments (issue 33): the driver runs this DAG for jobs that succeed, for jobs that fail,
    # and on a stack with a listener plugin installed.
    "default": {},
}
START = datetime(2026, 1, 1, tzinfo=UTC)
_ACCEPTED = set(inspect.signature(CfwJobSensor.__init__).parameters)
# Airflow refuses a DAG whose task sets end_from_trigger=True where listeners are installed.
_LISTENERS = listeners_installed()

for mode, switches in SENSOR_MODES.items():
    if any(on and name not in _ACCEPTED for name, on in switches.items()):
        continue
    if _LISTENERS and switches.get("end_from_trigger"):
        continue
    kwargs = {name: on for name, on in switches.items() if name in _ACCEPTED}
    with DAG(
        dag_id=f"e2e_cfw_race_{mode}",
        schedule=None,
        start_date=START,
        catchup=False,
        tags=["e2e"],
        params={f"job_{i}": "" for i in range(SENSORS)},
    ):
        for i in range(SENSORS):
            CfwJobSensor(
                task_id=f"wait_{i}",
                job_id=f"{{{{ params.job_{i} }}}}",
                deferrable=True,
                poke_interval=1,
                timeout=300,
                retries=0,
                **kwargs,
            )

with DAG(
    dag_id="e2e_cfw_race_firewall",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["e2e"],
    params={"name": "race"},
):
    for i in range(PAIRS):
        create = CfwCreateFirewallOperator(
            task_id=f"create_{i}",
            name=f"{{{{ params.name }}}}-{i}",
            flavor={"version": "Professional"},
            charge_info={"charge_mode": "postPaid"},
            deferrable=True,
            poll_interval=1,
            timeout=300,
            retries=0,
        )
        delete = CfwDeleteFirewallOperator(
            task_id=f"delete_{i}",
            firewall_id=f"{{{{ ti.xcom_pull(task_ids='create_{i}')['firewall_id'] }}}}",
            deferrable=True,
            poll_interval=1,
            timeout=300,
            retries=0,
        )
        create >> delete
