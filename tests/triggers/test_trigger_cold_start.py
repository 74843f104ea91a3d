"""A triggerer (re)starting with many deferred waits creates all their triggers in the same instant, in a
fresh process. Here a subprocess imports only the trigger module, as the triggerer does, and starts 200
triggers at once: every one must fire its right event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from tests.conftest import PROJECT

N_TRIGGERS = 200

# Runs in a fresh interpreter: nothing of the provider is imported before the trigger module.
CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    import airflow.triggers.base
    airflow_loaded_requests = "requests" in sys.modules  # Airflow 2.11 does; 3.x does not
    from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
    import airflow.providers.common.compat.connection as compat

    # Counted where the hook module (imported later, by the first trigger) takes Airflow's lookup from.
    lookups = []
    real_lookup = compat.get_async_connection

    async def counting_lookup(conn_id, **kwargs):
        lookups.append(conn_id)
        return await real_lookup(conn_id, **kwargs)

    compat.get_async_connection = counting_lookup

    preloaded = sorted(m for m in ("airflow_provider_cfw.hooks.cfw", "airflow_provider_cfw.core.client") if m in sys.modules)

    async def one(job_id):
        trigger = CfwJobTrigger(job_id=job_id, project_id=sys.argv[2], poll_interval=0.05)
        try:
            return [event.payload["status"] async for event in trigger.run()]
        except Exception as err:
            return [f"raised {type(err).__name__}: {err}"]

    async def main(job_ids):
        return await asyncio.gather(*(one(job_id) for job_id in job_ids))

    job_ids = json.loads(sys.argv[1])
    events = dict(zip(job_ids, asyncio.run(main(job_ids))))
    print(json.dumps({
        "preloaded": preloaded,
        "events": events,
        "sync_transport_loaded": "airflow_provider_cfw.core.sync_transport" in sys.modules,
        "we_loaded_requests": "requests" in sys.modules and not airflow_loaded_requests,
        "connection_lookups": lookups,
    }))
    """
)


@pytest.mark.parametrize("auth", ["aksk", "password"])
def test_two_hundred_triggers_started_together_in_a_fresh_process_all_fire(
    emu: Any, set_conn: Any, auth: str
) -> None:
    conn = set_conn(auth=auth)
    expected: dict[str, list[str]] = {}
    for i in range(N_TRIGGERS):
        job_id = f"cold-{auth}-{i:03d}"
        final = "Failed" if i % 7 == 0 else "Success"
        emu.add_job(PROJECT, job_id, statuses=["Running", final])
        expected[job_id] = [final.lower()]
    emu.reset_stats()

    env = {**os.environ, "AIRFLOW_CONN_CFW_DEFAULT": json.dumps(conn)}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(list(expected)), PROJECT],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # The child really started cold: nothing had imported the hook module the triggers race to import.
    assert report["preloaded"] == []
    assert report["events"] == expected
    # Every trigger misses the cold connection cache in the same instant: they share one lookup.
    assert report["connection_lookups"] == ["cfw_default"]
    # The triggerer's path is async only: the sync transport, and with it requests and urllib3 (about
    # 3 MB), stay out of its process.
    assert report["sync_transport_loaded"] is False
    assert report["we_loaded_requests"] is False
    assert emu.stats.count("cfw.job") == 2 * N_TRIGGERS
    if auth == "password":
        assert emu.stats.tokens_issued == 1
