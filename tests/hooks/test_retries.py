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
)
from airflow_provider_cfw.core.models import CfwJobStatus
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.testing import CfwEmulator
from tests.conftest import PROJECT

# (fault kind, fault parameters): each is transient, so one of them is ridden out with one retry.
TRANSIENT = [
    ("status", {"status": 429, "retry_after": "0"}),
    ("bare_status", {"status": 429}),  # a load balancer's 429: no APIGW code, no Retry-After
    ("bare_status", {"status": 503}),
    ("status", {"status": 500}),
    ("status", {"status": 502}),
    ("status", {"status": 503}),
    ("status", {"status": 504}),
    ("status", {"status": 502, "error_code": "APIGW.0201"}),
    ("status", {"status": 400, "error_code": "CFW.00109004"}),
    ("status", {"status": 400, "error_code": "CFW.00200023"}),
    ("reset", {}),
    ("truncate", {}),
    ("malformed_json", {}),
    ("no_data", {}),
]

# (fault parameters, expected exception): each fails at once, after exactly one request.
PERMANENT = [
    ({"status": 401, "error_code": "APIGW.0301"}, CfwAuthError),
    ({"status": 403, "error_code": "APIGW.0302"}, CfwAuthError),
    ({"status": 404, "error_code": "APIGW.0101"}, CfwApiError),
    ({"status": 400, "error_code": "CFW.00200005"}, CfwJobNotFound),
    ({"status": 400, "error_code": "CFW.00000001"}, CfwApiError),
    ({"status": 400, "error_code": "APIGW.0201"}, CfwApiError),
]


def _ids(case: Any) -> str:
    return str(case)


@pytest.fixture
def job_id(emu: CfwEmulator, conn: dict) -> str:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Success"])
    return job_id


@pytest.mark.parametrize(("kind", "params"), TRANSIENT, ids=_ids)
def test_transient_failure_is_retried(emu: CfwEmulator, job_id: str, kind: str, params: dict) -> None:
    emu.inject("cfw.job", kind, count=1, **params)
    assert CfwHook().get_job(job_id).status is CfwJobStatus.SUCCESS
    assert len(emu.stats.log) == 2


@pytest.mark.parametrize(("kind", "params"), TRANSIENT, ids=_ids)
async def test_transient_failure_is_retried_async(
    emu: CfwEmulator, job_id: str, kind: str, params: dict
) -> None:
    emu.inject("cfw.job", kind, count=1, **params)
    assert (await CfwHook().aget_job(job_id)).status is CfwJobStatus.SUCCESS
    assert len(emu.stats.log) == 2


@pytest.mark.parametrize(("kind", "params"), [TRANSIENT[3], TRANSIENT[10], TRANSIENT[12]], ids=_ids)
def test_retries_are_bounded_by_max_retries(emu: CfwEmulator, job_id: str, kind: str, params: dict) -> None:
    emu.inject("cfw.job", kind, count=50, **params)
    with pytest.raises((CfwApiError, CfwConnectionError)) as info:
        CfwHook().get_job(job_id)
    assert info.value.retryable
    assert len(emu.stats.log) == 4  # the first try and max_retries=3 retries


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


@pytest.mark.parametrize(("params", "error"), PERMANENT, ids=_ids)
def test_permanent_failure_is_not_retried(emu: CfwEmulator, job_id: str, params: dict, error: type) -> None:
    emu.inject("cfw.job", "status", count=5, **params)
    with pytest.raises(error) as info:
        CfwHook().get_job(job_id)
    assert info.value.error_code == params["error_code"]
    assert info.value.request_id
    assert len(emu.stats.log) == 1


@pytest.mark.parametrize(("params", "error"), PERMANENT[:4], ids=_ids)
async def test_permanent_failure_is_not_retried_async(
    emu: CfwEmulator, job_id: str, params: dict, error: type
) -> None:
    emu.inject("cfw.job", "status", count=5, **params)
    with pytest.raises(error):
        await CfwHook().aget_job(job_id)
    assert len(emu.stats.log) == 1


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


def test_retry_after_is_honoured(emu: CfwEmulator, job_id: str, caplog: pytest.LogCaptureFixture) -> None:
    emu.inject("cfw.job", "status", status=429, retry_after="1", count=1)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_cfw"):
        CfwHook().get_job(job_id)
    waits = [float(w) for w in re.findall(r"retrying in ([0-9.]+) s", caplog.text)]
    # The backoff alone (retry_backoff=0.01) would wait a few hundredths of a second.
    assert waits and waits[0] >= 1.0
    assert "APIGW.0308" in caplog.text


def test_429_body_is_reported(emu: CfwEmulator, job_id: str) -> None:
    emu.inject("cfw.job", "status", status=429, retry_after="0", count=10)
    with pytest.raises(CfwApiError) as info:
        CfwHook(max_retries=0).get_job(job_id)
    assert info.value.error_code == "APIGW.0308"
    assert info.value.error_msg and info.value.request_id


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


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_connection_resets_are_retried_by_the_hook(emu: CfwEmulator, job_id: str, mode: str) -> None:
    # Two resets in a row: aiohttp may silently retry an idempotent request once on its own, which
    # would hide a hook that stopped retrying; it never retries twice, so only the hook gets past both.
    emu.inject("cfw.job", "reset", count=2)
    hook = CfwHook()
    job = hook.get_job(job_id) if mode == "sync" else asyncio.run(hook.aget_job(job_id))
    assert job.status is CfwJobStatus.SUCCESS
    assert [entry.status for entry in emu.stats.log] == [0, 0, 200]
