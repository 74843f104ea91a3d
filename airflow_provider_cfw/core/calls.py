"""Calls as values: what to send, how to read the answer, and whether it may be sent twice.

A :class:`Call` is built by a pure function next to the request and response code it uses
(:mod:`~airflow_provider_cfw.core.jobs`, :mod:`~airflow_provider_cfw.core.firewalls`,
:mod:`~airflow_provider_cfw.core.iam`, :func:`any_call` here) and run, sync or async, by
:class:`~airflow_provider_cfw.core.client.CfwClient`, which adds authentication and retries. A call
that takes several requests (a listing that follows its pages) is a :data:`Plan`: a generator that
yields calls and is sent their answers, so the sync and the async client drive the same code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from airflow_provider_cfw.core.errors import CfwConfigError, CfwResponseError, error_from_response
from airflow_provider_cfw.core.http import HttpRequest, HttpResponse, encode_query
from airflow_provider_cfw.get_provider_info import PACKAGE_NAME, __version__

T = TypeVar("T")

USER_AGENT = f"{PACKAGE_NAME}/{__version__}"
JSON_HEADERS = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
#: HTTP methods that may be resent after a failure that may have reached the service.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class Call(Generic[T]):
    """One logical call: its request, how to read the answer, and how to authenticate it.

    :param request: the request, unsigned.
    :param parse: reads the answer (and raises the error family for an error answer).
    :param project_id: the project it acts in (signed as ``X-Project-Id``; scopes an IAM token);
        ``None`` for account-level calls (IAM).
    :param auth: whether it is authenticated at all (the IAM token request is not).
    :param idempotent: may it run twice? If not (a create), a failure that may have reached the
        service is not retried.
    """

    request: HttpRequest
    parse: Callable[[HttpResponse], T]
    project_id: str | None
    auth: bool = True
    idempotent: bool = True


#: Several calls whose sequence depends on the answers: yields each call, is sent its answer.
Plan = Generator[Call[Any], Any, T]


def json_body(response: HttpResponse) -> dict[str, Any]:
    """The answer's JSON object; an error answer raises the matching exception."""
    if not 200 <= response.status < 300:
        raise error_from_response(response)
    try:
        payload = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict):
        raise CfwResponseError(
            response.status, None, "the answer is not a JSON object", request_id=response.request_id
        )
    return payload


def json_bytes(payload: object) -> bytes:
    """JSON as the official SDK writes it (``json.dumps`` defaults: ``", "``/``": "``, ASCII-escaped)."""
    return json.dumps(payload).encode("utf-8")


def api_request(
    endpoint: str,
    method: str,
    path: str,
    *,
    params: Mapping[str, object] | None = None,
    body: object = None,
) -> HttpRequest:
    """Any CFW request: ``path`` relative to the endpoint (``/v1/{project_id}/...``, already filled in)."""
    query = encode_query(params)
    url = f"{endpoint}{path}" + (f"?{query}" if query else "")
    return HttpRequest(method, url, JSON_HEADERS, b"" if body is None else json_bytes(body))


# ---- any CFW call (CfwHook.request) -------------------------------------------------------------

_PATH = re.compile(r"^(/[A-Za-z0-9._~{}-]+)+/?$")


def validate_method(method: object) -> str:
    verb = method.upper() if isinstance(method, str) else ""
    if verb not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        raise CfwConfigError("method", "GET, POST, PUT, PATCH or DELETE", got=repr(method)[:40])
    return verb


def validate_path(path: object) -> str:
    """A CFW path such as ``/v1/{project_id}/firewalls/list``: plain segments (letters, digits,
    ``-._~``) and no placeholder but ``{project_id}``; no query, no ``..``, nothing to encode."""
    expected = "an absolute CFW API path such as '/v1/{project_id}/firewalls/list'"
    if not isinstance(path, str) or not _PATH.fullmatch(path):
        raise CfwConfigError("path", expected, got=repr(path)[:80])
    segments = path.split("/")
    if any(s in (".", "..") or (("{" in s or "}" in s) and s != "{project_id}") for s in segments):
        raise CfwConfigError("path", expected, got=repr(path)[:80])
    return path


def validate_json(body: object) -> object:
    try:
        json_bytes(body)
    except (TypeError, ValueError):
        raise CfwConfigError("json", "a JSON-serialisable body (dicts, lists, strings, numbers)") from None
    return body


def any_call(
    endpoint: str,
    project_id: str,
    method: str,
    path: str,
    *,
    params: Mapping[str, object] | None = None,
    json: object = None,
    idempotent: bool | None = None,
) -> Call[dict[str, Any]]:
    """Any CFW call; ``method``, ``path`` and ``json`` already checked by the ``validate_*`` above.

    ``{project_id}`` in ``path`` is filled in; ``idempotent`` ``None`` follows the method.
    """
    request = api_request(
        endpoint, method, path.replace("{project_id}", project_id), params=params, body=json
    )
    resendable = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
    return Call(request, json_body, project_id, idempotent=resendable)
