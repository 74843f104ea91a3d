"""Process-wide caches of IAM tokens and discovered project ids.

Both the sync and the async paths read and fill the same caches; each brings its own kind of lock
(a thread lock must never be waited on inside an event loop), so concurrent callers of one kind
share one refresh.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from airflow_provider_cfw.core.api import IamToken

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
