"""CfwJobTrigger holds an event that resumes the task on a worker until the deferral is
``scheduler_hold`` seconds old (SCHEDULER_HOLD_SECONDS for a trigger serialized without it; Airflow
3.3.2's stale-executor-event race, issue 26), against the emulator with an injected wall clock and
sleep: only a wait that ends that soon waits, and only for the rest; a task ended on the triggerer
is not held."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import pytest

import airflow_provider_cfw.triggers.base as trigger_module
from airflow_provider_cfw.triggers.cfw import SCHEDULER_HOLD_SECONDS, CfwJobTrigger
from tests.conftest import PROJECT, SK, logged_count
from tests.ending import Pushes, on_the_triggerer

REAL_SLEEP = asyncio.sleep
HOLD = SCHEDULER_HOLD_SECONDS


class FakeClock:
    """The trigger's wall clock and sleep: a sleep is recorded and moves the clock, without waiting."""

    def __init__(self) -> None:
        # Starts at the real time: the not-found deadline is read from the real clock.
        self.now = self.start = time.time()
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        await REAL_SLEEP(0)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(trigger_module, "_sleep", fake.sleep)
    monkeypatch.setattr(trigger_module, "_time", fake.time)
    return fake


def new_job(emu: Any, statuses: list[str]) -> str:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, statuses=statuses)
    return job_id


async def fire(trigger: CfwJobTrigger, clock: FakeClock) -> tuple[dict[str, Any], float, list[float]]:
    """The one event, the fake wall-clock time it fired at, and the pauses after the first poll's; the
    trigger run as the triggerer runs it, for its task instance."""
    events = []
    async for event in on_the_triggerer(trigger).run():
        events.append((event.payload, clock.now))
    [(payload, fired_at)] = events
    assert clock.sleeps[0] == trigger.first_poll_delay
    return payload, fired_at, clock.sleeps[1:]


