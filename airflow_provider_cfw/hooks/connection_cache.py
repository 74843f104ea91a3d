"""Connections the async path looked up, kept for a short while per process.

A triggerer that starts, restarts or adopts hundreds of waits on one connection would otherwise ask
Airflow for it once per wait: on Airflow 3 a round trip through the supervisor to the API server (and
its database), about 0.4 ms of the triggerer's CPU and a thread hop each. A running wait never reads
its connection again anyway, so keeping the answer for :data:`CACHE_SECONDS` only means that a wait
started within that time of an edit may still use the connection as it was before the edit.

Waits that miss together (a triggerer's start: every wait, in the same instant) share one lookup in
flight rather than each asking Airflow, which on Airflow 3 would queue hundreds of round trips through
the supervisor.

A connection defined in an ``AIRFLOW_CONN_*`` environment variable is part of the key: changing the
variable (as tests do) takes effect at once.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
#: A connection id, and its ``AIRFLOW_CONN_*`` variable's value if it has one.
_Key = tuple[str, str | None]

#: How long a looked-up connection is reused by waits that start after it.
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class ConnectionFields:
    """What the hook reads from an Airflow connection. The password never appears in a repr.

    What is derived from it (the hook's validated settings) is kept with it, so the waits that start
    on one answer validate it once, and a new lookup (an edit, or the expiry) starts afresh.

    :param login: the connection's login.
    :param password: the connection's password.
    :param extra: the connection's extras, parsed.
    """

    login: str | None
    password: str | None = field(repr=False)
    extra: Mapping[str, Any] = field(repr=False)
    _derived: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def derive(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()``, called once per ``key`` for this answer (only ever on the event loop)."""
        try:
            value: T = self._derived[key]
        except KeyError:
            value = self._derived[key] = build()
        return value


class AsyncConnectionCache:
    """Connection fields by connection id, each kept for ``ttl`` seconds after it was looked up.

    Only ever used on the event loop (one thread), so it needs no lock.

    :param ttl: seconds an answer is reused.
    :param clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, ttl: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[_Key, tuple[float, ConnectionFields]] = {}
        self._in_flight: dict[_Key, asyncio.Task[ConnectionFields]] = {}

    async def get(self, conn_id: str, lookup: Callable[[], Awaitable[ConnectionFields]]) -> ConnectionFields:
        """The connection's fields: from the cache while fresh, else from the lookup in flight for the
        same connection, else from ``lookup()``. A failed lookup is not kept: the next call asks again."""
        key = (conn_id, os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"))
        cached = self._entries.get(key)
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        loop = asyncio.get_running_loop()
        task = self._in_flight.get(key)
        if task is None or task.get_loop() is not loop:
            task = self._in_flight[key] = loop.create_task(self._fetch(key, lookup))
        # Shielded: a wait cancelled while the lookup runs must not cancel it for the others.
        return await asyncio.shield(task)

    async def _fetch(self, key: _Key, lookup: Callable[[], Awaitable[ConnectionFields]]) -> ConnectionFields:
        try:
            fields = await lookup()
        finally:
            if self._in_flight.get(key) is asyncio.current_task():
                del self._in_flight[key]
        now = self._clock()
        self._entries = {k: v for k, v in self._entries.items() if now < v[0]}
        self._entries[key] = (now + self.ttl, fields)
        return fields

    def clear(self) -> None:
        self._entries.clear()
        self._in_flight.clear()


#: Process-wide: every hook on the triggerer's loop shares it.
ASYNC_CONNECTIONS = AsyncConnectionCache()
