"""The calls the provider makes, as pure request builders and response parsers (the firewall
lifecycle's are in :mod:`~airflow_provider_cfw.core.firewalls`).

Shared by the sync and async clients: nothing here does I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pendulum import DateTime

from airflow_provider_cfw.core import endpoints
from airflow_provider_cfw.core.errors import (
    CfwApiError,
    CfwConfigError,
    CfwResponseError,
    error_from_response,
)
from airflow_provider_cfw.core.http import HttpRequest, HttpResponse, encode_query
from airflow_provider_cfw.core.models import CfwJob, CfwTimes, parse_cfw_time
from airflow_provider_cfw.get_provider_info import PACKAGE_NAME, __version__

USER_AGENT = f"{PACKAGE_NAME}/{__version__}"
JSON_HEADERS = {"Content-Type": "application/json", "User-Agent": USER_AGENT}


def json_body(response: HttpResponse) -> dict[str, Any]:
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


# ---- CFW: any call ---------------------------------------------------------------------------

#: HTTP methods that may be resent after a failure that may have reached the service.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
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


def resolve_path(path: str, project_id: str) -> str:
    return path.replace("{project_id}", project_id)


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
    """Any CFW call: ``path`` relative to the endpoint (``/v1/{project_id}/...``, already filled in)."""
    query = encode_query(params)
    url = f"{endpoint}{path}" + (f"?{query}" if query else "")
    return HttpRequest(method, url, JSON_HEADERS, b"" if body is None else json_bytes(body))


# ---- CFW: List Job Status -------------------------------------------------------------------


def job_request(endpoint: str, project_id: str, job_id: str) -> HttpRequest:
    """``GET /v3/{project_id}/jobs/{job_id}``; ids must already be validated as safe path segments."""
    return HttpRequest("GET", f"{endpoint}/v3/{project_id}/jobs/{job_id}", JSON_HEADERS)


def parse_job_response(response: HttpResponse, times: CfwTimes | None = None) -> CfwJob:
    """The job in a List Job Status answer; ``times``: the wait's, when it reads the job again and again."""
    payload = json_body(response)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise CfwResponseError(
            response.status, None, "the answer has no 'data' object", request_id=response.request_id
        )
    try:
        return CfwJob.from_data(data, request_id=response.request_id, times=times)
    except ValueError as err:
        raise CfwResponseError(response.status, None, str(err), request_id=response.request_id) from None


# ---- IAM: password token ----------------------------------------------------------------------


@dataclass(frozen=True)
class IamToken:
    """A project-scoped IAM token.

    :param value: the token (``X-Subject-Token``); a secret.
    :param expires_at: when IAM says it expires.
    :param project_id: the project it is scoped to.
    """

    value: str = field(repr=False)
    expires_at: DateTime
    project_id: str | None


def token_request(
    iam_endpoint: str,
    *,
    domain_name: str,
    user_name: str,
    password: str,
    project_id: str | None,
    project_name: str | None,
) -> HttpRequest:
    scope = {"id": project_id} if project_id else {"name": project_name}
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"domain": {"name": domain_name}, "name": user_name, "password": password}
                },
            },
            "scope": {"project": scope},
        }
    }
    return HttpRequest(
        "POST",
        f"{iam_endpoint}/v3/auth/tokens?{encode_query({'nocatalog': True})}",
        JSON_HEADERS,
        json.dumps(body).encode("utf-8"),
    )


def parse_token_response(response: HttpResponse) -> IamToken:
    payload = json_body(response)
    value = response.headers.get("x-subject-token")
    token = payload.get("token")
    if not value or not isinstance(token, dict):
        raise CfwResponseError(
            response.status, None, "IAM answered without a token", request_id=response.request_id
        )
    try:
        expires_at = parse_cfw_time(token.get("expires_at"))
    except ValueError:
        expires_at = None
    if expires_at is None:
        raise CfwResponseError(
            response.status, None, "IAM token has no valid expires_at", request_id=response.request_id
        )
    project = token.get("project")
    project_id = project.get("id") if isinstance(project, dict) else None
    return IamToken(value=value, expires_at=expires_at, project_id=project_id)


# ---- IAM: project id by region ------------------------------------------------------------------


def projects_request(iam_endpoint: str, region: str) -> HttpRequest:
    return HttpRequest("GET", f"{iam_endpoint}/v3/projects?{encode_query({'name': region})}", JSON_HEADERS)


def parse_projects_response(response: HttpResponse, region: str) -> str:
    """The one project named after ``region``; zero or several matches is an error."""
    payload = json_body(response)
    projects = payload.get("projects")
    if not isinstance(projects, list):
        raise CfwResponseError(
            response.status, None, "IAM answered without a 'projects' list", request_id=response.request_id
        )
    ids = [p.get("id") for p in projects if isinstance(p, dict) and p.get("name") == region]
    if len(ids) != 1 or not isinstance(ids[0], str):
        # A well-formed answer that does not settle the question: retrying will not change it. The
        # region first: with 'endpoint' set, any region id is accepted, so a mistyped one gets this far.
        if len(ids) > 1:
            message = (
                f"extra.region {region!r}: IAM lists {len(ids)} projects of that name (sub-projects); "
                "set the connection's 'project_id' extra to the one to use"
            )
        else:
            note = endpoints.unknown_region_note(region)
            message = (
                f"extra.region {region!r}: IAM has no project of that name; "
                + (f"{note}; " if note else "")
                + "fix the region, or set the connection's 'project_id' extra"
            )
        raise CfwApiError(response.status, None, message, request_id=response.request_id)
    return ids[0]
