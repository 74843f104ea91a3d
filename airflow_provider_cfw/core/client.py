"""The CFW client: authentication, project discovery, retries and the job call, sync and async.

Both paths run the same steps built from the same pure pieces (request builders and parsers in
:mod:`~airflow_provider_cfw.core.api`, the signer, the retry policy, the caches); only the transport
and the kind of lock differ.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import aiohttp

from airflow_provider_cfw.core import api
from airflow_provider_cfw.core.errors import CfwAuthError, CfwError
from airflow_provider_cfw.core.firewall_calls import FirewallCalls
from airflow_provider_cfw.core.http import HttpRequest, HttpResponse
from airflow_provider_cfw.core.iam import PROJECTS, TOKENS, ProjectKey, TokenCache, TokenIdentity
from airflow_provider_cfw.core.models import CfwJob, CfwTimes
from airflow_provider_cfw.core.retry import RetryPolicy
from airflow_provider_cfw.core.scrub import scrub_error
from airflow_provider_cfw.core.settings import AuthType, CfwSettings
from airflow_provider_cfw.core.signing import RequestSigner, request_signer
from airflow_provider_cfw.core.transport import SESSIONS, AsyncTransport
from airflow_provider_cfw.core.validation import validate_job_id, validate_project_id

if TYPE_CHECKING:
    from airflow_provider_cfw.core.sync_transport import SyncTransport

log = logging.getLogger(__name__)
T = TypeVar("T")


def _no_mask(secret: str) -> None:
    return None


async def _no_amask(secret: str) -> None:
    return None


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One logical call: its request, how to read the answer, and how to authenticate it."""

    request: HttpRequest
    parse: Callable[[HttpResponse], T]
    project_id: str | None
    auth: bool
    #: May it run twice? If not (a create), a failure that may have reached the service is not retried.
    idempotent: bool = True
    #: AK/SK: all of the signing but the time, worked out once for every attempt (and every poll).
    signer: RequestSigner | None = None


