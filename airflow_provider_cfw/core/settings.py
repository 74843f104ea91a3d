"""A connection's fields, validated once into an immutable :class:`CfwSettings`.

Everything after this trusts the settings. Every error names the connection field at fault.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from enum import StrEnum
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment  # type: ignore[attr-defined]

from airflow_provider_cfw.core import endpoints
from airflow_provider_cfw.core.errors import CfwConfigError
from airflow_provider_cfw.core.signing import AkSkCredentials
from airflow_provider_cfw.core.validation import validate_endpoint, validate_project_id, validate_region

log = logging.getLogger(__name__)

#: The official SDK's defaults: connect 60 s, read 120 s.
DEFAULT_TIMEOUT = (60.0, 120.0)
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_BACKOFF = 1.0
_MAX_RETRIES_LIMIT = 20
#: A login this long is treated as a credential too (an AK is 20 characters, and IAM's default password
#: policy asks for 8); a shorter one is an ordinary user name, and scrubbing it would blank out words.
MIN_SECRET_LOGIN_LENGTH = 8


#: Every extra the settings read; any other is reported (see :meth:`_Fields.warn_unknown_keys`).
EXTRA_KEYS = (
    "auth_type",
    "region",
    "project_id",
    "domain_name",
    "security_token",
    "endpoint",
    "iam_endpoint",
    "verify",
    "proxy",
    "timeout",
    "max_retries",
    "retry_backoff",
    "max_calls_per_second",
)


class AuthType(StrEnum):
    AKSK = "aksk"
    PASSWORD = "password"  # noqa: S105 - an auth mode's name
    TOKEN = "token"  # noqa: S105 - an auth mode's name


@dataclass(frozen=True)
class CfwSettings:
    """Validated, immutable connection settings. Secrets never appear in the repr.

    :param conn_id: the Airflow connection id they came from.
    :param auth_type: how requests are authenticated.
    :param endpoint: CFW base URL, without a trailing slash.
    :param iam_endpoint: IAM base URL, without a trailing slash.
    :param region: the region, if known.
    :param project_id: the project id, if known (else discovered).
    :param aksk: AK/SK (and security token) for ``aksk``.
    :param user_name: IAM user for ``password``.
    :param domain_name: IAM account (domain) for ``password``.
    :param password: the IAM user's password.
    :param token: a ready IAM token for ``token``.
    :param verify: TLS verification: True, False or a CA bundle path.
    :param proxy: the connection's proxy URL, for every call.
    :param proxy_routes: ``(base URL, proxy or None)`` for the CFW and IAM endpoints: the ``proxy``
        extra, else the standard proxy environment variables (``no_proxy`` honoured), resolved once
        here so that no request looks them up again.
    :param timeout: (connect, read) seconds.
    :param max_retries: retries after the first try for transient failures.
    :param retry_backoff: the first retry's base wait in seconds (doubles each time, with jitter).
    :param max_calls_per_second: at most this many calls a second from this process with this
        credential, region and endpoint (:mod:`~airflow_provider_cfw.core.rate_limit`); ``None``: as many
        as the gateway allows, learnt from its throttling answers.
    """

    conn_id: str
    auth_type: AuthType
    endpoint: str
    iam_endpoint: str
    region: str | None = None
    project_id: str | None = None
    aksk: AkSkCredentials | None = None
    user_name: str | None = field(default=None, repr=False)
    domain_name: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    verify: bool | str = True
    proxy: str | None = None
    proxy_routes: tuple[tuple[str, str | None], ...] = ()
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_backoff: float = DEFAULT_RETRY_BACKOFF
    max_calls_per_second: float | None = None

    def proxy_for(self, url: str) -> str | None:
        """The proxy for a request to ``url``: the route of the endpoint it starts with, if any."""
        for base, proxy in self.proxy_routes:
            if url.startswith(base):
                return proxy
        return self.proxy

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every credential value these settings hold, whatever field it was typed into: for the log
        masker and for scrubbing error text (:mod:`~airflow_provider_cfw.core.scrub`).

        The password field's value, the security token and, when it is at least
        :data:`MIN_SECRET_LOGIN_LENGTH` characters long, the login too: an SK typed into *Login* (AK
        and SK swapped) or a password typed into the user name is echoed back by the gateway.
        """
        values = [self.password, self.token]
        login = self.user_name
        if self.aksk is not None:
            values += [self.aksk.sk, self.aksk.security_token]
            login = self.aksk.ak
        if login is not None and len(login) >= MIN_SECRET_LOGIN_LENGTH:
            values.append(login)
        return tuple(v for v in values if v)

    @classmethod
    def from_connection(
        cls,
        conn_id: str,
        *,
        login: str | None,
        password: str | None,
        extra: Mapping[str, Any],
        region: str | None = None,
        project_id: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> CfwSettings:
        """Validate a connection's fields; hook arguments (keyword-only) take precedence over extras."""
        fields = _Fields(conn_id, extra)
        fields.warn_unknown_keys()
        auth_type = fields.auth_type()
        region_field = "region" if region else f"connection {conn_id!r} extra.region"
        region = validate_region(region, "region") if region else fields.validated("region", validate_region)
        project_id = (
            validate_project_id(project_id, "project_id")
            if project_id
            else fields.validated("project_id", validate_project_id)
        )
        endpoint = fields.validated("endpoint", validate_endpoint)
        if endpoint is None:
            if region is None:
                raise fields.error("region", "a region such as 'cn-north-4' (or an 'endpoint' extra)")
            endpoint = endpoints.cfw_endpoint(region, region_field)
        elif region is None and project_id is None:
            # Else the project is looked up by the name '' (at the global IAM when no iam_endpoint is set).
            raise fields.error(
                "extra.region", "a region such as 'cn-north-4' (or a 'project_id') alongside 'endpoint'"
            )
        iam = fields.validated("iam_endpoint", validate_endpoint) or endpoints.iam_endpoint(region)
        proxy = fields.validated("proxy", validate_endpoint)
        common: dict[str, Any] = {
            "conn_id": conn_id,
            "auth_type": auth_type,
            "endpoint": endpoint,
            "iam_endpoint": iam,
            "region": region,
            "project_id": project_id,
            "verify": fields.verify(),
            "proxy": proxy,
            "proxy_routes": tuple((base, proxy or _environment_proxy(base)) for base in (endpoint, iam)),
            "timeout": _timeout(fields, timeout),
            "max_retries": _max_retries(fields, max_retries),
            "retry_backoff": fields.number("retry_backoff", DEFAULT_RETRY_BACKOFF, minimum=0.0),
            "max_calls_per_second": fields.optional_number("max_calls_per_second", above=0.0),
        }
        if auth_type is AuthType.AKSK:
            ak = fields.required_text(login, "login", "the Access Key (AK)")
            sk = fields.required_text(password, "password", "the Secret Key (SK)")
            token = fields.optional_text("security_token")
            return cls(**common, aksk=AkSkCredentials(ak, sk, token))
        if auth_type is AuthType.PASSWORD:
            return cls(
                **common,
                user_name=fields.required_text(login, "login", "the IAM user name"),
                domain_name=fields.required_text(
                    extra.get("domain_name"), "extra.domain_name", "the account name"
                ),
                password=fields.required_text(password, "password", "the IAM user's password"),
            )
        return cls(**common, token=fields.required_text(password, "password", "an IAM token"))


class _Fields:
    """Reads one connection's extras, raising errors that name the connection and the field."""

    def __init__(self, conn_id: str, extra: Mapping[str, Any]) -> None:
        self.conn_id = conn_id
        self.extra = extra

    def warn_unknown_keys(self) -> None:
        """One warning per extra the provider does not read (a typo such as ``regoin``), naming the
        closest known key. Settings are built once per connection lookup, so this is not per poll."""
        for key in sorted(set(self.extra) - set(EXTRA_KEYS), key=str):
            close = get_close_matches(str(key), EXTRA_KEYS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            log.warning(
                "connection %r extra.%s: not a key this provider reads, ignored (expected one of %s)%s",
                self.conn_id,
                key,
                ", ".join(EXTRA_KEYS),
                hint,
            )

    def error(self, name: str, expected: str, got: object = None) -> CfwConfigError:
        shown = None if got is None else repr(got)[:80]
        return CfwConfigError(f"connection {self.conn_id!r} {name}", expected, got=shown)

    def auth_type(self) -> AuthType:
        raw = self.extra.get("auth_type") or AuthType.AKSK.value
        try:
            return AuthType(str(raw).strip().lower())
        except ValueError:
            raise self.error("extra.auth_type", "one of 'aksk', 'password', 'token'", raw) from None

    def validated(self, name: str, validate: Callable[[object, str], str]) -> str | None:
        """An optional extra run through one of the validators, its error renamed to the extra."""
        raw = self.extra.get(name)
        if raw in (None, ""):
            return None
        try:
            return validate(raw, name)
        except CfwConfigError as err:
            # A URL may carry user:password@: show the value only where it cannot.
            got = None if name.endswith(("endpoint", "proxy")) else repr(raw)[:80]
            raise CfwConfigError(f"connection {self.conn_id!r} extra.{name}", err.expected, got=got) from None

    def verify(self) -> bool | str:
        raw = self.extra.get("verify", True)
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip()
        if text.lower() in ("true", "1", "yes", ""):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        # The file itself is read when the TLS context is built (off the event loop), not here.
        return text

    def number(self, name: str, default: float, *, minimum: float, above: bool = False) -> float:
        raw = self.extra.get(name)
        if raw in (None, ""):
            return default
        try:
            value = float(raw)
        except (TypeError, ValueError):
            value = float("nan")
        if not (value > minimum if above else value >= minimum):
            bound = f"greater than {minimum}" if above else f"at least {minimum}"
            raise self.error(f"extra.{name}", f"a number {bound}", raw)
        return value

    def optional_number(self, name: str, *, above: float) -> float | None:
        """An optional number greater than ``above``; ``None`` when the extra is absent or empty."""
        if self.extra.get(name) in (None, ""):
            return None
        if isinstance(self.extra[name], bool):
            raise self.error(f"extra.{name}", f"a number greater than {above:g}", self.extra[name])
        return self.number(name, above, minimum=above, above=True)

    def optional_text(self, name: str) -> str | None:
        raw = self.extra.get(name)
        if raw in (None, ""):
            return None
        if not isinstance(raw, str):
            raise self.error(f"extra.{name}", "a string")
        if any(ord(c) < 32 for c in raw):
            # It becomes a header: a stray newline would be refused by the HTTP library, quoting it.
            raise self.error(f"extra.{name}", "a string without control characters")
        return raw

    def required_text(self, raw: object, name: str, expected: str) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise self.error(name, expected + " (it is empty)")
        if any(ord(c) < 32 for c in raw):
            raise self.error(name, expected + " without control characters")
        return raw


#: The variables urllib, requests and aiohttp read for proxies (urllib also takes any case).
_PROXY_VARIABLES = tuple(
    spelling
    for name in ("https_proxy", "http_proxy", "all_proxy", "no_proxy", "request_method")
    for spelling in (name, name.upper())
)


def _environment_proxy(url: str) -> str | None:
    """What ``requests`` and ``aiohttp(trust_env=True)`` would pick for ``url`` from the environment.

    urllib scans the whole environment for it, twice; every trigger builds settings, so the answer is
    kept for as long as the proxy variables read the same.
    """
    return _proxy_for(url, tuple(os.environ.get(name) for name in _PROXY_VARIABLES))


@lru_cache(maxsize=64)
def _proxy_for(url: str, _variables: tuple[str | None, ...]) -> str | None:
    parts = urlsplit(url)
    proxies = getproxies_environment()
    if proxy_bypass_environment(parts.hostname or "", proxies):
        return None
    return proxies.get(parts.scheme)


def _timeout(fields: _Fields, override: float | None) -> tuple[float, float]:
    if override is not None:
        if not isinstance(override, int | float) or isinstance(override, bool) or override <= 0:
            raise CfwConfigError("timeout", "a number of seconds greater than 0", got=repr(override))
        return (float(override), float(override))
    if fields.extra.get("timeout") in (None, ""):
        return DEFAULT_TIMEOUT
    seconds = fields.number("timeout", 0.0, minimum=0.0, above=True)
    return (seconds, seconds)


def _max_retries(fields: _Fields, override: int | None) -> int:
    raw: object = override if override is not None else fields.extra.get("max_retries")
    name = "max_retries" if override is not None else f"connection {fields.conn_id!r} extra.max_retries"
    if raw in (None, ""):
        return DEFAULT_MAX_RETRIES
    try:
        value = int(str(raw))
    except ValueError:
        value = -1
    if isinstance(raw, bool) or not 0 <= value <= _MAX_RETRIES_LIMIT:
        raise CfwConfigError(name, f"a whole number from 0 to {_MAX_RETRIES_LIMIT}", got=repr(raw))
    return value
