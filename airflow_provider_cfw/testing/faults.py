"""Injected faults: what can go wrong between a client and Huawei Cloud, on demand and reproducibly."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal, get_args

FaultKind = Literal[
    "status",  # an error answer: any status, with the body the real gateway would send
    "bare_status",  # only a status and its reason phrase as text: no error code, no Retry-After
    "latency",  # wait, then answer normally
    "reset",  # TCP reset before any byte of the answer
    "truncate",  # headers promise more body than is sent, then the connection closes
    "malformed_json",  # 200 with a body that is not valid JSON
    "no_data",  # 200 with valid JSON but no ``data`` object
    "unknown_status",  # 200 with a job status outside Running/Success/Failed
    "lost_answer",  # carry the request out, then reset the connection (or, with status=, answer that error)
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
#: Route names faults can target; ``*`` matches all of them.
ROUTES: tuple[str, ...] = (
    "cfw.job",
    "cfw.firewall.create",
    "cfw.firewall.delete",
    "cfw.firewall.list",
    "iam.tokens",
    "iam.projects",
)


@dataclass
class Fault:
    """One injected fault. Returned by ``CfwEmulator.inject`` so a test can see how often it fired.

    :param kind: what goes wrong (see :data:`FaultKind`).
    :param route: the route it applies to, or ``*``.
    :param count: how many more requests it answers; ``None`` for no limit (probability faults).
    :param probability: chance that a matching request is hit; 1.0 for queued faults.
    :param status: HTTP status for ``status`` faults.
    :param error_code: ``error_code`` of the body (defaults per status: 429 gives ``APIGW.0308``...).
    :param error_msg: ``error_msg`` of the body.
    :param retry_after: ``Retry-After`` header value (429 defaults to ``"2"``).
    :param delay: seconds to wait before answering (any kind; the whole point of ``latency``).
    :param status_text: the job status ``unknown_status`` reports.
    :param body: raw body bytes that replace the default body of a ``status`` fault.
    :param content_type: ``Content-Type`` for ``body``.
    :param request_id_header: the header carrying the answer's request id (IAM's own answers use
        ``X-IAM-Trace-Id``).
    """

    kind: str
    route: str = "*"
    count: int | None = 1
    probability: float = 1.0
    status: int | None = None
    error_code: str | None = None
    error_msg: str | None = None
    retry_after: str | None = None
    delay: float = 0.0
    status_text: str = "Queued"
    body: bytes | None = None
    content_type: str | None = None
    request_id_header: str = "X-Request-Id"
    fired: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if self.route != "*" and self.route not in ROUTES:
            raise ValueError(f"unknown route {self.route!r}; expected '*' or one of {', '.join(ROUTES)}")
        if self.kind in ("status", "bare_status") and (self.status is None or not 100 <= self.status <= 599):
            raise ValueError(f"a {self.kind!r} fault needs status=<an HTTP status code>")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be at least 1")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.delay < 0:
            raise ValueError("delay must not be negative")

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.count <= 0


class FaultQueue:
    """Faults in the order they were injected; the first one that matches and fires answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault, seed: int | None = None) -> Fault:
        fault._rng.seed(seed)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, route: str) -> Fault | None:
        """The fault that answers this request, if any (consuming one of its ``count``)."""
        if not self._faults:  # lock-free fast path: the common case under load has no faults
            return None
        with self._lock:
            for fault in self._faults:
                if fault.route not in ("*", route):
                    continue
                if fault.probability < 1.0 and fault._rng.random() >= fault.probability:
                    continue
                fault.fired += 1
                if fault.count is not None:
                    fault.count -= 1
                    if fault.exhausted:
                        self._faults.remove(fault)
                return fault
        return None
