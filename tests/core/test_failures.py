"""Connection failures in words: the cause found under the wrappers, and never an exception's own text."""

from __future__ import annotations

import socket
import ssl

import aiohttp
import pytest
import requests
import urllib3.exceptions

from airflow_provider_cfw.core.failures import describe, proxy_note

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
    (requests_style(ConnectionRefusedError(111, "Connection refused")), "Connection refused"),
    (requests_style(socket.gaierror(-2, "Name or service not known")), "host name not resolved: Name or service not known"),
    (requests_style(wrapped(urllib3.exceptions.NameResolutionError("h", None, SECRET), socket.gaierror(-3, "Temporary failure in name resolution"))), "host name not resolved: Temporary failure in name resolution"),
    (wrapped(aiohttp.ClientConnectionError(f"proxy {SECRET}"), ConnectionResetError(104, "reset")), "Connection reset by peer"),
    (requests.ConnectTimeout(f"token {SECRET}"), "timed out after 60 s connecting"),
    (requests.ReadTimeout(f"token {SECRET}"), "timed out after 120 s waiting for the answer"),
    (aiohttp.ConnectionTimeoutError(SECRET), "timed out after 60 s connecting"),
    (aiohttp.SocketTimeoutError(SECRET), "timed out after 120 s waiting for the answer"),
    (TimeoutError(SECRET), "timed out after 180 s"),
    (requests_style(certificate_error()), "TLS certificate verification failed (certificate has expired)"),
    (aiohttp.ServerDisconnectedError(SECRET), "the server closed the connection without answering"),
    (aiohttp.ClientPayloadError(SECRET), "the answer was cut off"),
    (OSError(113, "No route to host", SECRET), "No route to host"),
    (RuntimeError(SECRET), "RuntimeError"),
]  # fmt: skip


@pytest.mark.parametrize(("error", "expected"), CASES, ids=[c[1] for c in CASES])
def test_cause_named_without_the_exception_text(error: BaseException, expected: str) -> None:
    assert SECRET in repr(error) or SECRET in str(error) or SECRET in repr(error.__cause__)
    assert describe(error, TIMEOUT) == expected


def test_cycle_in_causes_terminates() -> None:
    a, b = ValueError("a"), KeyError("b")
    a.__context__, b.__context__ = b, a
    assert describe(a, TIMEOUT) == "ValueError"


def test_proxy_note_never_shows_credentials() -> None:
    assert proxy_note(f"http://user:{SECRET}@10.0.0.8:3128") == " through proxy 10.0.0.8:3128"
    assert proxy_note(None) == ""
