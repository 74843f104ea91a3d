"""The emulated API gateway's flow control: an account-wide limit on calls per second, as Huawei's.

Over the limit, the gateway answers HTTP 429 ``APIGW.0308`` "The throttling threshold has been reached:
policy user over ratelimit,limit:XX,time:1 second", before it authenticates, and the call does not count
against the limit. The real gateway sends no ``Retry-After`` from Huawei's own services; the emulator
sends one only when asked. The window slides: at most ``calls`` answers in any ``period`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

#: Whose calls share a budget: the whole account (every credential, as on Huawei Cloud), or each
#: access key (as if each were an account of its own).
Scope = Literal["account", "access_key"]
SCOPES: tuple[str, ...] = ("account", "access_key")


def throttle_message(calls: float, period: float) -> str:
    """The gateway's wording for a limit of ``calls`` per ``period`` seconds."""
    per = f"{period / 60:g} minute" if period % 60 == 0 else f"{period:g} second"
    return f"The throttling threshold has been reached: policy user over ratelimit,limit:{calls:g},time:{per}"


@dataclass
class RateLimit:
    """An account's API rate limit.

    :param calls: answers allowed in any ``period`` seconds (the ``XX`` of ``limit:XX``).
    :param period: the window, in seconds.
    :param retry_after: a ``Retry-After`` header value for throttled answers; ``None`` sends none,
        like Huawei's gateway in front of its own services.
    :param scope: ``account`` (every caller shares the budget) or ``access_key`` (one per AK; token and
        unsigned callers share one).
    :param routes: the routes it applies to (route names of :data:`~airflow_provider_cfw.testing.faults.ROUTES`);
        ``("*",)`` for all.
    :param clock: monotonic seconds (a test may move it).
    """

    calls: float
    period: float = 1.0
    retry_after: str | None = None
    scope: str = "account"
    routes: tuple[str, ...] = ("*",)
    clock: Callable[[], float] = time.monotonic
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _windows: dict[str, deque[float]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.calls >= 1:
            raise ValueError(f"rate limit calls must be a number of calls, 1 or more; got {self.calls!r}")
        if not self.period > 0:
            raise ValueError(f"rate limit period must be a number of seconds above 0; got {self.period!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"rate limit scope must be one of {', '.join(SCOPES)}; got {self.scope!r}")
        if self.retry_after is not None:
            self.retry_after = str(self.retry_after)
        self.routes = tuple(self.routes)

    @property
    def message(self) -> str:
        return throttle_message(self.calls, self.period)

    def admit(self, route: str, access_key: str | None) -> bool:
        """Whether a call to ``route`` fits in the budget now (counting it if it does)."""
        if "*" not in self.routes and route not in self.routes:
            return True
        key = (access_key or "") if self.scope == "access_key" else ""
        now = self.clock()
        with self._lock:
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - self.period:
                window.popleft()
            if len(window) >= self.calls:
                self.throttled += 1
                return False
            window.append(now)
            return True
