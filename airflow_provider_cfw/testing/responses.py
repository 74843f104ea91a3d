"""Answer bodies shaped like the real services': CFW, the API gateway, Keystone-style IAM, a proxy."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aiohttp import web

JSON_TYPE = "application/json"

#: Default bodies of ``status`` faults (the gateway's own answers). The codes for 429 and the
#: 502/504 APIGW.0201 pair come from the spec; the 500 and 503 codes are illustrative.
_GATEWAY_ERRORS: dict[int, tuple[str, str]] = {
    400: ("APIGW.0201", "Request error."),
    401: ("APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail"),
    403: ("APIGW.0302", "The IAM user is forbidden in the currently selected region"),
    404: ("APIGW.0101", "The API does not exist or has not been published in the environment"),
    429: (
        "APIGW.0308",
        "The throttling threshold has been reached: policy user over ratelimit,limit:100,time:1 second",
    ),
    500: ("CFW.00100001", "Internal server error."),
    503: ("APIGW.0201", "Service temporarily unavailable."),
    504: ("APIGW.0201", "Backend timeout."),
}

_BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=dumps(payload), content_type=JSON_TYPE, headers=headers)


def gateway_error(status: int, code: str, message: str, request_id: str) -> web.Response:
    """The API gateway's error answer: ``error_code``, ``error_msg`` and ``request_id``."""
    return json_response(status, {"error_code": code, "error_msg": message, "request_id": request_id})


def service_error(status: int, code: str, message: str) -> web.Response:
    """A CFW business error: ``error_code`` and ``error_msg`` (the request id is in the header)."""
    return json_response(status, {"error_code": code, "error_msg": message})


def keystone_error(status: int, message: str) -> web.Response:
    """IAM's Keystone-style error: ``{"error": {"code", "message", "title"}}``."""
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return json_response(status, {"error": {"code": status, "message": message, "title": title}})


def bare_status(status: int) -> web.Response:
    """What a load balancer or proxy in front sends: the reason phrase as text, nothing else."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return web.Response(status=status, text=f"{status} {phrase}", content_type="text/plain")


def throttled(message: str, retry_after: str | None, request_id: str) -> web.Response:
    """The gateway's flow-control answer: 429 ``APIGW.0308``, ``Retry-After`` only if one is set."""
    response = gateway_error(429, "APIGW.0308", message, request_id)
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


def not_found(request_id: str) -> web.Response:
    code, message = _GATEWAY_ERRORS[404]
    return gateway_error(404, code, message, request_id)


def status_fault(
    status: int,
    *,
    route: str,
    request_id: str,
    error_code: str | None,
    error_msg: str | None,
    retry_after: str | None,
    body: bytes | None,
    content_type: str | None,
) -> web.Response:
    """The answer of a ``status`` fault: what the gateway, IAM or a proxy in front would send."""
    headers: dict[str, str] = {}
    if retry_after is None and status == 429:
        retry_after = "2"
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    if body is not None:
        return web.Response(status=status, body=body, content_type=content_type or JSON_TYPE, headers=headers)
    if status == 502 and error_code is None:
        return web.Response(status=502, body=_BAD_GATEWAY_HTML, content_type="text/html", headers=headers)
    default_code, default_msg = _GATEWAY_ERRORS.get(status, ("APIGW.0201", "Request error."))
    if route.startswith("iam.") and error_code is None and status != 429:
        response = keystone_error(status, error_msg or default_msg)
        response.headers.update(headers)
        return response
    payload = {
        "error_code": error_code or default_code,
        "error_msg": error_msg or default_msg,
        "request_id": request_id,
    }
    return json_response(status, payload, headers)
