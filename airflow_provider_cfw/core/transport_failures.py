"""Why a request got no answer, in words a user can act on and with no secret in them.

``requests`` and ``aiohttp`` bury the cause (refused, no such host, a timeout, a bad certificate)
under layers of wrappers whose own text may quote a proxy URL with its password or a request
header. This reads the chain of causes and names the first known one, using only fixed phrases, OS
error strings and the TLS verifier's message: never an exception's own text.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from airflow_provider_cfw.core.errors import CfwConnectionError

if TYPE_CHECKING:
    from airflow_provider_cfw.core.http import HttpRequest
    from airflow_provider_cfw.core.settings import CfwSettings

#: How deep the chain of causes is searched; real chains are 3 to 5 deep.
_MAX_CAUSES = 32

Kinds = tuple[type[BaseException], ...]


@dataclass(frozen=True)
class FailureKinds:
    """A transport library's own exception types for the causes :func:`describe` names (the standard
    library's, such as ``ConnectionRefusedError``, are known to it already). Each transport module
    declares its own, so that the async path never loads ``requests`` and the sync path's errors are
    read the same way.

    :param not_resolved: the host name did not resolve.
    :param connect_timeout: the connect timeout ran out.
    :param read_timeout: the read timeout ran out.
    :param timeout: some other timeout ran out.
    :param disconnected: the server closed the connection without answering.
    :param cut_off: the answer was cut off.
    """

    not_resolved: Kinds = ()
    connect_timeout: Kinds = ()
    read_timeout: Kinds = ()
    timeout: Kinds = ()
    disconnected: Kinds = ()
    cut_off: Kinds = ()


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps, outermost first."""
    seen: set[int] = set()
    pending = [error]
    while pending and len(seen) < _MAX_CAUSES:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        # urllib3's MaxRetryError keeps the cause in .reason; requests wraps it in args[0];
        # aiohttp's connector errors keep theirs in .os_error / .certificate_error.
        for name in ("__cause__", "__context__", "reason", "os_error", "certificate_error"):
            inner = getattr(current, name, None)
            if isinstance(inner, BaseException):
                pending.append(inner)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))


def _first(causes: list[BaseException], kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    return next((c for c in causes if isinstance(c, kinds)), None)


def _seconds(value: float) -> str:
    return f"{value:g} s"


def describe(error: BaseException, timeout: tuple[float, float], kinds: FailureKinds) -> str:
    """One phrase for why ``error`` happened, e.g. ``Connection refused`` or ``timed out after 60 s``.

    :param error: what the transport raised.
    :param timeout: the (connect, read) timeouts in force, to say which one ran out.
    :param kinds: the transport's own exception types.
    """
    causes = list(_causes(error))
    connect, read = timeout
    # aiohttp's certificate error is itself an ssl.CertificateError, without the verifier's message.
    verification = [c for c in causes if isinstance(c, ssl.SSLCertVerificationError)]
    if verification:
        reason = next((m for c in verification if (m := getattr(c, "verify_message", None))), None)
        return f"TLS certificate verification failed ({reason or 'no reason given'})"
    tls = next((c for c in causes if isinstance(c, ssl.SSLError) and getattr(c, "reason", None)), None)
    if tls is not None:
        return f"TLS error ({getattr(tls, 'reason', '')})"
    # The resolver's own words ("Temporary failure in name resolution" is not "no such host").
    resolver = _first(causes, (socket.gaierror,))
    if resolver is not None or _first(causes, kinds.not_resolved) is not None:
        text = resolver.strerror if isinstance(resolver, OSError) else None
        return f"host name not resolved: {text or 'Name or service not known'}"
    for kind, phrase in (
        (ConnectionRefusedError, "Connection refused"),
        (ConnectionResetError, "Connection reset by peer"),
    ):
        if _first(causes, (kind,)) is not None:
            return phrase
    if _first(causes, kinds.connect_timeout) is not None:
        return f"timed out after {_seconds(connect)} connecting"
    if _first(causes, kinds.read_timeout) is not None:
        return f"timed out after {_seconds(read)} waiting for the answer"
    if _first(causes, (TimeoutError, *kinds.timeout)) is not None:
        return f"timed out after {_seconds(connect + read)}"
    if _first(causes, kinds.disconnected) is not None:
        return "the server closed the connection without answering"
    if _first(causes, kinds.cut_off) is not None:
        return "the answer was cut off"
    os_error = next((c for c in causes if isinstance(c, OSError) and c.strerror), None)
    if isinstance(os_error, OSError):
        return str(os_error.strerror)
    return type(error).__name__


def proxy_note(proxy: str | None) -> str:
    """`` through proxy host:port`` (never the proxy's credentials), or nothing."""
    if not proxy:
        return ""
    parts = urlsplit(proxy)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f" through proxy {parts.hostname or '?'}{port}"


def connection_error(
    request: HttpRequest, error: BaseException, settings: CfwSettings, kinds: FailureKinds, *, sent: bool
) -> CfwConnectionError:
    """The error a client raises when ``request`` got no answer.

    :param request: what was being sent.
    :param error: what the transport raised.
    :param settings: the connection's settings (timeouts, proxy).
    :param kinds: the transport's own exception types.
    :param sent: whether the request may have reached the service (then a create is not sent again).
    """
    # Never the exception's own text: it can quote request headers or a proxy's credentials.
    why = describe(error, settings.timeout, kinds)
    via = proxy_note(settings.proxy_for(request.url))
    return CfwConnectionError(f"{request.method} {request.url} failed{via}: {why}", request_sent=sent)
