"""One API rate limiter per identity per process, shared by every wait and call made with it.

Huawei Cloud's API gateway limits calls per account: over the limit it answers HTTP 429
``APIGW.0308``, "The throttling threshold has been reached: policy user over ratelimit,limit:XX,time:1
second", and advises waiting 2-5 s. A triggerer with hundreds of waits on one connection sends
``waits / poll_interval`` calls a second; when each wait retried its own throttled calls, nothing one of
them learnt reached the others, and most of the calls were throttled.

Here every call of one identity (the credential, the region and the endpoint: two credentials never slow
each other) takes a send time from the identity's :class:`RateLimiter` first:

- Until the gateway throttles, nothing waits (unless the connection sets ``max_calls_per_second``).
- A throttle pauses the whole identity for the ``Retry-After`` the gateway sent, else 2-5 s (jittered),
  and sets the pace: the limit the message states (less :data:`HEADROOM`), or, without one, half the
  rate the identity was sending at. A throttle of a call sent before that lesson is an echo of the same
  overload: counted, not learnt from again.
- The pace hands out distinct send times, one every ``1 / rate`` seconds (virtual scheduling, as GCRA):
  after a pause the waiting calls go one after another, never all at the same instant.
- With no throttle, and callers waiting for their turn, the pace goes back up by
  :data:`INCREASE_STEP` every :data:`INCREASE_EVERY_SECONDS`, never past the limit the gateway stated.
- A throttled call is sent again once its identity's turn comes, up to :data:`MAX_THROTTLED_RETRIES`
  times, without using the connection's ``max_retries``; only then does it fail, with
  :class:`~airflow_provider_cfw.core.errors.CfwThrottled`, which a wait does not count as a failure.
- One log line per identity per :data:`SUMMARY_SECONDS` in which calls were throttled, not one per call.

An async caller awaits ``asyncio.sleep`` until its turn (no thread); a sync caller sleeps. Both share one
limiter in a process; its lock is held for a few arithmetic operations.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from airflow_provider_cfw.core.errors import CfwThrottled, parse_retry_after

if TYPE_CHECKING:
    from airflow_provider_cfw.core.http import HttpRequest, HttpResponse
    from airflow_provider_cfw.core.settings import CfwSettings

log = logging.getLogger(__name__)

#: The gateway's throttling codes (Huawei writes both), looked for in error answers' bodies.
THROTTLE_CODES = (b"APIGW.0308", b"APIG.0308")
#: Huawei's advice after a throttle with no ``Retry-After``: wait 2 to 5 s (drawn anew for each pause).
PAUSE_SECONDS = (2.0, 5.0)
#: The share of the gateway's stated limit the limiter paces at: arrivals are never as even as sends.
HEADROOM = 0.9
#: A throttle with no stated limit: the pace becomes this share of the rate the identity was sending at.
DECREASE_UNSTATED = 0.5
#: Throttled again at or below the stated limit (another tool spends the same budget): this share.
DECREASE_SHARED = 0.75
#: The pace never goes below this (calls a second).
MIN_RATE = 0.2
#: With no throttle and callers waiting their turn, the pace goes up this often by :data:`INCREASE_STEP`
#: of the stated limit (or of the pace itself when none was stated), and at least by one call a second.
INCREASE_EVERY_SECONDS = 2.0
INCREASE_STEP = 0.05
#: Sends of one call while throttled, beyond the first; the connection's ``max_retries`` is not used.
MAX_THROTTLED_RETRIES = 8
#: One summary line per identity per this many seconds in which calls were throttled.
SUMMARY_SECONDS = 60.0

_LIMIT = re.compile(
    rb"limit\s*:\s*(\d+(?:\.\d+)?)\s*,\s*time\s*:\s*(\d+(?:\.\d+)?)?\s*(second|minute|hour|day)"
)
_UNIT_SECONDS = {b"second": 1.0, b"minute": 60.0, b"hour": 3600.0, b"day": 86400.0}

# Looked up at each call, so that tests can move the limiter's clock without waiting.
_monotonic = time.monotonic
_sleep = asyncio.sleep
_sync_sleep = time.sleep


@dataclass(frozen=True)
class Throttle:
    """What a throttled answer said.

    :param retry_after: seconds from ``Retry-After``, if the gateway sent it.
    :param limit: the stated limit in calls a second (``limit:XX,time:1 second``), if the body says it.
    """

    retry_after: float | None = None
    limit: float | None = None


def throttle_of(response: HttpResponse) -> Throttle | None:
    """The throttle an answer reports (HTTP 429, or a throttling code whatever the status), or ``None``."""
    status = response.status
    if status < 400:
        return None
    body = response.body
    if status != 429 and not any(code in body for code in THROTTLE_CODES):
        return None
    limit = None
    match = _LIMIT.search(body)
    if match is not None:
        count, per, unit = match.groups()
        seconds = float(per or 1) * _UNIT_SECONDS[unit]
        if float(count) > 0 and seconds > 0:
            limit = float(count) / seconds
    return Throttle(parse_retry_after(response.headers.get("retry-after")), limit)


@dataclass(frozen=True)
class Identity:
    """Who spends an API budget: a digest of the credential (never the credential), region, endpoint.

    :param who: a digest of the AK, of the IAM domain and user, or of a static token.
    :param region: the connection's region ('' if none).
    :param endpoint: the base URL the calls go to.
    """

    who: str
    region: str
    endpoint: str

    @classmethod
    def of(cls, settings: CfwSettings, endpoint: str) -> Identity:
        if settings.aksk is not None:
            credential = "ak:" + settings.aksk.ak
        elif settings.token is not None:
            credential = "token:" + settings.token
        else:
            credential = f"user:{settings.domain_name}/{settings.user_name}"
        who = hashlib.sha256(credential.encode("utf-8")).hexdigest()
        return cls(who, settings.region or "", endpoint)

    @property
    def label(self) -> str:
        """How log lines name the identity: the host, the region and 8 hex digits of the digest."""
        return f"{urlsplit(self.endpoint).netloc} {self.region or '-'} credential {self.who[:8]}"


class RateLimiter:
    """The send times of one identity's calls (see the module's description).

    :param identity: whose calls it paces.
    :param cap: at most this many calls a second, whatever the gateway allows (``max_calls_per_second``).
    """

    def __init__(self, identity: Identity, cap: float | None = None) -> None:
        self.identity = identity
        self._lock = threading.Lock()
        self.cap = cap
        #: The pace learnt from throttles, in calls a second; ``None`` until the first throttle.
        self.learnt: float | None = None
        #: The limit the gateway's message stated, less the headroom; ``None`` if it never said.
        self.ceiling: float | None = None
        now = _monotonic()
        self._paused_until = 0.0
        self._next_free = 0.0  # the next send time to hand out, when pacing
        self._lesson_at = -1.0  # when the last throttle was learnt from
        self._waited = False  # a caller waited for its turn since the last increase
        self._last_change = now
        self._pause_generation = 0
        self._rate = 0.0  # the pace in force: 0 means none
        self._update_rate()
        # Counters: sends in the current second (for the rate at a throttle), and per summary interval.
        self._bucket_start = now
        self._bucket_sent = 0
        self._recent_rate = 0.0
        self._next_tick = now + 1.0
        self._interval_start = now
        self._interval_sent = 0
        self._interval_throttled = 0
        #: Totals since the limiter was made: calls sent, throttled answers, pauses, callers that waited.
        self.sent = 0
        self.throttled = 0
        self.pauses = 0
        self.waits = 0

    # ---- the pace -------------------------------------------------------------------------------

    @property
    def rate(self) -> float | None:
        """The pace in force, in calls a second; ``None`` when calls go as soon as they are made."""
        return self._rate or None

    def set_cap(self, cap: float | None) -> None:
        """Cap the pace (the lowest of the caps of the connections that share this identity)."""
        if cap is None:
            return
        with self._lock:
            self.cap = cap if self.cap is None else min(self.cap, cap)
            self._update_rate()

    def _update_rate(self) -> None:
        candidates = [r for r in (self.learnt, self.cap) if r is not None]
        self._rate = min(candidates) if candidates else 0.0

    def take_turn(self) -> tuple[float, float, int]:
        """Take a send time: (now, seconds to wait for it, the pause generation it was taken in).

        The caller sends at once when the wait is 0, else awaits :meth:`wait_turn` (or sleeps, sync).
        """
        now = _monotonic()
        self.sent += 1
        self._bucket_sent += 1
        self._interval_sent += 1
        if now >= self._next_tick:
            self._tick(now)
        if not self._rate and now >= self._paused_until:
            return now, 0.0, self._pause_generation  # the common case before any throttle: no wait
        delay, generation = self._turn(now)
        return now, delay, generation

    def _turn(self, now: float) -> tuple[float, int]:
        """The next free send time (after any pause, one per ``1 / rate``): (seconds to it, generation)."""
        with self._lock:
            start = max(now, self._paused_until)
            rate = self._rate
            if rate:
                start = max(start, self._next_free)
                self._next_free = start + 1.0 / rate
            delay = start - now
            if delay > 0:
                self._waited = True
                self.waits += 1
            return delay, self._pause_generation

    async def wait_turn(self, delay: float, generation: int) -> float:
        """Sleep on the event loop (no thread) until a turn taken by :meth:`take_turn`; returns the time
        the call may be sent. A pause that began meanwhile moves the call to a turn after it."""
        while True:
            await _sleep(delay)
            now = _monotonic()
            if generation == self._pause_generation:
                return now
            # The same call's turn, taken again: not counted as another call.
            delay, generation = self._turn(now)
            if delay <= 0:
                return now

    def wait_turn_sync(self, delay: float, generation: int) -> float:
        """:meth:`wait_turn` for a worker's sync calls: sleeps the thread."""
        while True:
            _sync_sleep(delay)
            now = _monotonic()
            if generation == self._pause_generation:
                return now
            # The same call's turn, taken again: not counted as another call.
            delay, generation = self._turn(now)
            if delay <= 0:
                return now

    async def acquire(self) -> float:
        """Wait for a call's turn (:meth:`take_turn`, then :meth:`wait_turn`); returns when it may go."""
        now, delay, generation = self.take_turn()
        return now if delay <= 0 else await self.wait_turn(delay, generation)

    def acquire_sync(self) -> float:
        """:meth:`acquire` for a worker's sync calls."""
        now, delay, generation = self.take_turn()
        return now if delay <= 0 else self.wait_turn_sync(delay, generation)

    def report(self, sent_at: float, throttle: Throttle) -> None:
        """A call sent at ``sent_at`` (monotonic) was throttled: pause the identity and slow the pace,
        unless that call went out before the last lesson (an echo of the same overload)."""
        now = _monotonic()
        with self._lock:
            self.throttled += 1
            self._interval_throttled += 1
            if sent_at < self._lesson_at:
                return
            self._lesson_at = now
            pause = throttle.retry_after
            if pause is None:
                pause = random.uniform(*PAUSE_SECONDS)  # noqa: S311 - jitter, not cryptography
            if now + pause > self._paused_until:
                self._paused_until = now + pause
                self._pause_generation += 1
                self.pauses += 1
            self._slow_down(now, throttle.limit)
            self._next_free = max(self._next_free, self._paused_until)
            self._last_change = now
            self._waited = False

    def _slow_down(self, now: float, stated: float | None) -> None:
        # What the identity was sending at: turns taken in the current second (over a quarter of a second
        # at least, so that a few calls at one instant do not read as thousands a second), or in the last.
        current = self._bucket_sent / max(now - self._bucket_start, 0.25)
        sending = max(current, self._recent_rate)
        # When it is paced, turns taken for later run ahead of the calls sent: the pace is then the basis.
        basis = min(sending, self._rate) if self._rate else sending
        if stated is not None:
            self.ceiling = HEADROOM * stated
            # Above the stated limit: the gateway said how fast to go. At or below it and still throttled:
            # another tool spends the same budget, so give way.
            learnt = self.ceiling if basis > self.ceiling else basis * DECREASE_SHARED
        else:
            learnt = basis * DECREASE_UNSTATED
        self.learnt = max(MIN_RATE, learnt)
        self._update_rate()

    def _tick(self, now: float) -> None:
        """Once a second at most: the sending rate, the increase without throttles, the summary line."""
        with self._lock:
            if now < self._next_tick:
                return
            elapsed = now - self._bucket_start
            self._recent_rate = self._bucket_sent / elapsed if elapsed > 0 else 0.0
            self._bucket_start, self._bucket_sent = now, 0
            self._next_tick = now + 1.0
            if self.learnt is not None and now - self._last_change >= INCREASE_EVERY_SECONDS:
                if self._waited and now >= self._paused_until:
                    step = max(1.0, INCREASE_STEP * (self.ceiling or self.learnt))
                    self.learnt = min(self.learnt + step, self.ceiling or float("inf"))
                    self._update_rate()
                self._waited = False
                self._last_change = now
            span = now - self._interval_start
            if span < SUMMARY_SECONDS:
                return
            throttled, sent = self._interval_throttled, self._interval_sent
            self._interval_start, self._interval_sent, self._interval_throttled = now, 0, 0
        if throttled:
            stated = (
                "no limit stated" if self.ceiling is None else f"stated limit {self.ceiling / HEADROOM:g}/s"
            )
            log.warning(
                "CFW API %s: throttled: %d calls in the last %.0f s, effective rate %.1f/s "
                "(%d calls; gateway %s; pacing at %s)",
                self.identity.label,
                throttled,
                span,
                sent / span,
                sent,
                stated,
                f"{self._rate:.1f}/s" if self._rate else "no limit",
            )

    # ---- sending --------------------------------------------------------------------------------

    def send_sync(self, send: Callable[[HttpRequest], HttpResponse], request: HttpRequest) -> HttpResponse:
        """Send ``request`` with ``send`` in the identity's turn, again after each throttle (at most
        :data:`MAX_THROTTLED_RETRIES` times); the async transport does the same inline."""
        throttled = 0
        while True:
            sent_at = self.acquire_sync()
            response = send(request)
            throttle = None if response.status < 400 else throttle_of(response)
            if throttle is None or throttled == MAX_THROTTLED_RETRIES:
                return response
            self.report(sent_at, throttle)
            throttled += 1


