"""IAM: the password token and project discovery as calls, and the process-wide caches of both.

The calls are pure pieces (request builders and parsers); the caches are read and filled by the
sync and the async paths alike, each bringing its own kind of lock (a thread lock must never be
waited on inside an event loop), so concurrent callers of one kind share one refresh.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from pendulum import DateTime

from airflow_provider_cfw.core import endpoints
from airflow_provider_cfw.core.calls import JSON_HEADERS, Call, json_body
from airflow_provider_cfw.core.errors import CfwApiError, CfwResponseError
from airflow_provider_cfw.core.http import HttpRequest, HttpResponse, encode_query
from airflow_provider_cfw.core.models import parse_cfw_time

# ---- IAM: password token ----------------------------------------------------------------------


@dataclass(frozen=True)
class IamToken:
    """A project-scoped IAM token.

    :param value: the token (``X-Subject-Token``); a secret.
    :param expires_at: when IAM says it expires.
    :param project_id: the project it is scoped to.
    """

    value: str = field(repr=False)
    expires_at: DateTime
    project_id: str | None


def token_request(
    iam_endpoint: str,
    *,
    domain_name: str,
    user_name: str,
    password: str,
    project_id: str | None,
    project_name: str | None,
) -> HttpRequest:
    scope = {"id": project_id} if project_id else {"name": project_name}
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"domain": {"name": domain_name}, "name": user_name, "password": password}
                },
            },
            "scope": {"project": scope},
        }
    }
    return HttpRequest(
        "POST",
        f"{iam_endpoint}/v3/auth/tokens?{encode_query({'nocatalog': True})}",
        JSON_HEADERS,
        json.dumps(body).encode("utf-8"),
    )


def parse_token_response(response: HttpResponse) -> IamToken:
    payload = json_body(response)
    value = response.headers.get("x-subject-token")
    token = payload.get("token")
    if not value or not isinstance(token, dict):
        raise CfwResponseError(
            response.status, None, "IAM answered without a token", request_id=response.request_id
        )
    try:
        expires_at = parse_cfw_time(token.get("expires_at"))
    except ValueError:
        expires_at = None
    if expires_at is None:
        raise CfwResponseError(
            response.status, None, "IAM token has no valid expires_at", request_id=response.request_id
        )
    project = token.get("project")
    project_id = project.get("id") if isinstance(project, dict) else None
    return IamToken(value=value, expires_at=expires_at, project_id=project_id)


# ---- IAM: project id by region ------------------------------------------------------------------


def projects_request(iam_endpoint: str, region: str) -> HttpRequest:
    return HttpRequest("GET", f"{iam_endpoint}/v3/projects?{encode_query({'name': region})}", JSON_HEADERS)


def parse_projects_response(response: HttpResponse, region: str) -> str:
    """The one project named after ``region``; zero or several matches is an error."""
    payload = json_body(response)
    projects = payload.get("projects")
    if not isinstance(projects, list):
        raise CfwResponseError(
            response.status, None, "IAM answered without a 'projects' list", request_id=response.request_id
        )
    ids = [p.get("id") for p in projects if isinstance(p, dict) and p.get("name") == region]
    if len(ids) != 1 or not isinstance(ids[0], str):
        # A well-formed answer that does not settle the question: retrying will not change it. The
        # region first: with 'endpoint' set, any region id is accepted, so a mistyped one gets this far.
        if len(ids) > 1:
            message = (
                f"extra.region {region!r}: IAM lists {len(ids)} projects of that name (sub-projects); "
                "set the connection's 'project_id' extra to the one to use"
            )
        else:
            note = endpoints.unknown_region_note(region)
            message = (
                f"extra.region {region!r}: IAM has no project of that name; "
                + (f"{note}; " if note else "")
                + "fix the region, or set the connection's 'project_id' extra"
            )
        raise CfwApiError(response.status, None, message, request_id=response.request_id)
    return ids[0]


def token_call(
    iam_endpoint: str,
    *,
    domain_name: str,
    user_name: str,
    password: str,
    scope: tuple[str, str],
) -> Call[IamToken]:
    """A password token scoped to ``("id", project_id)`` or ``("name", region)``; not authenticated itself."""
    kind, value = scope
    request = token_request(
        iam_endpoint,
        domain_name=domain_name,
        user_name=user_name,
        password=password,
        project_id=value if kind == "id" else None,
        project_name=value if kind == "name" else None,
    )
    return Call(request, parse_token_response, None, auth=False)


def projects_call(iam_endpoint: str, region: str) -> Call[str]:
    """The id of the project named after ``region`` (signed with AK/SK, no ``X-Project-Id``)."""
    return Call(
        projects_request(iam_endpoint, region),
        lambda response: parse_projects_response(response, region),
        None,
    )


# ---- caches -----------------------------------------------------------------------------------------

#: The official SDK refreshes temporary credentials 40 minutes before they expire.
MAX_REFRESH_LEAD_SECONDS = 40 * 60
#: Short-lived tokens are refreshed after 90 % of their life rather than 40 minutes early.
REFRESH_LEAD_FRACTION = 0.1


@dataclass(frozen=True)
class TokenIdentity:
    """Who a token belongs to and what it is scoped to. Holds a digest of the password, not the password.

    :param iam_endpoint: the IAM that issued it.
    :param domain_name: the account.
    :param user_name: the IAM user.
    :param password_digest: SHA-256 of the password, so a wrong password never reuses a good token.
    :param scope: ``("id", project_id)`` or ``("name", region)``.
    """

    iam_endpoint: str
    domain_name: str
    user_name: str
    password_digest: str
    scope: tuple[str, str]

    @classmethod
    def of(
        cls, iam_endpoint: str, domain: str, user: str, password: str, scope: tuple[str, str]
    ) -> TokenIdentity:
        digest = hashlib.sha256(password.encode("utf-8")).hexdigest()
        return cls(iam_endpoint, domain, user, digest, scope)


@dataclass(frozen=True)
class _Cached:
    token: IamToken
    refresh_at: float


class TokenCache:
    """IAM tokens by identity, valid until a lead time before ``expires_at``.

    :param clock: the current time in epoch seconds (a test brings its own).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._tokens: dict[TokenIdentity, _Cached] = {}
        self._guard = threading.Lock()
        self._thread_locks: dict[TokenIdentity, threading.Lock] = {}
        self._loop_locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[TokenIdentity, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    def get(self, identity: TokenIdentity) -> IamToken | None:
        cached = self._tokens.get(identity)
        if cached is None or self._clock() >= cached.refresh_at:
            return None
        return cached.token

    def put(self, identity: TokenIdentity, token: IamToken) -> None:
        now = self._clock()
        lifetime = max(token.expires_at.timestamp() - now, 0.0)
        lead = min(MAX_REFRESH_LEAD_SECONDS, lifetime * REFRESH_LEAD_FRACTION)
        self._tokens[identity] = _Cached(token, now + lifetime - lead)

    def invalidate(self, identity: TokenIdentity, value: str) -> None:
        """Forget the token, unless another caller has already replaced it."""
        cached = self._tokens.get(identity)
        if cached is not None and cached.token.value == value:
            del self._tokens[identity]

    def thread_lock(self, identity: TokenIdentity) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(identity, threading.Lock())

    def loop_lock(self, identity: TokenIdentity) -> asyncio.Lock:
        # Only ever called on the loop itself, so the dict needs no thread lock of its own.
        locks = self._loop_locks.setdefault(asyncio.get_running_loop(), {})
        return locks.setdefault(identity, asyncio.Lock())

    def clear(self) -> None:
        self._tokens.clear()


#: (iam endpoint, AK or user, region) -> project id; discovered once per process.
ProjectKey = tuple[str, str, str]
TOKENS = TokenCache()
PROJECTS: dict[ProjectKey, str] = {}
