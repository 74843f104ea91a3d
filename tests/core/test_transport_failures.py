"""Connection failures in words: the cause found under the wrappers, and never an exception's own text."""

from __future__ import annotations

import socket
import ssl

import aiohttp
import pytest
import requests
import urllib3.exceptions

from airflow_provider_cfw.core.sync_transport import REQUESTS_FAILURES as REQ
from airflow_provider_cfw.core.transport import AIOHTTP_FAILURES as AIO
from airflow_provider_cfw.core.transport_failures import FailureKinds, describe, proxy_note

SECRET = "s3cr3t-Pr0xy-pw"
TIMEOUT = (60.0, 120.0)


def wrapped(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


def requests_style(inner: BaseException) -> BaseException:
    """What requests raises: ConnectionError(MaxRetryError(reason=...)), each quoting a URL."""
    url = f"http://user:{SECRET}@proxy:3128"
    retry = urllib3.exceptions.MaxRetryError(None, url, reason=inner)  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(retry, f"via {url}")


def certificate_error() -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"certificate verify failed {SECRET}")
    error.verify_message = "certificate has expired"
    return error


CASES = [
    (requests_style(ConnectionRefusedError(111, "Connection refused")), REQ, "Connection refused"),
    (requests_style(socket.gaierror(-2, "Name or service not known")), REQ, "host name not resolved: Name or service not known"),
    (requests_style(wrapped(urllib3.exceptions.NameResolutionError("h", None, SECRET), socket.gaierror(-3, "Temporary failure in name resolution"))), REQ, "host name not resolved: Temporary failure in name resolution"),
    (requests_style(urllib3.exceptions.NameResolutionError("h", None, SECRET)), REQ, "host name not resolved: Name or service not known"),
    (wrapped(aiohttp.ClientConnectionError(f"proxy {SECRET}"), ConnectionResetError(104, "reset")), AIO, "Connection reset by peer"),
    (requests.ConnectTimeout(f"token {SECRET}"), REQ, "timed out after 60 s connecting"),
    (requests.ReadTimeout(f"token {SECRET}"), REQ, "timed out after 120 s waiting for the answer"),
    (requests.Timeout(f"token {SECRET}"), REQ, "timed out after 180 s"),
    (aiohttp.ConnectionTimeoutError(SECRET), AIO, "timed out after 60 s connecting"),
    (aiohttp.SocketTimeoutError(SECRET), AIO, "timed out after 120 s waiting for the answer"),
    (TimeoutError(SECRET), AIO, "timed out after 180 s"),
    (requests_style(certificate_error()), REQ, "TLS certificate verification failed (certificate has expired)"),
    (aiohttp.ServerDisconnectedError(SECRET), AIO, "the server closed the connection without answering"),
    (requests_style(urllib3.exceptions.ProtocolError(SECRET)), REQ, "the server closed the connection without answering"),
    (aiohttp.ClientPayloadError(SECRET), AIO, "the answer was cut off"),
    (requests.exceptions.ChunkedEncodingError(SECRET), REQ, "the answer was cut off"),
    (OSError(113, "No route to host", SECRET), REQ, "No route to host"),
    (RuntimeError(SECRET), AIO, "RuntimeError"),
]  # fmt: skip


@pytest.mark.parametrize(("error", "kinds", "expected"), CASES, ids=[c[2] for c in CASES])
def test_cause_named_without_the_exception_text(
    error: BaseException, kinds: FailureKinds, expected: str
) -> None:
    assert SECRET in repr(error) or SECRET in str(error) or SECRET in repr(error.__cause__)
    assert describe(error, TIMEOUT, kinds) == expected


def test_a_transport_names_only_its_own_kinds() -> None:
    # Read with requests' kinds, aiohttp's read timeout is just some timeout (it is a TimeoutError).
    assert describe(aiohttp.SocketTimeoutError(SECRET), TIMEOUT, REQ) == "timed out after 180 s"


def test_cycle_in_causes_terminates() -> None:
    a, b = ValueError("a"), KeyError("b")
    a.__context__, b.__context__ = b, a
    assert describe(a, TIMEOUT, AIO) == "ValueError"


def test_proxy_note_never_shows_credentials() -> None:
    assert proxy_note(f"http://user:{SECRET}@10.0.0.8:3128") == " through proxy 10.0.0.8:3128"
    assert proxy_note(None) == ""
