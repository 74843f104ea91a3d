"""The sync transport: ``requests``, one session per client.

Loaded only when a client first calls synchronously (a worker): a triggerer, which calls only
asynchronously, never imports ``requests``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from airflow_provider_cfw.core.errors import CfwConfigError
from airflow_provider_cfw.core.http import HttpRequest, HttpResponse
from airflow_provider_cfw.core.rate_limit import LIMITERS
from airflow_provider_cfw.core.transport_failures import FailureKinds, connection_error

if TYPE_CHECKING:
    from airflow_provider_cfw.core.settings import CfwSettings

#: The official SDK's pool size for its sync client.
SYNC_POOL_SIZE = 10

REQUESTS_FAILURES = FailureKinds(
    not_resolved=(urllib3.exceptions.NameResolutionError,),
    connect_timeout=(requests.ConnectTimeout,),
    read_timeout=(requests.ReadTimeout,),
    timeout=(requests.Timeout, urllib3.exceptions.TimeoutError),
    disconnected=(urllib3.exceptions.ProtocolError,),
    cut_off=(requests.exceptions.ChunkedEncodingError,),
)


def _never_sent(error: BaseException) -> bool:
    """Whether the request provably did not leave (so even a create may be sent again)."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectionError) and isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


def _requests_proxies(proxy: str | None) -> dict[str, str]:
    return {"https": proxy, "http": proxy} if proxy else {}


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
        # The same limiters as the process's async clients of this credential (see rate_limit).
        self._limiters = LIMITERS.for_settings(settings)

    def send(self, request: HttpRequest) -> HttpResponse:
        """Send in the turn the identity's rate limiter gives (throttled answers sent again, in turn)."""
        for base, limiter in self._limiters:
            if request.url.startswith(base):
                return limiter.send_sync(self._send, request)
        return self._send(request)

    def _send(self, request: HttpRequest) -> HttpResponse:
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
            sent = not _never_sent(err)
            raise connection_error(request, err, self._settings, REQUESTS_FAILURES, sent=sent) from None
        return HttpResponse(response.status_code, response.headers, body)

    def close(self) -> None:
        self._session.close()
