"""The three calls the provider makes, as pure request builders and response parsers.

Shared by the sync and async clients: nothing here does I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pendulum import DateTime

from airflow_provider_cfw.core.errors import CfwApiError, CfwResponseError, error_from_response
from airflow_provider_cfw.core.http import HttpRequest, HttpResponse, encode_query
from airflow_provider_cfw.core.models import CfwJob, parse_cfw_time
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


# ---- CFW: List Job Status -------------------------------------------------------------------


def job_request(endpoint: str, project_id: str, job_id: str) -> HttpRequest:
    """``GET /v3/{project_id}/jobs/{job_id}``; ids must already be validated as safe path segments."""
    return HttpRequest("GET", f"{endpoint}/v3/{project_id}/jobs/{job_id}", JSON_HEADERS)


def parse_job_response(response: HttpResponse) -> CfwJob:
    payload = json_body(response)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise CfwResponseError(
            response.status, None, "the answer has no 'data' object", request_id=response.request_id
        )
    try:
        return CfwJob.from_data(data, request_id=response.request_id)
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
        # A well-formed answer that does not settle the question: retrying will not change it.
        raise CfwApiError(
            response.status,
            None,
            f"expected exactly one project named {region!r}, IAM listed {len(ids)}; "
            "set the connection's 'project_id' extra",
            request_id=response.request_id,
        )
    return ids[0]
