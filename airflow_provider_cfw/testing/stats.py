"""Counters and the request log: how tests see what a client actually did on the wire."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class RequestLogEntry:
    """One request as the emulator answered it.

    :param method: HTTP method.
    :param path: the path as received (no query string).
    :param route: route name (``cfw.job``, ``iam.tokens``, ``iam.projects`` or ``unknown``).
    :param auth: how the caller authenticated: ``aksk``, ``token``, ``password`` or ``none``.
    :param status: HTTP status sent; 0 when the connection was reset before any answer.
    :param latency: seconds from the request's arrival to the answer (added latency included).
    :param request_id: the ``X-Request-Id`` sent back.
    :param fault: the injected fault kind, if one fired.
    :param auth_failure: the reason an authentication attempt was refused, if it was.
    :param at: wall-clock time (``time.time()``) the request arrived.
    :param access_key: the AK named in a signed request's ``Authorization`` header (an AK is an
        identifier, not a secret): tells apart callers that sign with different keys.
    """

    method: str
    path: str
    route: str
    auth: str
    status: int
    latency: float
    request_id: str
    fault: str | None = None
    auth_failure: str | None = None
    at: float = 0.0
    access_key: str | None = None


@dataclass(frozen=True)
class EmulatorStats:
    """A consistent snapshot of the counters, safe to keep while the emulator goes on serving.

    :param requests: route name -> HTTP status -> number of answers.
    :param connections_accepted: TCP connections accepted since start (or the last reset).
    :param connections_open: TCP connections open right now.
    :param tokens_issued: IAM tokens issued by ``POST /v3/auth/tokens``.
    :param signature_failures: requests refused in AK/SK mode (any reason).
    :param auth_failures: refusal reason (``bad_signature``, ``expired_token``...) -> count.
    :param faults_fired: fault kind -> number of requests it answered.
    :param log: the most recent requests, oldest first (bounded).
    """

    requests: Mapping[str, Mapping[int, int]]
    connections_accepted: int
    connections_open: int
    tokens_issued: int
    signature_failures: int
    auth_failures: Mapping[str, int]
    faults_fired: Mapping[str, int]
    log: tuple[RequestLogEntry, ...] = field(repr=False)

    @property
    def total_requests(self) -> int:
        return sum(sum(by_status.values()) for by_status in self.requests.values())

    def count(self, route: str | None = None, status: int | None = None) -> int:
        """Answers for ``route`` (all routes if ``None``) with ``status`` (any status if ``None``)."""
        total = 0
        for name, by_status in self.requests.items():
            if route is not None and name != route:
                continue
            total += sum(by_status.values()) if status is None else by_status.get(status, 0)
        return total


class StatsRecorder:
    """The live, thread-safe counters behind :class:`EmulatorStats`.

    :param log_limit: how many request log entries to keep (oldest dropped first).
    """

    def __init__(self, log_limit: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._log_limit = log_limit
        self._connections_open = 0
        self._reset_locked()

    def _reset_locked(self) -> None:
        self._requests: dict[str, Counter[int]] = {}
        self._connections_accepted = 0
        self._tokens_issued = 0
        self._signature_failures = 0
        self._auth_failures: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._log: deque[RequestLogEntry] = deque(maxlen=self._log_limit)

    def reset(self) -> None:
        # Open connections are a fact about the present, not a counter: kept across resets.
        with self._lock:
            self._reset_locked()

    def connection_accepted(self) -> None:
        with self._lock:
            self._connections_accepted += 1
            self._connections_open += 1

    def connection_closed(self) -> None:
        with self._lock:
            self._connections_open -= 1

    def token_issued(self) -> None:
        with self._lock:
            self._tokens_issued += 1

    def record(self, entry: RequestLogEntry, *, aksk_failure: bool = False) -> None:
        with self._lock:
            by_status = self._requests.get(entry.route)
            if by_status is None:
                by_status = self._requests[entry.route] = Counter()
            by_status[entry.status] += 1
            if entry.auth_failure is not None:
                self._auth_failures[entry.auth_failure] += 1
                if aksk_failure:
                    self._signature_failures += 1
            if entry.fault is not None:
                self._faults[entry.fault] += 1
            self._log.append(entry)

    def snapshot(self) -> EmulatorStats:
        with self._lock:
            return EmulatorStats(
                requests=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in self._requests.items()}),
                connections_accepted=self._connections_accepted,
                connections_open=self._connections_open,
                tokens_issued=self._tokens_issued,
                signature_failures=self._signature_failures,
                auth_failures=MappingProxyType(dict(self._auth_failures)),
                faults_fired=MappingProxyType(dict(self._faults)),
                log=tuple(self._log),
            )
