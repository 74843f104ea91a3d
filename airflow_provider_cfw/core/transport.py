"""The async transport: aiohttp on one shared ``aiohttp.ClientSession`` per event loop.

The session is shared by every client on that loop (a triggerer runs many waits on one loop, and they
should share one connection pool) and kept open while anyone holds a lease on it. Nothing here loads
``requests``: the sync transport (:mod:`~airflow_provider_cfw.core.sync_transport`) loads when a
worker first calls synchronously.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
from yarl import URL

from airflow_provider_cfw.core.errors import CfwConfigError
from airflow_provider_cfw.core.http import HttpRequest, HttpResponse
from airflow_provider_cfw.core.rate_limit import LIMITERS, MAX_THROTTLED_RETRIES, throttle_of
from airflow_provider_cfw.core.transport_failures import FailureKinds, connection_error

if TYPE_CHECKING:
    from airflow_provider_cfw.core.settings import CfwSettings

#: Connections one event loop keeps to CFW and IAM, whatever the number of waits on it.
DEFAULT_POOL_SIZE = 100

#: aiohttp errors raised before a request could leave: no connection (refused, DNS, TLS handshake,
#: proxy refused) or a connect timeout.
_NOT_SENT: tuple[type[BaseException], ...] = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)

AIOHTTP_FAILURES = FailureKinds(
    connect_timeout=(aiohttp.ConnectionTimeoutError,),
    read_timeout=(aiohttp.SocketTimeoutError,),
    disconnected=(aiohttp.ServerDisconnectedError,),
    cut_off=(aiohttp.ClientPayloadError,),
)


_SSL_CONTEXTS: dict[str, ssl.SSLContext] = {}


def _ssl_context(cafile: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError):
        raise CfwConfigError("extra.verify", "the path of a readable CA bundle", got=repr(cafile)) from None


@dataclass
class _Lease:
    session: aiohttp.ClientSession
    holders: int = 0


#: The session of the lease the current task holds, so its requests need no lease of their own.
_LEASED: ContextVar[aiohttp.ClientSession | None] = ContextVar("cfw_leased_session", default=None)


class SessionRegistry:
    """One shared ``aiohttp.ClientSession`` per event loop, refcounted by leases."""

    def __init__(self, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.pool_size = pool_size
        self._leases: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Lease] = (
            weakref.WeakKeyDictionary()
        )

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[aiohttp.ClientSession]:
        loop = asyncio.get_running_loop()
        entry = self._leases.get(loop)
        if entry is None or entry.session.closed:
            connector = aiohttp.TCPConnector(limit=self.pool_size, limit_per_host=0, keepalive_timeout=60)
            # No trust_env: proxies come resolved in the settings. With it, aiohttp looks up netrc and
            # the proxy environment in a worker thread on every request, two thread hops per poll.
            entry = _Lease(aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=True))
            self._leases[loop] = entry
        entry.holders += 1
        outer = _LEASED.get()
        _LEASED.set(entry.session)
        try:
            yield entry.session
        finally:
            # Not reset(token): a generator abandoned by its consumer is closed by asyncio in another
            # task (another context), where reset raises and the lease would never be given back.
            _LEASED.set(outer)
            entry.holders -= 1
            if entry.holders == 0 and self._leases.get(loop) is entry:
                del self._leases[loop]
                await entry.session.close()


#: Process-wide: every async client on a loop draws on the same pool.
SESSIONS = SessionRegistry()


class AsyncTransport:
    """Sends requests with aiohttp on the loop's shared session.

    :param settings: the connection's settings.
    :param registry: where the loop's shared session comes from.
    """

    def __init__(self, settings: CfwSettings, registry: SessionRegistry = SESSIONS) -> None:
        self._settings = settings
        self._registry = registry
        connect, read = settings.timeout
        # (connect, read) as requests applies it: each connection attempt, then each wait for the answer's
        # bytes, is bounded. No overall limit on top: it would cost every poll one more timer on the loop,
        # and the two bounds already end every request that stalls.
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)
        verify = settings.verify
        self._ssl: ssl.SSLContext | bool | None = (
            verify if isinstance(verify, bool) else _SSL_CONTEXTS.get(verify)
        )
        self._last_url: tuple[str, URL] | None = None
        # The process's limiters of this credential's CFW and IAM endpoints, shared with every other client.
        self._limiters = LIMITERS.for_settings(settings)

    def _wire_url(self, url: str) -> URL:
        # A trigger's client (and transport) polls one URL for its whole wait: parse it once, keep it for
        # as long as the wait.
        last = self._last_url
        if last is None or last[0] != url:
            last = self._last_url = (url, URL(url, encoded=True))
        return last[1]

    async def _ssl_option(self) -> ssl.SSLContext | bool:
        if self._ssl is None:
            verify = str(self._settings.verify)
            context = _SSL_CONTEXTS.get(verify)
            if context is None:
                # Reading a CA bundle is file I/O: keep it off the event loop, once per path.
                context = _SSL_CONTEXTS.setdefault(verify, await asyncio.to_thread(_ssl_context, verify))
            self._ssl = context
        return self._ssl

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send in the turn the identity's rate limiter gives; a throttled answer is sent again in turn
        (:mod:`~airflow_provider_cfw.core.rate_limit`). Inline rather than a wrapper: every poll runs it."""
        session = _LEASED.get()
        if session is None or session.closed:
            # Not inside a lease (a one-off call): take one for this request, which then finds it.
            async with self._registry.lease():
                return await self.send(request)
        limiter = None
        for base, candidate in self._limiters:
            if request.url.startswith(base):
                limiter = candidate
                break
        throttled = 0
        while True:
            sent_at = 0.0
            if limiter is not None:
                sent_at, delay, generation = limiter.take_turn()
                if delay > 0:
                    sent_at = await limiter.wait_turn(delay, generation)
            ssl_option = self._ssl if self._ssl is not None else await self._ssl_option()
            try:
                async with session.request(
                    request.method,
                    self._wire_url(request.url),
                    headers=request.headers,
                    data=request.body or None,
                    timeout=self._timeout,
                    ssl=ssl_option,
                    proxy=self._settings.proxy_for(request.url),
                    allow_redirects=False,
                ) as response:
                    answer = HttpResponse(response.status, response.headers, await response.read())
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                sent = not isinstance(err, _NOT_SENT)
                raise connection_error(request, err, self._settings, AIOHTTP_FAILURES, sent=sent) from None
            if limiter is None or answer.status < 400:
                return answer
            throttle = throttle_of(answer)
            if throttle is None or throttled == MAX_THROTTLED_RETRIES:
                return answer
            limiter.report(sent_at, throttle)
            throttled += 1
