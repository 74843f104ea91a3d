"""The only part that differs between the sync and async paths: putting bytes on the wire.

Sync: one ``requests.Session`` per client. Async: one ``aiohttp.ClientSession`` per event loop,
shared by every client on that loop (a triggerer runs many waits on one loop, and they should share
one connection pool), kept open while anyone holds a lease on it.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import aiohttp
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError
from yarl import URL

from airflow_provider_cfw.core import failures
from airflow_provider_cfw.core.errors import CfwConfigError, CfwConnectionError
from airflow_provider_cfw.core.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from airflow_provider_cfw.core.settings import CfwSettings

#: Connections one event loop keeps to CFW and IAM, whatever the number of waits on it.
DEFAULT_POOL_SIZE = 100
#: The official SDK's pool size for its sync client.
SYNC_POOL_SIZE = 10


#: aiohttp errors raised before a request could leave: no connection (refused, DNS, TLS handshake,
#: proxy refused) or a connect timeout (aiohttp >= 3.10).
_AIOHTTP_NOT_SENT: tuple[type[BaseException], ...] = (aiohttp.ClientConnectorError,) + (
    (aiohttp.ConnectionTimeoutError,) if hasattr(aiohttp, "ConnectionTimeoutError") else ()
)


def _never_sent(error: BaseException) -> bool:
    """Whether the request provably did not leave (so even a create may be sent again)."""
    if isinstance(error, (*_AIOHTTP_NOT_SENT, requests.ConnectTimeout)):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def _connection_error(
    request: HttpRequest, error: BaseException, settings: CfwSettings
) -> CfwConnectionError:
    # Never the exception's own text: it can quote request headers or a proxy's credentials.
    why = failures.describe(error, settings.timeout)
    via = failures.proxy_note(settings.proxy_for(request.url))
    return CfwConnectionError(
        f"{request.method} {request.url} failed{via}: {why}", request_sent=not _never_sent(error)
    )


class SyncTransport:
    """Sends requests with ``requests``; no redirects, finite timeouts, the connection's TLS and proxy.

    :param settings: the connection's settings.
    """

    def __init__(self, settings: CfwSettings) -> None:
        self._settings = settings
        self._session = requests.Session()
        # Proxies were resolved with the settings; no per-request environment or netrc lookups.
        self._session.trust_env = False
        adapter = HTTPAdapter(pool_connections=SYNC_POOL_SIZE, pool_maxsize=SYNC_POOL_SIZE, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def send(self, request: HttpRequest) -> HttpResponse:
        try:
            response = self._session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body or None,
                proxies=_requests_proxies(self._settings.proxy_for(request.url)),
                timeout=self._settings.timeout,
                verify=self._settings.verify,
                allow_redirects=False,
            )
            body = response.content
        except (requests.RequestException, OSError) as err:
            if isinstance(err, OSError) and isinstance(self._settings.verify, str):
                raise CfwConfigError("extra.verify", "the path of a readable CA bundle") from None
            raise _connection_error(request, err, self._settings) from None
        return HttpResponse(response.status_code, dict(response.headers), body)

    def close(self) -> None:
        self._session.close()


def _requests_proxies(proxy: str | None) -> dict[str, str]:
    return {"https": proxy, "http": proxy} if proxy else {}


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


@lru_cache(maxsize=8192)
def _wire_url(url: str) -> URL:
    # A trigger polls the same URL for its whole wait: parse it once, not every poll.
    return URL(url, encoded=True)


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
        session = _LEASED.get()
        if session is None or session.closed:
            # Not inside a lease (a one-off call): take one for this request, which then finds it.
            async with self._registry.lease():
                return await self.send(request)
        ssl_option = self._ssl if self._ssl is not None else await self._ssl_option()
        try:
            async with session.request(
                request.method,
                _wire_url(request.url),
                headers=request.headers,
                data=request.body or None,
                timeout=self._timeout,
                ssl=ssl_option,
                proxy=self._settings.proxy_for(request.url),
                allow_redirects=False,
            ) as response:
                body = await response.read()
                return HttpResponse(response.status, response.headers, body)
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise _connection_error(request, err, self._settings) from None
