"""Many CfwJobTriggers against an account's API rate limit (the emulator's, over real HTTP): one limiter
per identity, shared by every wait of that identity, and a throttle is never a failure of a wait.

Counts only (answers, limiters, turns, events); a wait that counted a throttle as a transient error
ends with an error event here, since every trigger tolerates none (``max_transient_errors=0``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_cfw.core.rate_limit import LIMITERS, MAX_THROTTLED_RETRIES, RateLimiter
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from tests.conftest import PROJECT, LimiterClock

AK2, SK2 = "SECONDAK000000000000", "second-secret-key-not-a-real-one-0000000"


def timed_jobs(emu: Any, prefix: str, count: int, running_s: float) -> list[str]:
    ids = [f"{prefix}-{i:03d}" for i in range(count)]
    for job_id in ids:
        emu.add_job(PROJECT, job_id, statuses=[("Running", running_s), ("Success", None)])
    return ids


async def events(job_ids: list[str], poll_interval: float, conn_id: str = "cfw_default") -> list[str]:
    async def one(job_id: str) -> str:
        trigger = CfwJobTrigger(
            job_id=job_id,
            project_id=PROJECT,
            cfw_conn_id=conn_id,
            poll_interval=poll_interval,
            max_transient_errors=0,
        )
        (event,) = [e.payload async for e in trigger.run()]
        return str(event["status"])

    return list(await asyncio.gather(*(one(job_id) for job_id in job_ids)))


def limiter_of(conn_id: str) -> RateLimiter:
    settings = CfwHook(conn_id).settings
    ((_, limiter),) = LIMITERS.for_settings(settings)  # the emulator serves CFW and IAM on one URL
    return limiter


@pytest.mark.timeout(120)
async def test_the_waits_of_one_identity_share_one_limiter(emu: Any, set_conn: Any) -> None:
    set_conn()
    # 30 waits polling every 0.2 s (150 calls/s) against an account limited to 20 calls/s.
    job_ids = timed_jobs(emu, "shared", 30, running_s=2.0)
    emu.set_rate_limit(20, retry_after="1")
    emu.reset_stats()
    assert await events(job_ids, poll_interval=0.2) == ["success"] * 30

    stats = emu.stats
    calls, throttled = stats.count("cfw.job"), stats.count("cfw.job", 429)
    (limiter,) = list(LIMITERS)
    # Every call of every wait went through the one limiter, and each throttle taught it.
    assert limiter.sent == calls
    assert limiter.throttled == throttled
    # The first overload taught all thirty waits at once: few throttles, where thirty waits each
    # learning on its own see most of their calls throttled. Measured: 1 of 67 calls on an idle
    # machine, 7 to 13 % beside four CPU hogs, 27 % beside an Airflow stack in `make test` (a starved
    # loop sends the turns it slept through together); the pause and the pacing are each pinned by
    # other tests (tests/core/test_rate_limit.py, test_retries.py), which a mutation of either fails.
    assert throttled <= 0.4 * calls, (throttled, calls)
    assert limiter.rate is not None and limiter.rate <= 20


@pytest.mark.timeout(120)
async def test_two_credentials_never_slow_each_other(emu: Any, set_conn: Any) -> None:
    set_conn()
    emu.add_aksk(AK2, SK2)
    set_conn("cfw_second", login=AK2, password=SK2)
    # One budget per AK (as two accounts): the first AK's 20 waits overload theirs, the second's one wait
    # stays far below its own.
    emu.set_rate_limit(10, retry_after="1", scope="access_key")
    busy = timed_jobs(emu, "busy", 20, running_s=2.0)
    quiet = timed_jobs(emu, "quiet", 1, running_s=2.0)
    emu.reset_stats()
    results = await asyncio.gather(events(busy, 0.1), events(quiet, 0.5, "cfw_second"))
    assert results == [["success"] * 20, ["success"]]

    first, second = limiter_of("cfw_default"), limiter_of("cfw_second")
    assert first is not second
    assert first.pauses >= 1 and first.waits > 0
    # The second credential's calls never waited for a turn, were never paused, never throttled.
    assert (second.waits, second.pauses, second.throttled, second.rate) == (0, 0, 0, None)
    assert second.sent == sum(1 for e in emu.stats.log if e.access_key == AK2)
    assert not [e for e in emu.stats.log if e.access_key == AK2 and e.status == 429]


async def test_a_throttled_read_never_counts_and_never_ends_a_wait(
    emu: Any, conn: Any, limiter_clock: LimiterClock
) -> None:
    (job_id,) = timed_jobs(emu, "patient", 1, running_s=0.0)
    # More throttles in a row than the limiter sends again: twice, one poll fails with CfwThrottled.
    throttles = 2 * (MAX_THROTTLED_RETRIES + 1) + 3
    emu.inject("cfw.job", status=429, retry_after="0", count=throttles)
    assert await events([job_id], poll_interval=0.01) == ["success"]
    assert emu.stats.count("cfw.job", 429) == throttles
    assert emu.stats.count("cfw.job", 200) == 1


async def test_without_the_limiter_the_same_throttles_end_the_wait(emu: Any, conn: Any) -> None:
    # Today's per-trigger behaviour (the switch benchmarks use): each throttle is the wait's own failure.
    LIMITERS.enabled = False
    try:
        (job_id,) = timed_jobs(emu, "impatient", 1, running_s=0.0)
        emu.inject("cfw.job", status=429, retry_after="0", count=2 * (MAX_THROTTLED_RETRIES + 1) + 3)
        assert await events([job_id], poll_interval=0.01) == ["error"]
    finally:
        LIMITERS.enabled = True


def test_max_calls_per_second_paces_a_connection_from_its_first_call(
    emu: Any, set_conn: Any, limiter_clock: LimiterClock
) -> None:
    set_conn(max_calls_per_second="4")
    (job_id,) = timed_jobs(emu, "capped", 1, running_s=0.0)
    hook = CfwHook()
    for _ in range(3):
        hook.get_job(job_id)
    # Three calls at one instant, four a second at most: the second and third wait for their turns.
    assert limiter_clock.sleeps == [0.25, 0.25]
    assert limiter_of("cfw_default").rate == 4.0


def test_a_workers_sync_calls_share_the_triggers_limiter(
    emu: Any, conn: Any, limiter_clock: LimiterClock
) -> None:
    (job_id,) = timed_jobs(emu, "sync", 1, running_s=0.0)
    emu.inject("cfw.job", status=429, retry_after="3", count=1)
    hook = CfwHook()
    assert hook.get_job(job_id).status.value == "Success"
    limiter = limiter_of("cfw_default")
    assert (limiter.throttled, limiter.pauses) == (1, 1)

    async def async_read() -> str:
        async with hook.async_session():
            return (await hook.aget_job(job_id)).status.value

    # The pause the sync call met holds the async client of the same identity too.
    limiter_clock.now -= 2.0  # as if the async read came two seconds into the three-second pause
    assert asyncio.run(async_read()) == "Success"
    assert limiter_clock.sleeps[-1] >= 2.0
    assert limiter.sent == emu.stats.count("cfw.job") == 3
