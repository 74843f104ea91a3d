from __future__ import annotations

import logging

import pendulum
import pytest

from airflow_provider_cfw.core.models import CfwJob, CfwJobStatus, CfwTimes, parse_cfw_time

BEGIN = pendulum.datetime(2022, 1, 5, 8, 15, 1, tz="UTC")


@pytest.mark.parametrize(
    "value",
    [
        1641370501000,
        1641370501000.0,
        "1641370501000",
        1641370501,  # epoch seconds: told apart from milliseconds by magnitude
        1641370501.0,
        "1641370501",
        "2022-01-05T08:15:01Z",
        "2022-01-05T16:15:01+0800",
        "2022-01-05T16:15:01+08:00",
        "2022-01-05T08:15:01.000Z",
        "2022-01-05 16:15:01 GMT+08:00",  # not -08:00 (the POSIX reading), 16 hours off
        "2022-01-05 16:15:01 GMT+0800",
        "2022-01-05T16:15:01UTC+8",
        "2022-01-05 08:15:01 GMT",
        "2022-01-05T02:15:01-0600",  # la-north-2 (Mexico City)
        "2022-01-05T05:15:01-03:00",  # sa-brazil-1 (Sao Paulo)
        "2022-01-05 00:15:01 GMT-08:00",
    ],
)
def test_time_formats(value: object) -> None:
    parsed = parse_cfw_time(value)
    assert parsed == BEGIN
    assert parsed is not None and parsed.tzinfo is not None


@pytest.mark.parametrize("value", [None, ""])
def test_absent_time(value: object) -> None:
    assert parse_cfw_time(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "yesterday-ish",
        "null",
        "-",
        True,
        [1],
        {"t": 1},
        "2022-01-05T16:15:01 CST",  # China Standard or US Central: never assumed to be UTC
        "2022-01-05T16:15:01",  # no zone at all
        "2022-01-05",
        1641370501000000,  # microseconds: not guessed
    ],
)
def test_bad_time_is_a_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="ISO-8601 time with a UTC offset"):
        parse_cfw_time(value)


def test_negative_offset_is_kept() -> None:
    parsed = parse_cfw_time("2022-01-05T05:15:01-0300")
    assert parsed is not None and parsed.utcoffset() == pendulum.duration(hours=-3)


def test_gmt_offset_is_not_inverted() -> None:
    parsed = parse_cfw_time("2022-01-05 16:15:01 GMT+08:00")
    assert parsed is not None and parsed.utcoffset() == pendulum.duration(hours=8)


@pytest.mark.parametrize("bad", ["null", "-", "2022-01-05T16:15:01 CST"])
def test_unreadable_time_does_not_hide_the_status(bad: str, caplog: pytest.LogCaptureFixture) -> None:
    data = {"id": f"job-{bad}", "status": "Success", "begin_time": bad, "end_time": 1641370515000}
    with caplog.at_level(logging.WARNING, logger="airflow_provider_cfw"):
        jobs = [CfwJob.from_data(data) for _ in range(3)]
    job = jobs[0]
    assert job.status is CfwJobStatus.SUCCESS and job.begin_time is None
    assert job.end_time == BEGIN.add(seconds=14) and job.duration_seconds is None
    assert job.raw["begin_time"] == bad
    # One warning for the job and field, not one per poll.
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "begin_time" in warnings[0].getMessage() and repr(bad) in warnings[0].getMessage()


def test_offset_is_kept() -> None:
    parsed = parse_cfw_time("2022-01-05T16:15:01+0800")
    assert parsed is not None and parsed.utcoffset() == pendulum.duration(hours=8)


def test_status_enum() -> None:
    assert CfwJobStatus("Running") is CfwJobStatus.RUNNING
    assert CfwJobStatus("success") is CfwJobStatus.SUCCESS
    assert CfwJobStatus.SUCCESS.is_terminal and CfwJobStatus.FAILED.is_terminal
    assert not CfwJobStatus.RUNNING.is_terminal
    unknown = CfwJobStatus("Paused")
    assert unknown.value == "Paused" and not unknown.is_known and not unknown.is_terminal
    assert str(unknown) == "Paused"


def test_job_from_documented_example() -> None:
    data = {"begin_time": 1641370501000, "end_time": 1641370515000, "id": "f588ce71", "status": "Success"}
    job = CfwJob.from_data(data, request_id="req-1")
    assert job.status is CfwJobStatus.SUCCESS
    assert job.begin_time == BEGIN
    assert job.duration_seconds == 14.0
    assert job.request_id == "req-1"
    assert job.raw == data
    assert CfwJob.from_dict(job.to_dict()) == job
    assert job.to_dict() == {
        "id": "f588ce71",
        "status": "Success",
        "begin_time": "2022-01-05T08:15:01+00:00",
        "end_time": "2022-01-05T08:15:15+00:00",
        "duration_seconds": 14.0,
        "request_id": "req-1",
    }


def test_running_job_has_no_end() -> None:
    job = CfwJob.from_data({"id": "j", "status": "Running", "begin_time": 1641370501000})
    assert job.end_time is None and job.duration_seconds is None


@pytest.mark.parametrize("data", [{}, {"id": "j"}, {"status": "Running"}, {"id": 3, "status": "Running"}])
def test_malformed_data(data: dict) -> None:
    with pytest.raises(ValueError, match=r"data\.(id|status)"):
        CfwJob.from_data(data)


def test_a_waits_times_are_parsed_once_per_value() -> None:
    # A wait reads the same begin_time on every poll: its CfwTimes hands back the DateTime it built.
    times = CfwTimes()
    first = times.parse(1641370501000)
    assert first == BEGIN
    assert times.parse(1641370501000) is first
    assert times.parse("2022-01-05T08:15:01Z") == BEGIN  # another value (another type): parsed afresh
    assert times.parse(1641370515000) == BEGIN.add(seconds=14)
    assert times.parse(None) is None
    # Equal is not enough: True == 1, but True is no time.
    times.parse(1)
    with pytest.raises(ValueError, match="got True"):
        times.parse(True)


def test_a_job_read_with_a_waits_times_is_the_same_job() -> None:
    data = {"id": "j", "status": "Running", "begin_time": 1641370501000}
    times = CfwTimes()
    jobs = [CfwJob.from_data(data, times=times) for _ in range(2)]
    assert jobs[0] == jobs[1] == CfwJob.from_data(data)
    assert jobs[0].begin_time is jobs[1].begin_time
