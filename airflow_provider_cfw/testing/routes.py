"""The HTTP side: routes, fault handling and bookkeeping around every answer."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from airflow_provider_cfw.core.errors import JOB_NOT_FOUND_CODE
from airflow_provider_cfw.core.http import HttpRequest
from airflow_provider_cfw.core.signing import ALGORITHM, parse_authorization
from airflow_provider_cfw.testing import responses
from airflow_provider_cfw.testing.auth import AuthFailure, authenticate
from airflow_provider_cfw.testing.faults import Fault, FaultQueue
from airflow_provider_cfw.testing.firewalls import FirewallRegistry, FirewallRequestError
from airflow_provider_cfw.testing.state import EmulatorState, IssuedToken
from airflow_provider_cfw.testing.stats import RequestLogEntry, StatsRecorder

logger = logging.getLogger(__name__)
#: CFW's "object does not exist", for any object: a job, or a firewall to delete.
OBJECT_NOT_FOUND_CODE = JOB_NOT_FOUND_CODE
JSON = responses.JSON_TYPE

#: (response, auth kind, auth failure reason or None)
Outcome = tuple[web.StreamResponse, str, AuthFailure | None]
Handler = Callable[[web.Request, str], Awaitable[Outcome]]


def _iso_z(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _as_http_request(request: web.Request) -> HttpRequest:
    # The raw path and query as received: re-encoding them would hide a client's encoding bug.
    body = await request.read()
    return HttpRequest(request.method, "http://emulator" + request.raw_path, dict(request.headers), body)


def _access_key(authorization: str | None) -> str | None:
    if not authorization or not authorization.startswith(ALGORITHM + " "):
        return None
    try:
        return parse_authorization(authorization).access
    except ValueError:
        return None


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _refusal(failure: AuthFailure, request_id: str) -> Outcome:
    response = responses.gateway_error(failure.status, failure.error_code, failure.message, request_id)
    return response, failure.kind, failure


class EmulatorApp:
    """Builds the ``aiohttp`` application and answers its requests.

    :param state: the emulated account.
    :param faults: the injected faults.
    :param stats: where every answer is counted.
    :param firewalls: the emulated firewalls (a fresh registry on ``state`` by default).
    """

    def __init__(
        self,
        state: EmulatorState,
        faults: FaultQueue,
        stats: StatsRecorder,
        firewalls: FirewallRegistry | None = None,
    ) -> None:
        self.state = state
        self.faults = faults
        self.stats = stats
        self.firewalls = firewalls or FirewallRegistry(state)

    def build(self) -> web.Application:
        app = web.Application()
        # No implicit HEAD: it would advance poll scripts, and the gateway does not publish it.
        app.router.add_get("/v3/projects", self._route("iam.projects", self._projects), allow_head=False)
        app.router.add_post("/v3/auth/tokens", self._route("iam.tokens", self._tokens))
        job = self._route("cfw.job", self._job)
        app.router.add_get("/v3/{project_id}/jobs/{job_id}", job, allow_head=False)
        app.router.add_post("/v2/{project_id}/firewall", self._route("cfw.firewall.create", self._create))
        app.router.add_delete(
            "/v2/{project_id}/firewall/{firewall_id}", self._route("cfw.firewall.delete", self._delete)
        )
        app.router.add_post("/v1/{project_id}/firewalls/list", self._route("cfw.firewall.list", self._list))
        # Anything else gets the gateway's "no such API" answer, not aiohttp's plain-text 404/405.
        app.router.add_route("*", "/{tail:.*}", self._route("unknown", self._unknown))
        return app

    def _route(self, name: str, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def serve(request: web.Request) -> web.StreamResponse:
            arrived = time.time()
            started = time.perf_counter()
            request_id = uuid.uuid4().hex
            access_key = _access_key(request.headers.get("Authorization"))
            limit = self.state.rate_limit
            # The gateway's flow control comes first: a throttled call reaches nothing behind it.
            response: web.StreamResponse
            fault_kind: str | None
            if limit is not None and name != "unknown" and not limit.admit(name, access_key):
                fault = None
                response = responses.throttled(limit.message, limit.retry_after, request_id)
                auth, failure, status, fault_kind = "none", None, 429, "rate_limit"
            else:
                response, auth, failure, status, fault = await self._answer(
                    request, name, handler, request_id
                )
                fault_kind = fault.kind if fault is not None else None
            if not response.prepared:
                header = fault.request_id_header if fault is not None else "X-Request-Id"
                response.headers[header] = request_id
            self.stats.record(
                RequestLogEntry(
                    method=request.method,
                    path=request.path,
                    route=name,
                    auth=auth,
                    status=status,
                    latency=time.perf_counter() - started,
                    request_id=request_id,
                    fault=fault_kind,
                    auth_failure=failure.reason if failure is not None else None,
                    at=arrived,
                    access_key=access_key,
                ),
                aksk_failure=failure is not None and failure.kind == "aksk",
            )
            return response

        return serve

    async def _answer(
        self, request: web.Request, name: str, handler: Handler, request_id: str
    ) -> tuple[web.StreamResponse, str, AuthFailure | None, int, Fault | None]:
        """The answer of the route or of the injected fault that fires: (response, auth, failure, status,
        fault)."""
        fault = self.faults.take(name) if name != "unknown" else None
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.kind == "lost_answer" and fault.status is not None:
            # The work is done, then the gateway answers with an error instead (a 502, say).
            await handler(request, request_id)
            response, auth, failure = await self._fault(
                request, replace(fault, kind="status", count=None), name, request_id
            )
            status = response.status
        elif fault is not None and fault.kind == "lost_answer":
            # The work is done (a firewall created, say), then the answer never arrives.
            response, auth, failure = await handler(request, request_id)
            _reset(request)
            status = 0
        elif fault is not None and fault.kind != "latency":
            response, auth, failure = await self._fault(request, fault, name, request_id)
            status = 0 if fault.kind == "reset" else response.status
        else:
            response, auth, failure = await handler(request, request_id)
            status = response.status
        return response, auth, failure, status, fault

    # -- routes ----------------------------------------------------------------------------------

    async def _job(self, request: web.Request, request_id: str) -> Outcome:
        project_id = request.match_info["project_id"]
        result = authenticate(await _as_http_request(request), self.state, project_id)
        if isinstance(result, AuthFailure):
            return _refusal(result, request_id)
        data = self.state.poll_job(project_id, request.match_info["job_id"])
        if data is None:
            response = responses.service_error(400, JOB_NOT_FOUND_CODE, "object does not exist")
        else:
            response = responses.json_response(200, {"data": data})
        return response, result.kind, None

    async def _create(self, request: web.Request, request_id: str) -> Outcome:
        project_id = request.match_info["project_id"]
        received = await _as_http_request(request)
        result = authenticate(received, self.state, project_id)
        if isinstance(result, AuthFailure):
            return _refusal(result, request_id)
        try:
            token = received.header("X-Client-Token")
            answer = self.firewalls.create(project_id, _json_or_none(received.body), token)
        except FirewallRequestError as err:
            return responses.service_error(400, err.code, str(err)), result.kind, None
        return responses.json_response(200, answer), result.kind, None

    async def _delete(self, request: web.Request, request_id: str) -> Outcome:
        project_id = request.match_info["project_id"]
        result = authenticate(await _as_http_request(request), self.state, project_id)
        if isinstance(result, AuthFailure):
            return _refusal(result, request_id)
        try:
            job_id = self.firewalls.delete(project_id, request.match_info["firewall_id"])
        except FirewallRequestError as err:
            return responses.service_error(400, err.code, str(err)), result.kind, None
        if job_id is None:
            response = responses.service_error(400, OBJECT_NOT_FOUND_CODE, "object does not exist")
        else:
            response = responses.json_response(200, {"data": job_id})
        return response, result.kind, None

    async def _list(self, request: web.Request, request_id: str) -> Outcome:
        project_id = request.match_info["project_id"]
        received = await _as_http_request(request)
        result = authenticate(received, self.state, project_id)
        if isinstance(result, AuthFailure):
            return _refusal(result, request_id)
        query = _json_or_none(received.body)
        query = query if isinstance(query, dict) else {}
        limit, offset, key_word = query.get("limit"), query.get("offset", 0), query.get("key_word")
        if not isinstance(limit, int) or not 1 <= limit <= 1024 or not isinstance(offset, int) or offset < 0:
            response = responses.service_error(400, "CFW.00200001", "invalid parameter: limit or offset")
            return response, result.kind, None
        scope = query.get("enterprise_project_id", request.query.get("enterprise_project_id"))
        data = self.firewalls.page(
            project_id,
            key_word if isinstance(key_word, str) else None,
            limit,
            offset,
            scope if isinstance(scope, str) else None,
        )
        return responses.json_response(200, {"data": data}), result.kind, None

    async def _projects(self, request: web.Request, request_id: str) -> Outcome:
        result = authenticate(await _as_http_request(request), self.state, None)
        if isinstance(result, AuthFailure):
            return _refusal(result, request_id)
        self_url = f"{request.scheme}://{request.host}/v3/projects"
        projects = [
            {
                "id": project.id,
                "name": project.name,
                "domain_id": project.domain_id,
                "parent_id": project.domain_id,
                "description": "",
                "enabled": True,
                "is_domain": False,
                "links": {"self": f"{self_url}/{project.id}"},
            }
            for project in self.state.projects_named(request.query.get("name"))
        ]
        links = {"self": self_url, "previous": None, "next": None}
        response = responses.json_response(200, {"projects": projects, "links": links})
        return response, result.kind, None

    async def _tokens(self, request: web.Request, request_id: str) -> Outcome:
        try:
            payload = json.loads(await request.read())
            auth = payload["auth"]
            methods = auth["identity"]["methods"]
            user = auth["identity"]["password"]["user"]
            domain = user["domain"]
            domain_name = domain["name"] if "name" in domain else self.state.domain_name(domain["id"])
            user_name, password = user["name"], user["password"]
            scope = auth.get("scope") or {}
        except (ValueError, KeyError, TypeError):
            return responses.keystone_error(400, "The request body is invalid."), "password", None
        if not isinstance(methods, list) or "password" not in methods:
            return responses.keystone_error(400, "Only the password method is supported."), "password", None
        found = self.state.find_user(str(domain_name), str(user_name), str(password))
        if found is None:
            return responses.keystone_error(401, "The username or password is wrong."), "password", None
        project = None
        wanted = scope.get("project") if isinstance(scope, dict) else None
        if isinstance(wanted, dict):
            project = self.state.find_project(project_id=wanted.get("id"), name=wanted.get("name"))
            if project is None:
                message = "The request you have made requires authentication: no such project in the scope."
                return responses.keystone_error(401, message), "password", None
        issued = self.state.issue_token(found, project)
        self.stats.token_issued()
        body = {"token": self._token_body(issued, catalog=request.query.get("nocatalog") != "true")}
        response = responses.json_response(201, body)
        response.headers["X-Subject-Token"] = issued.token
        return response, "password", None

    async def _unknown(self, request: web.Request, request_id: str) -> Outcome:
        return responses.not_found(request_id), "none", None

    @staticmethod
    def _token_body(issued: IssuedToken, *, catalog: bool) -> dict[str, Any]:
        user = issued.user
        domain = {"id": user.domain_id, "name": user.domain_name}
        token: dict[str, Any] = {
            "expires_at": _iso_z(issued.expires_at),
            "issued_at": _iso_z(issued.issued_at),
            "methods": ["password"],
            "user": {"id": user.id, "name": user.name, "domain": domain, "password_expires_at": ""},
            "roles": [{"id": "0", "name": "op_gated_cfw"}, {"id": "1", "name": "te_admin"}],
        }
        if issued.project is not None:
            token["project"] = {"id": issued.project.id, "name": issued.project.name, "domain": domain}
        else:
            token["domain"] = domain
        if catalog:
            token["catalog"] = []
        return token

    # -- faults ----------------------------------------------------------------------------------

    async def _fault(self, request: web.Request, fault: Fault, route: str, request_id: str) -> Outcome:
        if fault.kind == "reset":
            _reset(request)
            return web.Response(status=200), "none", None
        if fault.kind == "status":
            assert fault.status is not None
            response: web.StreamResponse = responses.status_fault(
                fault.status,
                route=route,
                request_id=request_id,
                error_code=fault.error_code,
                error_msg=fault.error_msg,
                retry_after=fault.retry_after,
                body=fault.body,
                content_type=fault.content_type,
            )
        elif fault.kind == "bare_status":
            assert fault.status is not None
            response = responses.bare_status(fault.status)
        elif fault.kind == "truncate":
            return await _truncated(request, request_id), "none", None
        else:
            response = web.Response(status=200, body=self._odd_body(request, fault), content_type=JSON)
        return response, "none", None

    def _odd_body(self, request: web.Request, fault: Fault) -> bytes:
        job_id = request.match_info.get("job_id", "f588ce71-e26c-400d-8981-f854355f6849")
        if fault.kind == "malformed_json":
            return b'{"data": {"id": "' + job_id.encode() + b'", "status": "Runn'
        if fault.kind == "no_data":
            return responses.dumps({"trace_id": uuid.uuid4().hex})
        return responses.dumps(
            {"data": {"id": job_id, "status": fault.status_text, "begin_time": int(self.state.now() * 1000)}}
        )


def _reset(request: web.Request) -> None:
    """Close the connection with a TCP RST (SO_LINGER 0) before any byte of the answer."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _truncated(request: web.Request, request_id: str) -> web.StreamResponse:
    """Promise a full body in Content-Length, send half of it, then close the connection."""
    body = responses.dumps({"data": {"id": request.match_info.get("job_id", ""), "status": "Running"}})
    response = web.StreamResponse(status=200, headers={"X-Request-Id": request_id})
    response.content_type = "application/json"
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    return response
