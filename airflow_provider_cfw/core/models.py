"""What a CFW job is: its status and its times, parsed from the List Job Status answer."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

import pendulum
from pendulum import DateTime

_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")
# Huawei documents "+0800"; pendulum wants "+08:00".
_BASIC_OFFSET = re.compile(r"([+-])(\d{2})(\d{2})$")


class CfwJobStatus(StrEnum):
    """A CFW job's status. A value the API adds later is kept (``is_known`` is False), not refused."""

    RUNNING = "Running"
    SUCCESS = "Success"
    FAILED = "Failed"

    @classmethod
    def _missing_(cls, value: object) -> CfwJobStatus | None:
        if not isinstance(value, str):
            return None
        for member in cls:
            if member.value.lower() == value.strip().lower():
                return member
        unknown = str.__new__(cls, value)
        unknown._name_ = "UNKNOWN"
        unknown._value_ = value
        return unknown

    @property
    def is_known(self) -> bool:
        return self._name_ != "UNKNOWN"

    @property
    def is_terminal(self) -> bool:
        return self in (CfwJobStatus.SUCCESS, CfwJobStatus.FAILED)

    def __str__(self) -> str:
        return str(self.value)


def parse_cfw_time(value: object) -> DateTime | None:
    """Parse a CFW time; see :func:`_parse_cfw_time`. Cached by value: a job's ``begin_time`` comes back
    unchanged on every poll, and building a pendulum ``DateTime`` costs more than the rest of the parse.
    """
    if isinstance(value, str | int | float):
        return _parse_cached(value)
    return _parse_cfw_time(value)


def _parse_cfw_time(value: object) -> DateTime | None:
    """Parse a CFW time: epoch milliseconds (int, float or numeric string), ISO-8601, or null.

    ISO values may end in ``Z``, ``+0800`` or ``+08:00``. Raises ``ValueError`` for anything else.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected epoch milliseconds or an ISO-8601 time, got {value!r}")
    if isinstance(value, int | float):
        return pendulum.from_timestamp(value / 1000.0, tz="UTC")
    if isinstance(value, str):
        text = value.strip()
        if _NUMERIC.match(text):
            return pendulum.from_timestamp(float(text) / 1000.0, tz="UTC")
        text = _BASIC_OFFSET.sub(r"\1\2:\3", text)
        try:
            parsed = pendulum.parse(text, strict=False)
        except (ValueError, pendulum.parsing.exceptions.ParserError) as err:
            raise ValueError(f"expected epoch milliseconds or an ISO-8601 time, got {value!r}") from err
        if isinstance(parsed, DateTime):
            return parsed
    raise ValueError(f"expected epoch milliseconds or an ISO-8601 time, got {value!r}")


_parse_cached = lru_cache(maxsize=8192, typed=True)(_parse_cfw_time)  # typed: True is not 1


@dataclass(frozen=True)
class CfwJob:
    """One CFW job as List Job Status reported it.

    :param id: the job id.
    :param status: the job's status.
    :param begin_time: when the job started (timezone-aware), if reported.
    :param end_time: when it ended; ``None`` while it runs.
    :param request_id: the ``X-Request-Id`` of the answer, for support tickets.
    :param raw: the ``data`` object as received.
    """

    id: str
    status: CfwJobStatus
    begin_time: DateTime | None = None
    end_time: DateTime | None = None
    request_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def duration_seconds(self) -> float | None:
        if self.begin_time is None or self.end_time is None:
            return None
        return (self.end_time - self.begin_time).total_seconds()

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, request_id: str | None = None) -> CfwJob:
        """Build a job from the response's ``data`` object; raises ``ValueError`` when it is malformed."""
        job_id = data.get("id")
        status = data.get("status")
        if not isinstance(job_id, str) or not job_id:
            raise ValueError("data.id is missing or not a string")
        if not isinstance(status, str) or not status:
            raise ValueError("data.status is missing or not a string")
        return cls(
            id=job_id,
            status=CfwJobStatus(status),
            begin_time=parse_cfw_time(data.get("begin_time")),
            end_time=parse_cfw_time(data.get("end_time")),
            request_id=request_id,
            raw=dict(data),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON for XCom and trigger events (ISO times, duration in seconds)."""
        return {
            "id": self.id,
            "status": self.status.value,
            "begin_time": self.begin_time.isoformat() if self.begin_time else None,
            "end_time": self.end_time.isoformat() if self.end_time else None,
            "duration_seconds": self.duration_seconds,
            "request_id": self.request_id,
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> CfwJob:
        """Inverse of :meth:`to_dict` (the event crosses the triggerer/worker boundary as JSON)."""
        return cls(
            id=str(payload["id"]),
            status=CfwJobStatus(payload["status"]),
            begin_time=parse_cfw_time(payload.get("begin_time")),
            end_time=parse_cfw_time(payload.get("end_time")),
            request_id=payload.get("request_id"),
        )