class CfwClient(FirewallCalls):
    """Talks to CFW and IAM for one set of :class:`CfwSettings`.

    The firewall calls (create, delete, list) come from :class:`~airflow_provider_cfw.core.firewall_calls.FirewallCalls`.

    :param settings: validated connection settings.
    :param mask: registers a derived secret (an IAM token) with the log masker, synchronously.
    :param amask: the same, for the event loop.
    :param tokens: the IAM token cache (process-wide by default).
    :param projects: discovered project ids (process-wide by default).
    """

    def __init__(
        self,
        settings: CfwSettings,
        *,
        mask: Callable[[str], None] = _no_mask,
        amask: Callable[[str], Awaitable[None]] = _no_amask,
        tokens: TokenCache = TOKENS,
        projects: dict[ProjectKey, str] = PROJECTS,
    ) -> None:
        self.settings = settings
        self._mask = mask
        self._amask = amask
        self._tokens = tokens
        self._projects = projects
        self._retry = RetryPolicy(settings.max_retries, settings.retry_backoff)
        self._retry_once_only = RetryPolicy(settings.max_retries, settings.retry_backoff, idempotent=False)
        self._sync: SyncTransport | None = None
        self.transport = AsyncTransport(settings)
        # A trigger polls one job through a client of its own: the last job call, its signer included,
        # is kept for the next poll and goes with the client at the end of the wait. (Caches keyed by job
        # across the process kept every finished wait's until they filled.)
        self._last_job: tuple[str, str, _Call[CfwJob]] | None = None

    # ---- shared, pure ---------------------------------------------------------------------------

    def _project_key(self) -> ProjectKey:
        s = self.settings
        if s.aksk is not None:
            who = s.aksk.ak
        elif s.token is not None:
            # Who a static token belongs to is unknown here: key by its digest, never the token itself.
            who = "token:" + hashlib.sha256(s.token.encode("utf-8")).hexdigest()
        else:
            who = f"{s.domain_name}/{s.user_name}"
        return (s.iam_endpoint, who, s.region or "")

    def _known_project(self, project_id: str | None) -> str | None:
        if project_id is not None:
            return validate_project_id(project_id)
        return self.settings.project_id or self._projects.get(self._project_key())

    def _token_identity(self, project_id: str | None) -> TokenIdentity:
        s = self.settings
        default_project = s.project_id or self._projects.get(self._project_key())
        if project_id is None or (project_id == default_project and s.project_id is None and s.region):
            # The region-scoped token that discovered the project serves its calls too.
            scope = ("name", s.region or "")
        else:
            scope = ("id", project_id)
        return TokenIdentity.of(
            s.iam_endpoint, s.domain_name or "", s.user_name or "", s.password or "", scope
        )

    def _call(
        self,
        request: HttpRequest,
        parse: Callable[[HttpResponse], T],
        *,
        project_id: str | None,
        auth: bool = True,
        idempotent: bool = True,
    ) -> _Call[T]:
        aksk = self.settings.aksk
        signer = request_signer(request, aksk, project_id=project_id) if auth and aksk is not None else None
        return _Call(request, parse, project_id, auth, idempotent, signer)

    def _token_call(self, identity: TokenIdentity) -> _Call[api.IamToken]:
        kind, value = identity.scope
        s = self.settings
        request = api.token_request(
            s.iam_endpoint,
            domain_name=s.domain_name or "",
            user_name=s.user_name or "",
            password=s.password or "",
            project_id=value if kind == "id" else None,
            project_name=value if kind == "name" else None,
        )
        return self._call(request, api.parse_token_response, project_id=None, auth=False)

    def _job_call(self, job_id: str, project_id: str) -> _Call[CfwJob]:
        last = self._last_job
        if last is not None and last[0] == job_id and last[1] == project_id:
            return last[2]
        request = api.job_request(self.settings.endpoint, project_id, job_id)
        parse = partial(api.parse_job_response, times=CfwTimes())
        call = self._call(request, parse, project_id=project_id)
        self._last_job = (job_id, project_id, call)
        return call

    def _projects_call(self) -> _Call[str]:
        region = self.settings.region or ""
        return self._call(
            api.projects_request(self.settings.iam_endpoint, region),
            lambda response: api.parse_projects_response(response, region),
            project_id=None,
        )

    def _api_call(
        self,
        method: str,
        path: str,
        project_id: str,
        *,
        params: Mapping[str, object] | None,
        json: object,
        idempotent: bool | None,
    ) -> _Call[dict[str, Any]]:
        """``method`` and ``path`` already validated (:func:`api.validate_method`, :func:`api.validate_path`)."""
        resolved = api.resolve_path(path, project_id)
        return self._call(
            api.api_request(self.settings.endpoint, method, resolved, params=params, body=json),
            api.json_body,
            project_id=project_id,
            idempotent=method in api.IDEMPOTENT_METHODS if idempotent is None else idempotent,
        )

    def _retry_for(self, call: _Call[T]) -> RetryPolicy:
        return self._retry if call.idempotent else self._retry_once_only

    def _prepared(self, call: _Call[T], token: str | None) -> HttpRequest:
        """The call's request, signed (AK/SK) or carrying the token, unless it is an unauthenticated one."""
        if call.signer is not None:
            return call.signer.sign()
        if not call.auth:
            return call.request
        return call.request.with_headers({"X-Auth-Token": token or ""})

    def _remember_project(self, token: api.IamToken, identity: TokenIdentity) -> None:
        if identity.scope[0] == "name" and token.project_id:
            self._projects.setdefault(self._project_key(), token.project_id)

    @property
    def _uses_iam_password(self) -> bool:
        return self.settings.auth_type is AuthType.PASSWORD

    # ---- sync -------------------------------------------------------------------------------------

    @property
    def sync_transport(self) -> SyncTransport:
        if self._sync is None:
            # requests loads here, on the first sync call: a triggerer never makes one.
            from airflow_provider_cfw.core.sync_transport import SyncTransport

            self._sync = SyncTransport(self.settings)
        return self._sync

    def get_job(self, job_id: str, project_id: str | None = None) -> CfwJob:
        job_id = validate_job_id(job_id)
        project = self._known_project(project_id) or self.project_id()
        return self._run(self._job_call(job_id, project))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object = None,
        project_id: str | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Any CFW call, signed like the others; see :meth:`CfwHook.request`."""
        verb, path, json = api.validate_method(method), api.validate_path(path), api.validate_json(json)
        project = self._known_project(project_id) or self.project_id()
        return self._run(self._api_call(verb, path, project, params=params, json=json, idempotent=idempotent))

    def project_id(self) -> str:
        known = self._known_project(None)
        if known is not None:
            return known
        if self._uses_iam_password:
            identity = self._token_identity(None)
            self._token(identity)
            return self._projects[self._project_key()]
        project = self._run(self._projects_call())
        return self._projects.setdefault(self._project_key(), project)

    def _token(self, identity: TokenIdentity) -> str:
        cached = self._tokens.get(identity)
        if cached is not None:
            return cached.value
        with self._tokens.thread_lock(identity):
            cached = self._tokens.get(identity)
            if cached is None:
                cached = self._run(self._token_call(identity))
                self._mask(cached.value)
                self._tokens.put(identity, cached)
                self._remember_project(cached, identity)
            return cached.value

    def _run(self, call: _Call[T]) -> T:
        attempt = 1
        while True:
            try:
                if call.auth and self._uses_iam_password:
                    return self._once_with_token(call)
                return call.parse(self.sync_transport.send(self._prepared(call, self.settings.token)))
            except CfwError as err:
                # Before the retry's log line and the raise: a gateway echoes what it was sent.
                scrub_error(err, self.settings.secrets)
                delay = self._retry_for(call).delay(attempt, err)
                if delay is None:
                    raise
            time.sleep(delay)
            attempt += 1

    def _once_with_token(self, call: _Call[T]) -> T:
        identity = self._token_identity(call.project_id)
        token = self._token(identity)
        try:
            return call.parse(self.sync_transport.send(self._prepared(call, token)))
        except CfwAuthError as err:
            if err.http_status != 401:
                raise
            # A token can be revoked before it expires: fetch a new one once, try once more.
            self._tokens.invalidate(identity, token)
            return call.parse(self.sync_transport.send(self._prepared(call, self._token(identity))))

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    # ---- async ------------------------------------------------------------------------------------

    @staticmethod
    def shared_session() -> AbstractAsyncContextManager[aiohttp.ClientSession]:
        """A lease on the running loop's shared HTTP pool: it stays open while any lease is held."""
        return SESSIONS.lease()

    async def aget_job(self, job_id: str, project_id: str | None = None) -> CfwJob:
        job_id = validate_job_id(job_id)
        project = self._known_project(project_id) or await self.aproject_id()
        return await self._arun(self._job_call(job_id, project))

    async def arequest(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, object] | None = None,
        json: object = None,
        project_id: str | None = None,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        verb, path, json = api.validate_method(method), api.validate_path(path), api.validate_json(json)
        project = self._known_project(project_id) or await self.aproject_id()
        return await self._arun(
            self._api_call(verb, path, project, params=params, json=json, idempotent=idempotent)
        )

    async def aproject_id(self) -> str:
        known = self._known_project(None)
        if known is not None:
            return known
        if self._uses_iam_password:
            await self._atoken(self._token_identity(None))
            return self._projects[self._project_key()]
        project = await self._arun(self._projects_call())
        return self._projects.setdefault(self._project_key(), project)

    async def _atoken(self, identity: TokenIdentity) -> str:
        cached = self._tokens.get(identity)
        if cached is not None:
            return cached.value
        async with self._tokens.loop_lock(identity):
            cached = self._tokens.get(identity)
            if cached is None:
                cached = await self._arun(self._token_call(identity))
                await self._amask(cached.value)
                self._tokens.put(identity, cached)
                self._remember_project(cached, identity)
            return cached.value

    async def _arun(self, call: _Call[T]) -> T:
        attempt = 1
        while True:
            try:
                # The common case (AK/SK, a static token, no auth) inline: a trigger's every poll runs this.
                if call.auth and self._uses_iam_password:
                    return await self._aonce_with_token(call)
                return call.parse(await self.transport.send(self._prepared(call, self.settings.token)))
            except CfwError as err:
                # Before the retry's log line and the raise: a gateway echoes what it was sent.
                scrub_error(err, self.settings.secrets)
                delay = self._retry_for(call).delay(attempt, err)
                if delay is None:
                    raise
            await asyncio.sleep(delay)
            attempt += 1

    async def _aonce_with_token(self, call: _Call[T]) -> T:
        identity = self._token_identity(call.project_id)
        token = await self._atoken(identity)
        try:
            return call.parse(await self.transport.send(self._prepared(call, token)))
        except CfwAuthError as err:
            if err.http_status != 401:
                raise
            self._tokens.invalidate(identity, token)
            return call.parse(await self.transport.send(self._prepared(call, await self._atoken(identity))))
