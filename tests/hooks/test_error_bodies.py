"""Error bodies over real HTTP: the emulator serves each of Huawei's shapes and a WAF's HTML page."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from airflow_provider_cfw.core.errors import CfwApiError, CfwAuthError
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.testing import CfwEmulator
from tests.conftest import PROJECT, ConnSetter
from tests.core.test_errors import CODE, MESSAGE, SHAPES, WAF_PAGE


@pytest.fixture
def job_id(emu: CfwEmulator, conn: dict) -> str:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Success"])
    return job_id


def both_paths(job_id: str) -> list[CfwApiError]:
    """The error the sync and then the async path raised for the same answer."""
    errors = []
    with pytest.raises(CfwApiError) as sync:
        CfwHook(max_retries=0).get_job(job_id)
    errors.append(sync.value)
    with pytest.raises(CfwApiError) as not_sync:
        asyncio.run(CfwHook(max_retries=0).aget_job(job_id))
    errors.append(not_sync.value)
    return errors


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_every_shape_over_http(emu: CfwEmulator, job_id: str, shape: dict) -> None:
    emu.inject("cfw.job", "status", status=400, body=json.dumps(shape).encode(), count=2)
    errors = both_paths(job_id)
    assert [(e.error_code, e.error_msg) for e in errors] == [(CODE, MESSAGE)] * 2
    assert [e.request_id for e in errors] == [entry.request_id for entry in emu.stats.log]


def test_waf_html_page_over_http(emu: CfwEmulator, job_id: str) -> None:
    emu.inject("cfw.job", "status", status=403, body=WAF_PAGE, content_type="text/html", count=2)
    for error in both_paths(job_id):
        assert isinstance(error, CfwAuthError)
        assert (
            error.error_msg is not None and "Access denied" in error.error_msg and "<" not in error.error_msg
        )
        assert len(error.error_msg) < 340


def test_bare_status_from_a_load_balancer(emu: CfwEmulator, job_id: str) -> None:
    emu.inject("cfw.job", "bare_status", status=403, count=2)
    for error in both_paths(job_id):
        assert str(error).startswith("HTTP 403: non-JSON answer (text/plain): 403 Forbidden (request id ")


def test_iam_trace_id_over_http(emu: CfwEmulator, set_conn: ConnSetter, job_id: str) -> None:
    set_conn(auth="password")
    # IAM's own Keystone-style refusal: no X-Request-Id, the id travels as X-IAM-Trace-Id.
    emu.inject("iam.tokens", "status", status=401, request_id_header="X-IAM-Trace-Id", count=2)
    errors = both_paths(job_id)
    ids = [entry.request_id for entry in emu.stats.log]
    assert [e.request_id for e in errors] == ids and all(ids)
    assert all(e.error_code == "401" and e.error_msg for e in errors)


def test_encoded_authorization_message_over_http(emu: CfwEmulator, job_id: str) -> None:
    body = {
        "error_code": "CFW.00000403",
        "error_msg": "no permission",
        "encoded_authorization_message": "ZW5j",
    }
    emu.inject("cfw.job", "status", status=403, body=json.dumps(body).encode(), count=2)
    assert [e.encoded_authorization_message for e in both_paths(job_id)] == ["ZW5j", "ZW5j"]