class LimiterRegistry:
    """The process's limiters, one per :class:`Identity`.

    :param enabled: ``False`` sends every call at once and leaves throttles to each caller's retries
        (the behaviour before limiters, kept for benchmarks that compare the two).
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._limiters: dict[Identity, RateLimiter] = {}

    def get(self, identity: Identity, cap: float | None = None) -> RateLimiter | None:
        if not self.enabled:
            return None
        limiter = self._limiters.get(identity)
        if limiter is None:
            with self._lock:
                limiter = self._limiters.setdefault(identity, RateLimiter(identity, cap))
        if cap is not None and (limiter.cap is None or cap < limiter.cap):
            limiter.set_cap(cap)
        return limiter

    def for_settings(self, settings: CfwSettings) -> tuple[tuple[str, RateLimiter], ...]:
        """``(base URL, limiter)`` for the CFW and IAM endpoints of a connection (none when disabled)."""
        pairs = []
        for endpoint in dict.fromkeys((settings.endpoint, settings.iam_endpoint)):
            limiter = self.get(Identity.of(settings, endpoint), settings.max_calls_per_second)
            if limiter is not None:
                pairs.append((endpoint, limiter))
        return tuple(pairs)

    def __iter__(self) -> Iterator[RateLimiter]:
        return iter(list(self._limiters.values()))

    def clear(self) -> None:
        with self._lock:
            self._limiters.clear()


#: Process-wide: every client in the process (a triggerer's waits, a worker's calls) draws on it.
LIMITERS = LimiterRegistry()


def is_paced_throttle(error: BaseException) -> bool:
    """Whether ``error`` is a throttle its identity's limiter has already retried and paced: a caller
    neither retries it again nor counts it as a failure of a wait."""
    return isinstance(error, CfwThrottled) and LIMITERS.enabled
