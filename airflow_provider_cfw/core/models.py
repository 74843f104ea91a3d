"""What a CFW job is: its status and its times, parsed from the List Job Status answer."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import pendulum
from pendulum import DateTime

log = logging.getLogger(__name__)

_NUMERIC = re.compile(r"-?\d+(\.\d+)?")
# "GMT+08:00", "UTC+8", a bare "GMT": a POSIX-style parser reads the sign inverted (Etc/GMT+8 is
# UTC-8), so the offset is rewritten as a plain ISO one before parsing.
_GMT_SUFFIX = re.compile(r"\s*(?:GMT|UTC)(?:\s*([+-])(\d{1,2})(?::?(\d{2}))?)?$", re.IGNORECASE)
#: Below this an epoch number is seconds (year 5138 and earlier), from it milliseconds (1973 and
#: later); the two ranges of plausible values do not overlap.
_EPOCH_MS_FROM = 1e11
#: From this on it would be microseconds, which CFW does not send: refused rather than guessed.
_EPOCH_TOO_LARGE = 1e14
#: Unreadable times already warned about, per (job id, field, value): one warning, not one per poll.
_WARNED: set[tuple[str, str, str]] = set()
_WARNED_LIMIT = 1024


def _expected(value: object) -> ValueError:
    return ValueError(
        f"expected epoch seconds or milliseconds, or an ISO-8601 time with a UTC offset, got {value!r:.80}"
    )


def _from_epoch(number: float, value: object) -> DateTime:
    magnitude = abs(number)
    if magnitude >= _EPOCH_TOO_LARGE:
        raise _expected(value)
    seconds = number if magnitude < _EPOCH_MS_FROM else number / 1000.0
    return pendulum.from_timestamp(seconds, tz="UTC")


def _iso_offset(match: re.Match[str]) -> str:
    sign, hours, minutes = match.groups()
    if sign is None:
        return "+00:00"
    return f"{sign}{int(hours):02d}:{minutes or '00'}"


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


#: The statuses as CFW spells them, looked up directly on every poll (an unusual spelling goes through
#: :meth:`CfwJobStatus._missing_`).
_STATUSES = {status.value: status for status in CfwJobStatus}


def parse_cfw_time(value: object) -> DateTime | None:
    """Parse a CFW time: epoch seconds or milliseconds (told apart by magnitude), ISO-8601, or null.

    ISO values need a zone: ``Z``, ``+0800``, ``+08:00`` or ``GMT+08:00``. A time without one, or
    with a name such as ``CST`` (China, or US Central?), raises ``ValueError`` rather than being
    taken as UTC.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _expected(value)
    if isinstance(value, int | float):
        return _from_epoch(value, value)
    if not isinstance(value, str):
        raise _expected(value)
    text = value.strip()
    if _NUMERIC.fullmatch(text):
        return _from_epoch(float(text), value)
    text = _GMT_SUFFIX.sub(_iso_offset, text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _expected(value) from None
    if parsed.tzinfo is None:
        raise _expected(value)
    return pendulum.instance(parsed)


class CfwTimes:
    """Parses the times of one wait's answers, keeping the last one read.

    A job's ``begin_time`` comes back unchanged on every poll, and building a pendulum ``DateTime`` costs
    more than the rest of the parse. Kept by the wait (not by the process), it goes when the wait does.
    """

    def __init__(self) -> None:
        self._raw: object = None
        self._parsed: DateTime | None = None

    def parse(self, value: object) -> DateTime | None:
        """:func:`parse_cfw_time`, answered from the last value when it is the same (and of the same type:
        ``True`` is not ``1``)."""
        if value is not None and type(value) is type(self._raw) and value == self._raw:
            return self._parsed
        parsed = parse_cfw_time(value)
        self._raw, self._parsed = value, parsed
        return parsed


def _lenient_time(data: Mapping[str, Any], name: str, job_id: str, times: CfwTimes | None) -> DateTime | None:
    """A time that does not read becomes None with one warning: it must not hide a readable status."""
    raw = data.get(name)
    if raw is None:  # end_time, on every poll of a running job
        return None
    try:
        return parse_cfw_time(raw) if times is None else times.parse(raw)
    except ValueError as err:
        key = (job_id, name, repr(raw))
        if key not in _WARNED:
            if len(_WARNED) >= _WARNED_LIMIT:
                _WARNED.clear()
            _WARNED.add(key)
            log.warning("CFW job %s: %s left empty, the raw value is kept (%s)", job_id, name, err)
        return None


@dataclass(frozen=True)
class CfwJob:
    """One CFW job as List Job Status reported it.

    :param id: the job id.
    :param status: the job's status.
    :param begin_time: when the job started (timezone-aware), if reported.
    :param end_time: when it ended; ``None`` while it runs.
    :param request_id: the ``X-Request-Id`` of the answer, for support tickets.
    :param raw: the ``data`` object as received (an unreadable time is only here).
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
        # datetime's own subtraction: pendulum's builds an Interval, many times dearer, for one number.
        return datetime.__sub__(self.end_time, self.begin_time).total_seconds()

    @classmethod
    def from_data(
        cls, data: Mapping[str, Any], *, request_id: str | None = None, times: CfwTimes | None = None
    ) -> CfwJob:
        """Build a job from the response's ``data`` object; raises ``ValueError`` when it is malformed.

        :param data: the ``data`` object.
        :param request_id: the answer's ``X-Request-Id``.
        :param times: the wait's :class:`CfwTimes`, when it reads the same job again and again.
        """
        job_id = data.get("id")
        status = data.get("status")
        if not isinstance(job_id, str) or not job_id:
            raise ValueError("data.id is missing or not a string")
        if not isinstance(status, str) or not status:
            raise ValueError("data.status is missing or not a string")
        return cls(
            id=job_id,
            status=_STATUSES.get(status) or CfwJobStatus(status),
            begin_time=_lenient_time(data, "begin_time", job_id, times),
            end_time=_lenient_time(data, "end_time", job_id, times),
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
