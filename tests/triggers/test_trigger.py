"""CfwJobTrigger over real HTTP against the emulator: every event, faults, tokens and cancellation."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import importlib
import json
import logging
import time
import uuid
from typing import Any

import pytest

from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from tests.conftest import PROJECT, SK, assert_no_secrets, logged_count

POLL = 0.05


def new_job_id() -> str:
    return str(uuid.uuid4())


def make_trigger(job_id: str, **kwargs: Any) -> CfwJobTrigger:
    kwargs.setdefault("poll_interval", POLL)
    return CfwJobTrigger(job_id=job_id, project_id=PROJECT, **kwargs)


async def events_of(trigger: CfwJobTrigger) -> list[dict[str, Any]]:
    payloads = [event.payload async for event in trigger.run()]
    for payload in payloads:
        # Events cross to the worker through the database: plain JSON only.
        assert json.loads(json.dumps(payload)) == payload
    return payloads


def job_requests(emu: Any, status: int | None = None) -> int:
    return int(emu.stats.count("cfw.job", status))


def test_serialize_is_plain_json_and_round_trips() -> None:
    trigger = CfwJobTrigger(
        job_id="f588ce71-e26c-400d-8981-f854355f6849",
        project_id=PROJECT,
        cfw_conn_id="my_cfw",
        poll_interval=15,
        not_found_deadline=1_800_000_000.5,
        region="cn-north-4",
        last_status="Running",
        deferred_at=1_799_999_990.25,
        scheduler_hold=10.0,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_cfw.triggers.cfw.CfwJobTrigger"
    assert kwargs == {
        "job_id": "f588ce71-e26c-400d-8981-f854355f6849",
        "project_id": PROJECT,
        "cfw_conn_id": "my_cfw",
        "poll_interval": 15.0,
        "not_found_deadline": 1_800_000_000.5,
        "region": "cn-north-4",
        "max_transient_errors": 10,
        "last_status": "Running",
        "not_found_grace_period": None,
        "end_from_trigger": False,
        "return_value": None,
        "do_xcom_push": True,
        "deferred_at": 1_799_999_990.25,
        "poll_growth": 0.0,
        "poll_cap": 60.0,
        "scheduler_hold": 10.0,
        "resume_kwargs": None,
    }
    assert json.loads(json.dumps(kwargs)) == kwargs
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == trigger.serialize()


async def test_success_event_carries_the_job(emu: Any, conn: dict[str, Any]) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running", "Running", "Success"])
    events = await events_of(make_trigger(job_id))
    assert len(events) == 1
    event = events[0]
    assert event["status"] == "success"
    assert event["job_id"] == job_id
    job = event["job"]
    assert job["id"] == job_id and job["status"] == "Success"
    assert job["begin_time"] and job["end_time"] and job["duration_seconds"] is not None
    assert job["request_id"]
    assert job_requests(emu) == 3
    assert_no_secrets(event, repr(make_trigger(job_id)))


async def test_failed_event(emu: Any, conn: dict[str, Any]) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running", "Failed"])
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "failed"
    assert event["job"]["status"] == "Failed"
    assert job_id in event["message"]
    assert_no_secrets(event)


async def test_unknown_status_waits_and_warns_once(
    emu: Any, conn: dict[str, Any], caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Queued", "Queued", "Queued", "Success"])
    with caplog.at_level(logging.WARNING):
        (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "success"
    assert job_requests(emu) == 4
    assert logged_count("unknown status 'Queued'", capsys, caplog) == 1


async def test_not_found_after_the_deadline_is_an_error_event(emu: Any, conn: dict[str, Any]) -> None:
    job_id = new_job_id()
    (event,) = await events_of(make_trigger(job_id, not_found_deadline=time.time() - 1))
    assert event["status"] == "error"
    assert event["error_code"] == "CFW.00200005"
    assert event["request_id"]
    assert event["retryable"] is False
    assert job_requests(emu) == 1
    assert_no_secrets(event)


async def test_not_found_within_the_deadline_keeps_waiting(emu: Any, conn: dict[str, Any]) -> None:
    job_id = new_job_id()
    trigger = make_trigger(job_id, not_found_deadline=time.time() + 60)

    async def appear_after_two_misses() -> None:
        # The job becomes visible only after a few polls, as right after creation.
        while job_requests(emu, 400) < 2:
            await asyncio.sleep(0.01)
        emu.add_job(PROJECT, job_id, ["Running", "Success"])

    (event,), _ = await asyncio.gather(events_of(trigger), appear_after_two_misses())
    assert event["status"] == "success"
    assert job_requests(emu, 400) >= 2


async def test_not_found_deadline_passes_while_waiting(emu: Any, conn: dict[str, Any]) -> None:
    job_id = new_job_id()
    # Polls 0.05 s apart: a busy machine may stretch them, but not 2 s into a single poll.
    (event,) = await events_of(make_trigger(job_id, not_found_deadline=time.time() + 2))
    assert event["status"] == "error" and event["error_code"] == "CFW.00200005"
    assert job_requests(emu) >= 2


async def test_auth_failure_is_a_permanent_error_event(emu: Any, set_conn: Any) -> None:
    wrong_sk = "wrong-" + SK
    set_conn("cfw_bad_sk", password=wrong_sk)
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running"])
    (event,) = await events_of(make_trigger(job_id, cfw_conn_id="cfw_bad_sk"))
    assert event["status"] == "error"
    assert event["error_code"] == "APIGW.0301"
    assert event["http_status"] == 401
    assert event["request_id"] and event["request_id"] in event["message"]
    assert event["retryable"] is False
    assert job_requests(emu) == 1  # never retried: repeated bad signatures lock the AK
    assert_no_secrets(event, extra=(wrong_sk,))


async def test_burst_of_5xx_mid_wait_still_succeeds(emu: Any, set_conn: Any) -> None:
    # No hook retries: the trigger's own backoff has to ride the burst out.
    set_conn(max_retries=0)
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running", "Running", "Success"])
    trigger = make_trigger(job_id)

    async def burst_after_first_poll() -> None:
        while job_requests(emu) < 1:
            await asyncio.sleep(0.01)
        emu.inject("cfw.job", status=503, count=4)

    injector = asyncio.create_task(burst_after_first_poll())
    (event,) = await events_of(trigger)
    await injector
    assert event["status"] == "success"
    assert job_requests(emu, 503) == 4


async def test_burst_within_the_hooks_retries_still_succeeds(emu: Any, conn: dict[str, Any]) -> None:
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running", "Success"])
    emu.inject("cfw.job", status=502, count=2)
    (event,) = await events_of(make_trigger(job_id))
    assert event["status"] == "success"
    assert job_requests(emu, 502) == 2


async def test_transient_errors_give_up_after_the_bound(emu: Any, set_conn: Any) -> None:
    set_conn(max_retries=0)
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running"])
    emu.inject("cfw.job", status=503, count=100)
    (event,) = await events_of(make_trigger(job_id, max_transient_errors=3))
    assert event["status"] == "error"
    assert event["retryable"] is True
    assert event["http_status"] == 503
    assert job_requests(emu, 503) == 4  # the first try and 3 tolerated failures


async def test_connection_missing_is_an_error_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_CFW_NOWHERE", raising=False)
    (event,) = await events_of(make_trigger(new_job_id(), cfw_conn_id="cfw_nowhere"))
    assert event["status"] == "error"
    assert "cfw_nowhere" in event["message"]


async def test_token_expiry_mid_wait_fetches_one_more_token(
    emu: Any, set_conn: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    set_conn(auth="password")
    emu.token_ttl = 1.0
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Running"])
    wait = asyncio.create_task(events_of(make_trigger(job_id, poll_interval=0.1)))

    async def tokens_issued(count: int) -> None:
        for _ in range(1500):  # 30 s at most: a loaded machine may take long, never for ever
            if emu.stats.tokens_issued >= count or wait.done():
                return
            await asyncio.sleep(0.02)

    # Ordered by events, not by seconds: however late the trigger starts or polls on a loaded
    # machine, its first token (1 s) expires mid-wait and the second (an hour) outlives it.
    await tokens_issued(1)
    emu.token_ttl = 3600.0
    await tokens_issued(2)
    emu.add_job(PROJECT, job_id, statuses=["Success"])
    (event,) = await asyncio.wait_for(wait, timeout=30)
    assert event["status"] == "success"
    assert emu.stats.tokens_issued == 2
    assert job_requests(emu, 401) == 0
    assert len(emu.issued_tokens) == 2
    assert_no_secrets(event, capsys.readouterr().out, caplog.text, extra=tuple(emu.issued_tokens))


async def test_cancelling_one_trigger_leaves_the_others_alone(
    emu: Any, conn: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    waiting, quick = new_job_id(), new_job_id()
    emu.add_job(PROJECT, waiting, statuses=["Running"])
    emu.add_job(PROJECT, quick, statuses=["Running", "Running", "Running", "Success"])
    doomed = asyncio.create_task(events_of(make_trigger(waiting)))
    survivors = [asyncio.create_task(events_of(make_trigger(quick))) for _ in range(3)]
    await asyncio.sleep(POLL * 2)
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    results = await asyncio.gather(*survivors)
    assert [events[0]["status"] for events in results] == ["success"] * 3
    del doomed, survivors
    gc.collect()
    # The last lease has ended, so the loop's shared pool closed its connections.
    for _ in range(100):
        if emu.stats.connections_open == 0:
            break
        await asyncio.sleep(0.02)
    assert emu.stats.connections_open == 0
    unclosed = [r for r in caplog.records if "Unclosed" in r.getMessage()]
    assert unclosed == []


async def test_a_restarted_trigger_picks_up_where_it_left_off(emu: Any, conn: dict[str, Any]) -> None:
    # A triggerer restart: the running trigger is cancelled and rebuilt elsewhere from its kwargs.
    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=[("Running", 0.4), ("Success", None)])
    first = make_trigger(job_id, not_found_deadline=time.time() + 60)
    task = asyncio.create_task(events_of(first))
    await asyncio.sleep(POLL * 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    _classpath, kwargs = first.serialize()
    (event,) = await events_of(CfwJobTrigger(**json.loads(json.dumps(kwargs))))
    assert event["status"] == "success"


async def test_invalid_job_id_is_an_error_event_without_a_request(emu: Any, conn: dict[str, Any]) -> None:
    (event,) = await events_of(make_trigger("../../v3/other"))
    assert event["status"] == "error"
    assert "job_id" in event["message"]
    assert event["retryable"] is False
    assert emu.stats.total_requests == 0


def test_first_polls_of_waits_started_together_are_spread_over_one_interval() -> None:
    delays = [make_trigger(f"job-{i:04d}", poll_interval=10).first_poll_delay for i in range(1_000)]
    assert all(0 <= d < 10 for d in delays)
    # Deterministic (derived from the job id), yet spread: every tenth of the interval gets its share.
    assert delays == [make_trigger(f"job-{i:04d}", poll_interval=10).first_poll_delay for i in range(1_000)]
    buckets = [sum(1 for d in delays if k <= d < k + 1) for k in range(10)]
    assert min(buckets) >= 50, buckets


async def test_a_wait_abandoned_after_its_event_still_gives_the_pool_back(
    emu: Any, conn: dict[str, Any]
) -> None:
    from airflow_provider_cfw.core.transport import SESSIONS

    job_id = new_job_id()
    emu.add_job(PROJECT, job_id, statuses=["Success"])
    run = make_trigger(job_id).run()
    event = await run.__anext__()
    assert event.payload["status"] == "success"
    # The consumer stops iterating; asyncio later closes the generator from a task of its own.
    await asyncio.create_task(run.aclose(), context=contextvars.Context())
    assert SESSIONS._leases.get(asyncio.get_running_loop()) is None  # last lease gone, pool closed
