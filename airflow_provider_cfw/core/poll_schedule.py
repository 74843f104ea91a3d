"""How long to wait before the next poll of a job: a fixed interval at first, then longer as the job runs.

A firewall creation takes minutes: polled every 10 s from start to end, most of its reads only say
"Running" again, and each spends from the account's API budget (see
:mod:`~airflow_provider_cfw.core.rate_limit`). :func:`next_poll_delay` keeps the interval for young
jobs, then lets the pause grow with the job's age (a fixed share of it, so the end of a job is seen
within that share of its run time), up to a cap, with jitter so that waits started together drift
apart, and never past the task's timeout.

Pure: the caller keeps the time and the random numbers, so a test (or a benchmark) can replay it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

#: The longest pause a growing schedule reaches by default.
DEFAULT_POLL_CAP_SECONDS = 60.0


@dataclass(frozen=True)
class PollSchedule:
    """A poll schedule that grows toward a cap for jobs that have run long.

    :param interval: the pause while the job is young, in seconds (the task's ``poll_interval``).
    :param growth: the pause once the job has run long: this share of the time it has run so far (0
        keeps the interval for the whole wait: the fixed schedule).
    :param cap: the pause never grows past this (a longer ``interval`` is kept as it is).
    :param jitter: each pause is shortened by up to this share, at random: never longer than planned.
    """

    interval: float
    growth: float = 0.1
    cap: float = DEFAULT_POLL_CAP_SECONDS
    jitter: float = 0.1

    def __post_init__(self) -> None:
        for name in ("interval", "growth", "cap", "jitter"):
            value = getattr(self, name)
            if not value >= 0:  # NaN too
                raise ValueError(f"{name}: expected a number, 0 or more; got {value!r}")
        if self.jitter >= 1:
            raise ValueError(f"jitter: expected a share below 1; got {self.jitter!r}")

    def next_delay(
        self, elapsed: float, *, remaining: float | None = None, rng: Callable[[], float] = random.random
    ) -> float:
        """See :func:`next_poll_delay`."""
        return next_poll_delay(
            elapsed,
            self.interval,
            growth=self.growth,
            cap=self.cap,
            jitter=self.jitter,
            remaining=remaining,
            rng=rng,
        )


def next_poll_delay(
    elapsed: float,
    interval: float,
    *,
    growth: float = 0.1,
    cap: float = 60.0,
    jitter: float = 0.1,
    remaining: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds until the next poll.

    :param elapsed: seconds the job has been running (or waited for) so far.
    :param interval: the pause while the job is young; it is never shortened but by the jitter.
    :param growth: the planned pause is ``max(interval, min(cap, growth * elapsed))``.
    :param cap: see ``growth``.
    :param jitter: the planned pause is shortened by ``jitter * rng()`` of itself.
    :param remaining: seconds left before the task's timeout, if it has one: the pause ends by then, so
        that the last poll before the timeout is not skipped. Past the timeout, the interval.
    :param rng: a number in ``[0, 1)`` (``random.random``).
    """
    planned = max(interval, min(cap, growth * elapsed))
    delay = planned * (1.0 - jitter * rng())
    if remaining is not None and 0 < remaining < delay:
        return remaining
    return delay
