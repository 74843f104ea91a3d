"""Error bodies in every shape Huawei's gateways and services send, parsed without a network."""

from __future__ import annotations

import json

import pytest

from airflow_provider_cfw.core.errors import (
    MAX_TEXT_BODY_CHARS,
    CfwApiError,
    CfwAuthError,
    CfwJobNotFound,
    error_from_response,
)
from airflow_provider_cfw.core.http import HttpResponse

CODE, MESSAGE = "CFW.00000001", "Invalid parameter."
#: Every documented shape, each carrying CODE and MESSAGE.
SHAPES = {
    "error_code/error_msg": {"error_code": CODE, "error_msg": MESSAGE},
    "error{code,message}": {"error": {"code": CODE, "message": MESSAGE}},
    "code/message": {"code": CODE, "message": MESSAGE},
    "errorCode/errorMsg": {"errorCode": CODE, "errorMsg": MESSAGE},
    "error{error_code,error_msg}": {"error": {"error_code": CODE, "error_msg": MESSAGE}},
}


def answer(status: int, body: object, **headers: str) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse.of(status, {"Content-Type": "application/json", **headers}, raw)


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_every_shape_keeps_code_and_message(shape: dict) -> None:
    error = error_from_response(answer(400, shape, **{"X-Request-Id": "req-1"}))
    assert (error.error_code, error.error_msg, error.request_id) == (CODE, MESSAGE, "req-1")
    assert str(error) == f"HTTP 400 {CODE}: {MESSAGE} (request id req-1)"


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_job_not_found_in_every_shape(shape: dict) -> None:
    body = json.loads(json.dumps(shape).replace(CODE, "CFW.00200005"))
    assert isinstance(error_from_response(answer(400, body)), CfwJobNotFound)


def test_keystone_numeric_code_and_title() -> None:
    error = error_from_response(answer(401, {"error": {"code": 401, "title": "Unauthorized"}}))
    assert isinstance(error, CfwAuthError)
    assert (error.error_code, error.error_msg) == ("401", "Unauthorized")


def test_encoded_authorization_message_is_kept() -> None:
    body = {
        "error_code": "IAM.0003",
        "error_msg": "Policy doesn't allow cfw:job:get to be performed.",
        "encoded_authorization_message": "4k8Rd2hv...QU1-encoded",
    }
    error = error_from_response(answer(403, body))
    assert isinstance(error, CfwAuthError)
    assert error.encoded_authorization_message == "4k8Rd2hv...QU1-encoded"
    assert "4k8Rd2hv...QU1-encoded" in str(error) and "cfw:job:get" in str(error)


def test_iam_trace_id_is_the_request_id_when_there_is_no_request_id() -> None:
    body = {"error": {"code": 401, "message": "The username or password is wrong."}}
    assert error_from_response(answer(401, body, **{"X-IAM-Trace-Id": "trace-9"})).request_id == "trace-9"
    both = answer(401, body, **{"X-IAM-Trace-Id": "trace-9", "X-Request-Id": "req-1"})
    assert error_from_response(both).request_id == "req-1"


def test_request_id_from_the_body_when_no_header() -> None:
    assert (
        error_from_response(answer(429, {"error_code": "APIGW.0308", "request_id": "r-2"})).request_id
        == "r-2"
    )


WAF_PAGE = (
    b"<!DOCTYPE html><html><head><title>403 Forbidden</title><style>body{color:red}</style>"
    b"<script>var trap = '<b>not text</b>';</script></head><body><h1>Access denied</h1>"
    b"<p>Your request was blocked by the web application firewall.&nbsp;Event id: 7f3a.</p>"
    + b"<p>"
    + b"padding " * 100
    + b"</p></body></html>"
)


def test_html_body_keeps_its_text_without_tags() -> None:
    error = error_from_response(HttpResponse.of(403, {"Content-Type": "text/html; charset=utf-8"}, WAF_PAGE))
    assert error.error_code is None and error.error_msg is not None
    assert error.error_msg.startswith("non-JSON answer (text/html): 403 Forbidden Access denied Your request")
    assert "Event id: 7f3a." in error.error_msg
    assert "<" not in error.error_msg and "color:red" not in error.error_msg and "trap" not in error.error_msg
    text = error.error_msg.split(": ", 1)[1]
    assert len(text) <= MAX_TEXT_BODY_CHARS and text.endswith("...")


@pytest.mark.parametrize("body", [b"", b"   \n", b"<html></html>"])
def test_empty_non_json_body(body: bytes) -> None:
    error = error_from_response(HttpResponse.of(502, {"Content-Type": "text/html"}, body))
    assert error.error_msg == "non-JSON answer (text/html)"
    assert isinstance(error, CfwApiError) and error.retryable


def test_plain_text_and_json_that_is_not_an_object() -> None:
    assert error_from_response(HttpResponse.of(429, {}, b"Too Many Requests")).error_msg == (
        "non-JSON answer (unknown content type): Too Many Requests"
    )
    listed = error_from_response(answer(500, ["oops"]))
    assert listed.error_code is None and listed.retryable
