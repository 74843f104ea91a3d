"""Scripted CFW jobs: which status each poll sees, and how the times are rendered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal, get_args

TimeFormat = Literal[
    "epoch-ms",  # 1641370501000, as in Huawei's examples
    "epoch-s",  # 1641370501
    "iso-z",  # 2022-01-05T08:15:01Z
    "iso-offset",  # 2022-01-05T16:15:01+0800
    "iso-negative-offset",  # 2022-01-05T05:15:01-0300 (sa-brazil-1)
    "gmt-offset",  # 2022-01-05 16:15:01 GMT+08:00
    "null-text",  # "null": unreadable, the status must still be read
    "dash",  # "-": unreadable too
]
TIME_FORMATS: tuple[str, ...] = get_args(TimeFormat)
TERMINAL_STATUSES = frozenset({"Success", "Failed"})
_BEIJING = timezone(timedelta(hours=8))
_BRASILIA = timezone(timedelta(hours=-3))

#: ``["Running", "Success"]`` (one per poll, the last repeats) or
#: ``[("Running", 5.0), ("Success", None)]`` (seconds since the job began; ``None``: for ever).
StatusScript = Sequence[str] | Sequence[tuple[str, float | None]] | Sequence[Sequence[Any]]


def render_time(moment: float, time_format: str) -> int | str:
    """Epoch seconds rendered the way CFW may send them (see :data:`TimeFormat`)."""
    if time_format == "epoch-ms":
        return int(moment * 1000)
    if time_format == "epoch-s":
        return int(moment)
    if time_format == "iso-z":
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if time_format == "iso-negative-offset":
        return datetime.fromtimestamp(moment, _BRASILIA).strftime("%Y-%m-%dT%H:%M:%S-0300")
    if time_format == "gmt-offset":
        return datetime.fromtimestamp(moment, _BEIJING).strftime("%Y-%m-%d %H:%M:%S GMT+08:00")
    if time_format == "null-text":
        return "null"
    if time_format == "dash":
        return "-"
    return datetime.fromtimestamp(moment, _BEIJING).strftime("%Y-%m-%dT%H:%M:%S+0800")


def _parse_steps(statuses: StatusScript) -> tuple[tuple[tuple[str, float | None], ...], bool]:
    if isinstance(statuses, str) or not statuses:
        raise ValueError("statuses must be a non-empty list of status strings or (status, seconds) pairs")
    if all(isinstance(item, str) for item in statuses):
        return tuple((str(item), None) for item in statuses), False
    steps: list[tuple[str, float | None]] = []
    for index, item in enumerate(statuses):
        if isinstance(item, str) or len(item) != 2 or not isinstance(item[0], str):
            raise ValueError(f"statuses[{index}]: expected (status, seconds or None), got {item!r}")
        status, seconds = item[0], item[1]
        if seconds is None and index != len(statuses) - 1:
            raise ValueError(f"statuses[{index}]: only the last step may last for ever (None)")
        if seconds is not None and (isinstance(seconds, bool) or float(seconds) < 0):
            raise ValueError(f"statuses[{index}]: seconds must be a non-negative number")
        steps.append((status, None if seconds is None else float(seconds)))
    return tuple(steps), True


@dataclass
class ScriptedJob:
    """A job the emulator knows, with the statuses it goes through.

    :param job_id: the job id, exactly as it appears in the URL.
    :param statuses: see :data:`StatusScript`.
    :param begin_time: epoch seconds the job began (reported as ``begin_time``).
    :param time_format: one of :data:`TimeFormat`; ``epoch-ms`` (default) as in Huawei's examples.
    :param null_end_time: send ``"end_time": null`` while the job is not finished, instead of omitting it.
    """

    job_id: str
    statuses: StatusScript
    begin_time: float
    time_format: str = "epoch-ms"
    null_end_time: bool = False
    polls: int = 0
    _steps: tuple[tuple[str, float | None], ...] = field(default=(), repr=False)
    _by_time: bool = field(default=False, repr=False)
    _ended_at: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.time_format not in TIME_FORMATS:
            raise ValueError(
                f"time_format must be one of {', '.join(TIME_FORMATS)}, got {self.time_format!r}"
            )
        self._steps, self._by_time = _parse_steps(self.statuses)

    def _status_at(self, now: float) -> tuple[str, float | None]:
        """Status by elapsed time, and when the step that reported it began."""
        elapsed = now - self.begin_time
        started = self.begin_time
        for status, seconds in self._steps:
            if seconds is None or elapsed < seconds:
                return status, started
            elapsed -= seconds
            started += seconds
        # Every step had a duration and all have passed: the last one repeats.
        return self._steps[-1][0], started - (self._steps[-1][1] or 0.0)

    def status_at(self, now: float) -> str:
        """The status right now, without counting a poll: by time, or what the last poll saw."""
        if self._by_time:
            return self._status_at(now)[0]
        return self._steps[min(max(self.polls - 1, 0), len(self._steps) - 1)][0]

    def poll(self, now: float) -> dict[str, Any]:
        """The ``data`` object of one List Job Status answer (advancing poll-scripted jobs)."""
        if self._by_time:
            status, step_began = self._status_at(now)
            ended = step_began if status in TERMINAL_STATUSES else None
        else:
            status = self._steps[min(self.polls, len(self._steps) - 1)][0]
            if status in TERMINAL_STATUSES:
                if self._ended_at is None:
                    self._ended_at = max(now, self.begin_time)
                ended = self._ended_at
            else:
                ended = None
        self.polls += 1
        data: dict[str, Any] = {
            "id": self.job_id,
            "status": status,
            "begin_time": render_time(self.begin_time, self.time_format),
        }
        if ended is not None:
            data["end_time"] = render_time(ended, self.time_format)
        elif self.null_end_time:
            data["end_time"] = None
        return data
