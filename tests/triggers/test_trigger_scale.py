"""1,000 CfwJobTriggers in one event loop, as in one busy triggerer: counted on the emulator's side."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import pytest

from airflow_provider_cfw.core.transport import DEFAULT_POOL_SIZE
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from tests.conftest import PROJECT, assert_no_secrets

N_TRIGGERS = 1_000
POLLS_PER_JOB = 3
# Generous: a healthy poll step takes well under a millisecond; only a blocking call gets near this.
SLOW_CALLBACK_SECONDS = 0.5


async def drive(trigger: CfwJobTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


@pytest.mark.timeout(180)
async def test_a_thousand_triggers_share_one_pool_and_one_token(
    emu: Any, set_conn: Any, caplog: pytest.LogCaptureFixture
) -> None:
    set_conn(auth="password")
    expected: dict[str, str] = {}
    for i in range(N_TRIGGERS):
        job_id = f"scale-{i:04d}"
        final = "Failed" if i % 10 == 0 else "Success"
        emu.add_job(PROJECT, job_id, statuses=["Running"] * (POLLS_PER_JOB - 1) + [final])
        expected[job_id] = final.lower()
    emu.reset_stats()

    loop = asyncio.get_running_loop()
    loop.set_debug(os.environ.get("CFW_SCALE_DEBUG", "1") == "1")
    loop.slow_callback_duration = SLOW_CALLBACK_SECONDS
    triggers = [CfwJobTrigger(job_id=job_id, project_id=PROJECT, poll_interval=0.2) for job_id in expected]
    loop_cpu, process_cpu = time.thread_time(), time.process_time()
    with caplog.at_level(logging.WARNING, logger="asyncio"):
        results = await asyncio.gather(*(drive(trigger) for trigger in triggers))
    loop_cpu, process_cpu = time.thread_time() - loop_cpu, time.process_time() - process_cpu
    loop.set_debug(False)

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

    slow = [r.getMessage() for r in caplog.records if r.name == "asyncio" and "Executing" in r.getMessage()]
    ours = [m for m in slow if "airflow_provider_cfw" in m or "test_trigger_scale" in m]
    assert ours == [], ours
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
        f"whole process incl. the emulator {process_cpu:.2f} s; slow callbacks (any code): {len(slow)}"
    )