@pytest.mark.parametrize("statuses", [["Success"], ["Failed"]], ids=["success", "failed"])
async def test_a_job_done_at_the_first_poll_fires_once_the_deferral_is_old_enough(
    emu: Any,
    conn: Any,
    clock: FakeClock,
    statuses: list[str],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    deferred_at = clock.now - 0.5
    trigger = CfwJobTrigger(
        job_id=new_job(emu, statuses), project_id=PROJECT, poll_interval=1, deferred_at=deferred_at
    )
    with caplog.at_level(logging.INFO):
        payload, fired_at, pauses = await fire(trigger, clock)
    assert payload["status"] == statuses[0].lower()
    # One pause after the (spread) first poll, for exactly the rest of the hold.
    assert fired_at - deferred_at == pytest.approx(HOLD)
    assert pauses == [pytest.approx(HOLD - 0.5 - trigger.first_poll_delay)]
    assert logged_count("firing its event in", capsys, caplog) == 1


async def test_a_job_that_ends_within_the_hold_waits_only_for_the_rest(
    emu: Any, conn: Any, clock: FakeClock
) -> None:
    trigger = CfwJobTrigger(
        job_id=new_job(emu, ["Running", "Running", "Success"]),
        project_id=PROJECT,
        poll_interval=1,
        deferred_at=clock.now,
    )
    payload, fired_at, pauses = await fire(trigger, clock)
    assert payload["status"] == "success"
    assert fired_at - clock.start == pytest.approx(HOLD)
    assert pauses[:2] == [1, 1]
    assert pauses[2:] == [pytest.approx(HOLD - 2 - trigger.first_poll_delay)]


@pytest.mark.parametrize("age", [HOLD, HOLD + 30], ids=["exactly-the-hold", "older"])
async def test_a_deferral_old_enough_fires_at_once(emu: Any, conn: Any, clock: FakeClock, age: float) -> None:
    # The first poll's spread delay is taken out, so the deferral is `age` old at the poll.
    trigger = CfwJobTrigger(job_id=new_job(emu, ["Running", "Success"]), project_id=PROJECT, poll_interval=1)
    trigger.deferred_at = clock.now + trigger.first_poll_delay + 1 - age
    payload, _, pauses = await fire(trigger, clock)
    assert payload["status"] == "success"
    assert pauses == [1]  # the one poll interval; no hold, not even a zero-second one


async def test_a_trigger_without_a_deferral_time_holds_nothing(emu: Any, conn: Any, clock: FakeClock) -> None:
    # What a trigger row written by an earlier version of the provider holds.
    trigger = CfwJobTrigger(job_id=new_job(emu, ["Success"]), project_id=PROJECT, poll_interval=1)
    _, _, pauses = await fire(trigger, clock)
    assert pauses == []


async def test_an_error_event_is_held_too(emu: Any, conn: Any, clock: FakeClock) -> None:
    # Not found after the deadline: an error event, which resumes the task on a worker.
    trigger = CfwJobTrigger(
        job_id=str(uuid.uuid4()),
        project_id=PROJECT,
        poll_interval=1,
        not_found_deadline=clock.now - 1,
        deferred_at=clock.now,
    )
    payload, fired_at, _ = await fire(trigger, clock)
    assert payload["status"] == "error"
    assert fired_at - clock.start == pytest.approx(HOLD)


async def test_a_permanent_api_error_event_is_held(emu: Any, set_conn: Any, clock: FakeClock) -> None:
    set_conn("cfw_bad_sk", password="wrong-" + SK)  # the emulator refuses the signature: not retryable
    trigger = CfwJobTrigger(
        job_id=new_job(emu, ["Success"]),
        project_id=PROJECT,
        cfw_conn_id="cfw_bad_sk",
        poll_interval=1,
        deferred_at=clock.now,
    )
    payload, fired_at, _ = await fire(trigger, clock)
    assert (payload["status"], payload["retryable"]) == ("error", False)
    assert fired_at - clock.start == pytest.approx(HOLD)


async def test_an_unexpected_error_event_is_held(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_CFW_NOWHERE", raising=False)
    trigger = CfwJobTrigger(
        job_id=str(uuid.uuid4()),
        project_id=PROJECT,
        cfw_conn_id="cfw_nowhere",
        poll_interval=1,
        deferred_at=clock.now,
    )
    payload, fired_at, _ = await fire(trigger, clock)
    assert payload["status"] == "error"
    assert fired_at - clock.start == pytest.approx(HOLD)


@pytest.mark.parametrize("hold", [2.5, 10.0])
async def test_the_deferring_tasks_hold_is_the_one_kept(
    emu: Any, conn: Any, clock: FakeClock, hold: float
) -> None:
    # The worker computed it from its deployment's settings; the trigger only counts it down.
    trigger = CfwJobTrigger(
        job_id=new_job(emu, ["Success"]),
        project_id=PROJECT,
        poll_interval=1,
        deferred_at=clock.now,
        scheduler_hold=hold,
    )
    payload, fired_at, pauses = await fire(trigger, clock)
    assert payload["status"] == "success"
    assert fired_at - clock.start == pytest.approx(hold)
    assert pauses == [pytest.approx(hold - trigger.first_poll_delay)]


async def test_a_success_that_ends_the_task_on_the_triggerer_is_not_held(
    emu: Any, conn: Any, clock: FakeClock, pushes: Pushes
) -> None:
    # end_from_trigger: no worker resumes the task, so a stale executor event cannot fail it.
    trigger = CfwJobTrigger(
        job_id=new_job(emu, ["Success"]),
        project_id=PROJECT,
        poll_interval=1,
        deferred_at=clock.now,
        scheduler_hold=10.0,
        end_from_trigger=True,
    )
    events = [event async for event in on_the_triggerer(trigger).run()]
    assert [type(event).__name__ for event in events] == ["TaskSuccessEvent"]
    assert pushes.value_of(events[0])["status"] == "Success"
    assert clock.sleeps == [trigger.first_poll_delay]


async def test_a_success_that_cannot_end_the_task_here_resumes_it_held(
    emu: Any, conn: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Airflow 3.0.4's triggerer cannot push the XCom: only a resume stores the job, held like any.
    import airflow_provider_cfw.triggers.task_success as task_success

    monkeypatch.setattr(task_success, "airflow_version", lambda: (3, 0, 4))
    trigger = CfwJobTrigger(
        job_id=new_job(emu, ["Success"]),
        project_id=PROJECT,
        poll_interval=1,
        deferred_at=clock.now,
        end_from_trigger=True,
    )
    payload, fired_at, _ = await fire(trigger, clock)
    assert payload["status"] == "success" and payload["job"]["status"] == "Success"
    assert fired_at - clock.start == pytest.approx(HOLD)


@pytest.mark.parametrize("end_from_trigger", [False, True])
async def test_without_a_task_instance_nothing_is_held(
    emu: Any, conn: Any, clock: FakeClock, end_from_trigger: bool
) -> None:
    # dag.test() runs the trigger inline and resumes the task itself: no scheduler to race.
    trigger = CfwJobTrigger(
        job_id=new_job(emu, ["Success"]),
        project_id=PROJECT,
        poll_interval=1,
        deferred_at=clock.now,
        end_from_trigger=end_from_trigger,
    )
    events = [event.payload async for event in trigger.run()]
    assert [e["status"] for e in events] == ["success"]
    assert clock.sleeps == [trigger.first_poll_delay]


async def test_a_failed_job_is_held_with_end_from_trigger_too(emu: Any, conn: Any, clock: FakeClock) -> None:
    trigger = CfwJobTrigger(
        job_id=new_job(emu, ["Failed"]),
        project_id=PROJECT,
        poll_interval=1,
        deferred_at=clock.now,
        end_from_trigger=True,
    )
    payload, fired_at, _ = await fire(trigger, clock)
    assert payload["status"] == "failed"
    assert fired_at - clock.start == pytest.approx(HOLD)


async def test_an_invalid_argument_event_is_held(emu: Any, conn: Any, clock: FakeClock) -> None:
    trigger = CfwJobTrigger(job_id="not a job id", project_id=PROJECT, poll_interval=1, deferred_at=clock.now)
    events = [event.payload async for event in on_the_triggerer(trigger).run()]
    assert [e["status"] for e in events] == ["error"]
    assert clock.sleeps == [pytest.approx(HOLD)]
    assert emu.stats.count("cfw.job") == 0
