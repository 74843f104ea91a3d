"""CfwJobTrigger's pauses and its signs of life, against the emulator with an injected clock and sleep:
transient errors back off (doubling from ``poll_interval``, capped, never shorter than ``Retry-After``),
and a long wait logs each status change and a heartbeat, not a line per poll."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import airflow_provider_cfw.core.waits as waits_module
import airflow_provider_cfw.triggers.base as trigger_module
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from tests.conftest import PROJECT

REAL_SLEEP = asyncio.sleep


class FakeTime:
    """The trigger's clock and sleep: a sleep is recorded and moves the clock, without waiting."""

    def __init__(self) -> None:
        self.now = 10_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        await REAL_SLEEP(0)


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(trigger_module, "_sleep", fake.sleep)
    monkeypatch.setattr(waits_module, "_monotonic", fake.monotonic)
    return fake


async def run_to_event(job_id: str, fake_time: FakeTime, **kwargs: Any) -> dict[str, Any]:
    """The trigger's one event; ``fake_time.sleeps`` then holds the pauses after its spread first poll."""
    trigger = CfwJobTrigger(job_id=job_id, project_id=PROJECT, **kwargs)
    (event,) = [event.payload async for event in trigger.run()]
    assert fake_time.sleeps.pop(0) == trigger.first_poll_delay
    return event


def new_job(emu: Any, statuses: list[str]) -> str:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, statuses=statuses)
    return job_id


# -- backoff ----------------------------------------------------------------------------------------


async def test_transient_errors_back_off_doubling_up_to_the_cap(
    emu: Any, set_conn: Any, fake_time: FakeTime
) -> None:
    set_conn(max_retries=0)  # no hook retries: every 503 reaches the trigger
    job_id = new_job(emu, ["Running", "Success"])
    emu.inject("cfw.job", status=503, count=6)
    event = await run_to_event(job_id, fake_time, poll_interval=50)
    assert event["status"] == "success"
    # Six failed polls: 50, 100, 200, then the 5-minute cap; the Running poll waits the interval again.
    assert fake_time.sleeps == [50, 100, 200, 300, 300, 300, 50]
    assert emu.stats.count("cfw.job", 503) == 6


async def test_a_poll_interval_above_the_cap_is_not_shortened(
    emu: Any, set_conn: Any, fake_time: FakeTime
) -> None:
    set_conn(max_retries=0)
    job_id = new_job(emu, ["Success"])
    emu.inject("cfw.job", status=502, count=2)
    assert (await run_to_event(job_id, fake_time, poll_interval=400))["status"] == "success"
    assert fake_time.sleeps == [400, 400]


async def test_retry_after_lengthens_a_pause_and_never_shortens_one(
    emu: Any, set_conn: Any, fake_time: FakeTime
) -> None:
    set_conn(max_retries=0)
    job_id = new_job(emu, ["Running", "Success"])
    emu.inject("cfw.job", status=503, retry_after="30", count=1)  # longer than the backoff: 30
    emu.inject("cfw.job", status=503, count=1)  # no Retry-After: the backoff, 2
    emu.inject("cfw.job", status=503, retry_after="1", count=1)  # shorter than the backoff: 4
    emu.inject("cfw.job", status=503, retry_after="3600", count=1)  # capped at a minute, above 8
    assert (await run_to_event(job_id, fake_time, poll_interval=1))["status"] == "success"
    assert fake_time.sleeps == [30, 2, 4, 60, 1]


# -- signs of life ----------------------------------------------------------------------------------


@pytest.fixture
def info_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    # On Airflow 2 the level is logging's, and an earlier test that ran a task may have left it at WARNING.
    caplog.set_level(logging.INFO, logger="airflow_provider_cfw")
    return caplog


def line_counter(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Callable[[str], int]:
    """How often a text was logged (Airflow 3 logs triggers through structlog to stdout, 2 through logging)."""
    out, text = capsys.readouterr().out, caplog.text
    return lambda needle: max(out.count(needle), text.count(needle))


async def test_a_long_wait_logs_each_status_change_and_a_heartbeat(
    emu: Any,
    conn: Any,
    fake_time: FakeTime,
    info_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 61 Running polls 10 s apart (10 minutes), then Success.
    job_id = new_job(emu, [*["Running"] * 61, "Success"])
    assert (await run_to_event(job_id, fake_time, poll_interval=10))["status"] == "success"
    count = line_counter(capsys, info_logs)
    assert count(f"CFW job {job_id} is Running") == 1
    assert count(f"CFW job {job_id} still Running after 5 min, 31 polls") == 1
    assert count(f"CFW job {job_id} still Running after 10 min, 61 polls") == 1
    assert count(f"CFW job {job_id} still") == 2
    # The triggerer logs the event itself (its message says the job succeeded): no line of ours.
    assert count(f"CFW job {job_id} is now Success") == 0
    assert emu.stats.count("cfw.job") == 62


async def test_a_short_wait_logs_no_line_per_poll(
    emu: Any,
    conn: Any,
    fake_time: FakeTime,
    info_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 100 polls within one heartbeat period: a line for the first status and one per change, no more.
    job_id = new_job(emu, [*["Queued"] * 10, *["Running"] * 89, "Success"])
    assert (await run_to_event(job_id, fake_time, poll_interval=2))["status"] == "success"
    count = line_counter(capsys, info_logs)
    assert count(f"CFW job {job_id} is Queued") == 1
    assert count(f"CFW job {job_id} has unknown status 'Queued'") == 1
    assert count(f"CFW job {job_id} is now Running (was Queued)") == 1
    assert count(f"CFW job {job_id} is now Success") == 0
    assert count(f"CFW job {job_id}") == 3


async def test_a_wait_told_the_status_logs_only_a_change_from_it(
    emu: Any,
    conn: Any,
    fake_time: FakeTime,
    info_logs: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The sensor read Running and logged it on the worker before deferring.
    job_id = new_job(emu, [*["Running"] * 40, "Queued", "Success"])
    event = await run_to_event(job_id, fake_time, poll_interval=10, last_status="Running")
    assert event["status"] == "success"
    count = line_counter(capsys, info_logs)
    assert count(f"CFW job {job_id} is Running") == 0
    assert count(f"CFW job {job_id} still Running after 5 min, 31 polls") == 1
    assert count(f"CFW job {job_id} is now Queued (was Running)") == 1


# -- a poll schedule that grows ---------------------------------------------------------------------


async def test_poll_growth_lengthens_the_pauses_of_a_long_wait_up_to_the_cap(
    emu: Any, conn: Any, fake_time: FakeTime
) -> None:
    job_id = new_job(emu, [*["Running"] * 40, "Success"])
    event = await run_to_event(job_id, fake_time, poll_interval=10, poll_growth=0.25, poll_cap=60)
    assert event["status"] == "success"
    pauses = fake_time.sleeps
    assert len(pauses) == 40 and emu.stats.count("cfw.job") == 41
    # Never shorter than the interval but by the 10 % jitter, never past the cap; long once the job is old.
    assert all(9.0 <= pause <= 60 for pause in pauses)
    assert pauses[:3] == pytest.approx([10, 10, 10], rel=0.1)
    assert max(pauses[-10:]) > 50 and sum(pauses) > 3 * 10 * len(pauses)


async def test_without_poll_growth_every_pause_is_the_interval(
    emu: Any, conn: Any, fake_time: FakeTime
) -> None:
    job_id = new_job(emu, [*["Running"] * 40, "Success"])
    assert (await run_to_event(job_id, fake_time, poll_interval=10))["status"] == "success"
    assert fake_time.sleeps == [10] * 40
