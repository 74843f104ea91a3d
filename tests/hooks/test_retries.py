"""The retry table over real HTTP: for each kind of failure, how many requests the hook made."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import Any

import pytest

from airflow_provider_cfw.core.errors import (
    CfwApiError,
    CfwAuthError,
    CfwConnectionError,
    CfwJobNotFound,
    CfwResponseError,
    CfwThrottled,
)
from airflow_provider_cfw.core.models import CfwJobStatus
from airflow_provider_cfw.core.rate_limit import MAX_THROTTLED_RETRIES
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.testing import CfwEmulator
from tests.conftest import PROJECT, LimiterClock
from tests.reliability import SECTIONS, FaultMatrix, outcome

# (scenario, fault kind, fault parameters): each is transient, so one of them is ridden out with one retry.
TRANSIENT = [
    ("429 APIGW.0308, Retry-After: 0", "status", {"status": 429, "retry_after": "0"}),
    ("429 from a load balancer: no code, no Retry-After", "bare_status", {"status": 429}),
    ("503 from a load balancer: no code", "bare_status", {"status": 503}),
    ("500 CFW.00100001", "status", {"status": 500}),
    ("502 nginx HTML page", "status", {"status": 502}),
    ("503 APIGW.0201", "status", {"status": 503}),
    ("504 APIGW.0201", "status", {"status": 504}),
    ("502 APIGW.0201", "status", {"status": 502, "error_code": "APIGW.0201"}),
    ("400 CFW.00109004 (retry later)", "status", {"status": 400, "error_code": "CFW.00109004"}),
    ("400 CFW.00200023", "status", {"status": 400, "error_code": "CFW.00200023"}),
    ("TCP reset before the answer", "reset", {}),
    ("body cut off mid-way", "truncate", {}),
    ("200 with malformed JSON", "malformed_json", {}),
    ("200 without a data object", "no_data", {}),
]
RETRIED_ONCE = "retried once, then Success"

# (scenario, fault parameters, expected exception): each fails at once, after exactly one request.
PERMANENT = [
    ("401 APIGW.0301", {"status": 401, "error_code": "APIGW.0301"}, CfwAuthError),
    ("403 APIGW.0302", {"status": 403, "error_code": "APIGW.0302"}, CfwAuthError),
    ("404 APIGW.0101", {"status": 404, "error_code": "APIGW.0101"}, CfwApiError),
    ("400 CFW.00200005 (no such job)", {"status": 400, "error_code": "CFW.00200005"}, CfwJobNotFound),
    ("400 CFW.00000001 (a business error)", {"status": 400, "error_code": "CFW.00000001"}, CfwApiError),
    ("400 APIGW.0201", {"status": 400, "error_code": "APIGW.0201"}, CfwApiError),
]


def _ids(case: Any) -> str:
    return str(case[0])


@pytest.fixture
def job_id(emu: CfwEmulator, conn: dict) -> str:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Success"])
    return job_id


def _run(hook: CfwHook, job_id: str, path: str) -> Any:
    return hook.get_job(job_id) if path == "sync" else asyncio.run(hook.aget_job(job_id))


@pytest.mark.parametrize("path", ["sync", "async"])
@pytest.mark.parametrize("case", TRANSIENT, ids=_ids)
def test_transient_failure_is_retried(
    emu: CfwEmulator, job_id: str, case: tuple, path: str, fault_matrix: FaultMatrix
) -> None:
    scenario, kind, params = case
    emu.inject("cfw.job", kind, count=1, **params)
    observed, _ = outcome(lambda: _run(CfwHook(), job_id, path))
    requests = len(emu.stats.log)
    fault_matrix.record(SECTIONS[0], TRANSIENT.index(case), scenario, RETRIED_ONCE, path, observed, requests)
    assert observed == CfwJobStatus.SUCCESS.value
    assert requests == 2


@pytest.mark.parametrize("path", ["sync", "async"])
@pytest.mark.parametrize("case", [TRANSIENT[3], TRANSIENT[10], TRANSIENT[12]], ids=_ids)
def test_retries_are_bounded_by_max_retries(
    emu: CfwEmulator, job_id: str, case: tuple, path: str, fault_matrix: FaultMatrix
) -> None:
    scenario, kind, params = case
    emu.inject("cfw.job", kind, count=50, **params)
    observed, error = outcome(lambda: _run(CfwHook(), job_id, path))
    requests = len(emu.stats.log)
    expected = "gives up after 4 tries (max_retries 3), with the last error"
    fault_matrix.record(
        SECTIONS[2], TRANSIENT.index(case), f"{scenario}, every time", expected, path, observed, requests
    )
    assert isinstance(error, CfwApiError | CfwConnectionError) and error.retryable
    # The first try and max_retries=3 retries; aiohttp itself silently repeats an idempotent request
    # once after a reset (ClientSession's private _retry_connection), so 2 requests per async try.
    assert requests == (8 if kind == "reset" and path == "async" else 4)


def test_max_retries_from_the_hook_argument(emu: CfwEmulator, job_id: str) -> None:
    emu.inject("cfw.job", "status", status=503, count=50)
    with pytest.raises(CfwApiError):
        CfwHook(max_retries=1).get_job(job_id)
    assert emu.stats.count("cfw.job", 503) == 2
    emu.reset_stats()
    with pytest.raises(CfwApiError):
        CfwHook(max_retries=0).get_job(job_id)
    assert emu.stats.count("cfw.job", 503) == 1


async def test_retries_are_bounded_async(emu: CfwEmulator, job_id: str) -> None:
    emu.inject("cfw.job", "status", status=500, count=50)
    with pytest.raises(CfwApiError) as info:
        await CfwHook().aget_job(job_id)
    assert info.value.http_status == 500
    assert emu.stats.count("cfw.job", 500) == 4


@pytest.mark.parametrize("path", ["sync", "async"])
@pytest.mark.parametrize("case", PERMANENT, ids=_ids)
def test_permanent_failure_is_not_retried(
    emu: CfwEmulator, job_id: str, case: tuple, path: str, fault_matrix: FaultMatrix
) -> None:
    scenario, params, error_type = case
    emu.inject("cfw.job", "status", count=5, **params)
    observed, error = outcome(lambda: _run(CfwHook(), job_id, path))
    requests = len(emu.stats.log)
    expected = f"fails at once: {error_type.__name__}"
    fault_matrix.record(SECTIONS[1], PERMANENT.index(case), scenario, expected, path, observed, requests)
    assert type(error) is error_type
    assert isinstance(error, CfwApiError) and error.error_code == params["error_code"] and error.request_id
    assert requests == 1


def test_unknown_job(emu: CfwEmulator, conn: dict) -> None:
    with pytest.raises(CfwJobNotFound) as info:
        CfwHook().get_job(str(uuid.uuid4()))
    assert info.value.http_status == 400 and info.value.error_code == "CFW.00200005"
    assert len(emu.stats.log) == 1


def test_unknown_status_is_kept_not_retried(emu: CfwEmulator, job_id: str) -> None:
    emu.inject("cfw.job", "unknown_status", count=1)
    job = CfwHook().get_job(job_id)
    assert not job.status.is_known and not job.status.is_terminal
    assert len(emu.stats.log) == 1


def test_retry_after_is_honoured(emu: CfwEmulator, job_id: str, limiter_clock: LimiterClock) -> None:
    emu.inject("cfw.job", "status", status=429, retry_after="1", count=1)
    CfwHook().get_job(job_id)
    # The throttle paused the identity for the Retry-After (the backoff alone, retry_backoff=0.01, would
    # wait a few hundredths of a second), then the call was sent again in its turn.
    assert limiter_clock.sleeps == [1.0]
    assert emu.stats.count("cfw.job", 429) == 1 and emu.stats.count("cfw.job", 200) == 1


def test_a_retry_after_of_a_503_is_honoured_by_the_retry(
    emu: CfwEmulator, job_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    emu.inject("cfw.job", "status", status=503, retry_after="1", count=1)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_cfw"):
        CfwHook().get_job(job_id)
    waits = [float(w) for w in re.findall(r"retrying in ([0-9.]+) s", caplog.text)]
    assert waits and waits[0] >= 1.0
    assert "APIGW.0201" in caplog.text


def test_429_body_is_reported(emu: CfwEmulator, job_id: str, limiter_clock: LimiterClock) -> None:
    emu.inject("cfw.job", "status", status=429, retry_after="0", count=100)
    with pytest.raises(CfwThrottled) as info:
        CfwHook(max_retries=3).get_job(job_id)
    assert info.value.error_code == "APIGW.0308"
    assert info.value.error_msg and info.value.request_id
    # Sent again in turn by the limiter, max_retries aside, and not once more by the retry policy.
    assert emu.stats.count("cfw.job", 429) == MAX_THROTTLED_RETRIES + 1


def test_html_502_is_described(emu: CfwEmulator, job_id: str) -> None:
    emu.inject("cfw.job", "status", status=502, count=10)
    with pytest.raises(CfwApiError) as info:
        CfwHook(max_retries=0).get_job(job_id)
    assert "HTTP 502" in str(info.value)
    assert "<html" not in str(info.value).lower()


def test_malformed_answer_error(emu: CfwEmulator, job_id: str) -> None:
    emu.inject("cfw.job", "no_data", count=10)
    with pytest.raises(CfwResponseError, match="no 'data' object"):
        CfwHook(max_retries=0).get_job(job_id)


def test_connection_refused_is_a_connection_error(set_conn: Any, emu: CfwEmulator) -> None:
    set_conn(endpoint="http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(CfwConnectionError, match=r"GET http://127\.0\.0\.1:9/v3/"):
        CfwHook(max_retries=1).get_job(str(uuid.uuid4()))
    with pytest.raises(CfwConnectionError):
        asyncio.run(CfwHook(max_retries=1).aget_job(str(uuid.uuid4())))


def test_iam_token_fetch_is_retried_too(emu: CfwEmulator, set_conn: Any, job_id: str) -> None:
    set_conn(auth="password")
    emu.inject("iam.tokens", "status", status=503, count=1)
    assert CfwHook().get_job(job_id).status is CfwJobStatus.SUCCESS
    assert emu.stats.count("iam.tokens", 503) == 1 and emu.stats.tokens_issued == 1


@pytest.mark.parametrize("path", ["sync", "async"])
def test_connection_resets_are_retried_by_the_hook(
    emu: CfwEmulator, job_id: str, path: str, fault_matrix: FaultMatrix
) -> None:
    # Two resets in a row: aiohttp may silently retry an idempotent request once on its own, which
    # would hide a hook that stopped retrying; it never retries twice, so only the hook gets past both.
    emu.inject("cfw.job", "reset", count=2)
    observed, _ = outcome(lambda: _run(CfwHook(), job_id, path))
    statuses = [entry.status for entry in emu.stats.log]
    scenario, expected = "TCP reset twice in a row", "retried twice, then Success"
    fault_matrix.record(SECTIONS[0], len(TRANSIENT), scenario, expected, path, observed, len(statuses))
    assert observed == CfwJobStatus.SUCCESS.value
    assert statuses == [0, 0, 200]
