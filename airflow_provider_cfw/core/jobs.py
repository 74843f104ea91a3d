"""List Job Status (``GET /v3/{project_id}/jobs/{job_id}``) as a call: request, answer, parser.

Pure pieces, no I/O; :class:`~airflow_provider_cfw.core.client.CfwClient` runs the call.
"""

from __future__ import annotations

from functools import partial

from airflow_provider_cfw.core.calls import JSON_HEADERS, Call, json_body
from airflow_provider_cfw.core.errors import CfwResponseError
from airflow_provider_cfw.core.http import HttpRequest, HttpResponse
from airflow_provider_cfw.core.models import CfwJob, CfwTimes


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


def job_call(endpoint: str, project_id: str, job_id: str) -> Call[CfwJob]:
    """Read one job; ids already validated. A wait builds it once and runs it at every poll, so the
    client signs it from its cached parts and its times are parsed through one :class:`CfwTimes`."""
    parse = partial(parse_job_response, times=CfwTimes())
    return Call(job_request(endpoint, project_id, job_id), parse, project_id)
