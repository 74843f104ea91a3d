"""1,000 CfwJobTriggers in one event loop, as in one busy triggerer: counted on the emulator's side.

Counts only: how long a loop step takes depends on what else the machine runs, so the event loop's lag
is measured by ``make bench``, not asserted here."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_cfw.core.transport import DEFAULT_POOL_SIZE
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from tests.conftest import PROJECT, assert_no_secrets

N_TRIGGERS = 1_000
POLLS_PER_JOB = 3


async def drive(trigger: CfwJobTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


@pytest.mark.timeout(180)
async def test_a_thousand_triggers_share_one_pool_and_one_token(
    emu: Any, set_conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn(auth="password")
    expected: dict[str, str] = {}
    for i in range(N_TRIGGERS):
        job_id = f"scale-{i:04d}"
        final = "Failed" if i % 10 == 0 else "Success"
        emu.add_job(PROJECT, job_id, statuses=["Running"] * (POLLS_PER_JOB - 1) + [final])
        expected[job_id] = final.lower()
    emu.reset_stats()

    # Every hop to a worker thread (asyncio.to_thread and aiohttp's own lookups go through here).
    loop = asyncio.get_running_loop()
    hops = 0
    run_in_executor = loop.run_in_executor

    def counting_run_in_executor(*args: Any) -> Any:
        nonlocal hops
        hops += 1
        return run_in_executor(*args)

    monkeypatch.setattr(loop, "run_in_executor", counting_run_in_executor)
    triggers = [CfwJobTrigger(job_id=job_id, project_id=PROJECT, poll_interval=0.2) for job_id in expected]
    loop_cpu, process_cpu = time.thread_time(), time.process_time()
    results = await asyncio.gather(*(drive(trigger) for trigger in triggers))
    loop_cpu, process_cpu = time.thread_time() - loop_cpu, time.process_time() - process_cpu

    assert [len(events) for events in results] == [1] * N_TRIGGERS
    outcomes = {events[0]["job_id"]: events[0]["status"] for events in results}
    assert outcomes == expected
    assert all(events[0]["job"]["id"] == events[0]["job_id"] for events in results)

    stats = emu.stats
    assert stats.count("cfw.job", 200) == N_TRIGGERS * POLLS_PER_JOB
    assert stats.count("cfw.job") == N_TRIGGERS * POLLS_PER_JOB  # no errors, no retries
    assert stats.connections_accepted <= DEFAULT_POOL_SIZE
    assert stats.tokens_issued == 1
    assert stats.count("iam.tokens") == 1

    # The connection lookup may hop to a thread once per trigger (twice on Airflow 2); a poll never
    # does: one hop per poll would add 3,000 here.
    assert hops <= 2 * N_TRIGGERS, f"{hops} thread hops for {N_TRIGGERS} triggers"
    assert_no_secrets(
        [events[0] for events in results],
        [t.serialize() for t in triggers],
        *(repr(t) for t in triggers),
        extra=tuple(emu.issued_tokens),
    )

    requests = stats.total_requests
    print(
        f"\n{N_TRIGGERS} triggers, {POLLS_PER_JOB} polls each: {requests} requests, "
        f"{stats.connections_accepted} TCP connections, {stats.tokens_issued} IAM token(s); "
        f"event-loop thread CPU {loop_cpu:.2f} s ({loop_cpu / requests * 1000:.2f} s per 1,000 polls), "
        f"whole process incl. the emulator {process_cpu:.2f} s; thread hops {hops}"
    )
