"""Transport-neutral request and response values.

Everything between "the user asked for a job" and "bytes go on the wire" works on these two
values, so the requests and aiohttp transports differ only in how they send one and read the other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from urllib.parse import quote, urlsplit

#: Whole strings of RFC 3986 unreserved characters, which encoding leaves as they are.
_all_unreserved = re.compile(r"[A-Za-z0-9._~-]*").fullmatch


def rfc3986_encode(value: str) -> str:
    """Percent-encode everything but RFC 3986 unreserved characters (the SDK signer's rule)."""
    # Ids, project ids and path words are unreserved already: one C call, not quote's dozen.
    return value if _all_unreserved(value) else quote(value, safe="~")


def encode_query(params: Mapping[str, object] | None) -> str:
    """Build the query string exactly as the signer canonicalises it, so what is sent is what is signed.

    Pairs are sorted by key then value; list values expand to repeated keys and booleans are
    rendered ``true``/``false``, like the official SDK.
    """
    if not params:
        return ""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            text = str(item).lower() if isinstance(item, bool) else str(item)
            pairs.append((key, text))
    pairs.sort()
    return "&".join(f"{rfc3986_encode(k)}={rfc3986_encode(v)}" for k, v in pairs)


def _frozen_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(headers))


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request, fully built (and, once signed, ready to send).

    :param method: HTTP method, upper case.
    :param url: absolute URL, query included, already encoded.
    :param headers: header names as they will be sent.
    :param body: exact body bytes.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", self.method.upper())
        object.__setattr__(self, "headers", _frozen_headers(self.headers))

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @property
    def query(self) -> str:
        return urlsplit(self.url).query

    @property
    def netloc(self) -> str:
        return urlsplit(self.url).netloc

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    def with_headers(self, extra: Mapping[str, str]) -> HttpRequest:
        """A copy with ``extra`` headers set (replacing any of the same name, case-insensitively)."""
        lowered = {k.lower() for k in extra}
        merged = {k: v for k, v in self.headers.items() if k.lower() not in lowered}
        merged.update(extra)
        return replace(self, headers=merged)

    def __repr__(self) -> str:
        # Headers carry signatures and tokens: never part of a repr.
        return f"HttpRequest({self.method} {self.url})"


@dataclass(frozen=True)
class HttpResponse:
    """What a transport read back: status, headers and the whole body.

    :param status: HTTP status code.
    :param headers: response headers, looked up by lower-case name: the transport's own
        case-insensitive mapping (aiohttp's and requests' are), taken as it is rather than copied on
        every answer. Build a response from any other mapping with :meth:`of`.
    :param body: raw body bytes.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes

    @classmethod
    def of(cls, status: int, headers: Mapping[str, str], body: bytes) -> HttpResponse:
        """A response from headers in any case (names are lower-cased into a read-only copy)."""
        return cls(status, MappingProxyType({k.lower(): v for k, v in headers.items()}), body)

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")

    def __repr__(self) -> str:
        return f"HttpResponse({self.status}, {len(self.body)} bytes)"
