"""The CFW client: runs calls (:class:`~airflow_provider_cfw.core.calls.Call` values and plans), sync
or async, with authentication, project discovery and retries.

Both paths run the same steps built from the same pure pieces (the calls, the signer, the retry
policy, the caches); only the transport and the kind of lock differ.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp

from airflow_provider_cfw.core.calls import Call, Plan
from airflow_provider_cfw.core.errors import CfwAuthError, CfwError
from airflow_provider_cfw.core.http import HttpRequest
from airflow_provider_cfw.core.iam import (
    PROJECTS,
    TOKENS,
    IamToken,
    ProjectKey,
    TokenCache,
    TokenIdentity,
    projects_call,
    token_call,
)
from airflow_provider_cfw.core.retry import RetryPolicy
from airflow_provider_cfw.core.scrub import scrub_error
from airflow_provider_cfw.core.settings import AuthType, CfwSettings
from airflow_provider_cfw.core.signing import RequestSigner, request_signer
from airflow_provider_cfw.core.transport import SESSIONS, AsyncTransport
from airflow_provider_cfw.core.validation import validate_project_id

if TYPE_CHECKING:
    from airflow_provider_cfw.core.sync_transport import SyncTransport

T = TypeVar("T")


def _no_mask(secret: str) -> None:
    return None


async def _no_amask(secret: str) -> None:
    return None


class CfwClient:
    """Runs CFW and IAM calls for one set of :class:`CfwSettings`.

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
        # A wait runs one call at every poll: its signer (all of the signing but the time) is kept for
        # the next poll and goes with the client at the end of the wait. (Caches keyed by call across
        # the process kept every finished wait's until they filled.)
        self._last_signed: tuple[Call[Any], RequestSigner] | None = None

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

    def _token_call(self, identity: TokenIdentity) -> Call[IamToken]:
        s = self.settings
        return token_call(
            s.iam_endpoint,
            domain_name=s.domain_name or "",
            user_name=s.user_name or "",
            password=s.password or "",
            scope=identity.scope,
        )

    def _retry_for(self, call: Call[T]) -> RetryPolicy:
        return self._retry if call.idempotent else self._retry_once_only

    def _prepared(self, call: Call[T], token: str | None) -> HttpRequest:
        """The call's request, signed (AK/SK) or carrying the token, unless it is an unauthenticated one."""
        if not call.auth:
            return call.request
        aksk = self.settings.aksk
        if aksk is None:
            return call.request.with_headers({"X-Auth-Token": token or ""})
        last = self._last_signed
        if last is not None and last[0] is call:
            return last[1].sign()
        signer = request_signer(call.request, aksk, project_id=call.project_id)
        self._last_signed = (call, signer)
        return signer.sign()

    def _remember_project(self, token: IamToken, identity: TokenIdentity) -> None:
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

    def run(self, work: Call[T] | Plan[T]) -> T:
        """Run a call, or every call of a plan, in this thread; the parsed answer."""
        if isinstance(work, Call):
            return self._run(work)
        try:
            call = next(work)
            while True:
                call = work.send(self._run(call))
        except StopIteration as done:
            result: T = done.value
            return result

    def project_id(self, project_id: str | None = None) -> str:
        """``project_id`` checked, or the connection's, or the one discovered for its region."""
        known = self._known_project(project_id)
        if known is not None:
            return known
        if self._uses_iam_password:
            identity = self._token_identity(None)
            self._token(identity)
            return self._projects[self._project_key()]
        project = self._run(projects_call(self.settings.iam_endpoint, self.settings.region or ""))
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

    def _run(self, call: Call[T]) -> T:
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

    def _once_with_token(self, call: Call[T]) -> T:
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

    async def arun(self, work: Call[T] | Plan[T]) -> T:
        """The natively async :meth:`run`: no thread, one pool per event loop."""
        if isinstance(work, Call):
            return await self._arun(work)
        try:
            call = next(work)
            while True:
                call = work.send(await self._arun(call))
        except StopIteration as done:
            result: T = done.value
            return result

    async def aproject_id(self, project_id: str | None = None) -> str:
        """The natively async :meth:`project_id`."""
        known = self._known_project(project_id)
        if known is not None:
            return known
        if self._uses_iam_password:
            await self._atoken(self._token_identity(None))
            return self._projects[self._project_key()]
        project = await self._arun(projects_call(self.settings.iam_endpoint, self.settings.region or ""))
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

    async def _arun(self, call: Call[T]) -> T:
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

    async def _aonce_with_token(self, call: Call[T]) -> T:
        identity = self._token_identity(call.project_id)
        token = await self._atoken(identity)
        try:
            return call.parse(await self.transport.send(self._prepared(call, token)))
        except CfwAuthError as err:
            if err.http_status != 401:
                raise
            self._tokens.invalidate(identity, token)
            return call.parse(await self.transport.send(self._prepared(call, await self._atoken(identity))))
