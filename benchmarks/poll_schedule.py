"""``python -m benchmarks.poll_schedule``: polls per wait and detection latency of the growing poll
schedule (:mod:`airflow_provider_cfw.core.poll_schedule`) against today's fixed interval.

The schedule is a pure function, so each wait is replayed exactly (no server, no clock): the first
poll after the trigger's spread delay (a fraction of the interval), then one per pause, until the first
poll at or after the job's end. The job durations are an assumed mix (Huawei publishes none): firewall
creations of a few minutes, deletions of one or two, and short jobs, each log-normal around its median.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from airflow_provider_cfw.core.poll_schedule import PollSchedule

#: (share of the waits, median seconds, log-normal sigma): what each kind of job takes.
JOB_MIX = (
    (0.5, 240.0, 0.5),  # firewall creations: about 2 to 9 minutes
    (0.3, 90.0, 0.4),  # firewall deletions: about 45 s to 3 minutes
    (0.2, 15.0, 0.6),  # short jobs
)


def durations(count: int, seed: int = 7) -> list[float]:
    rng = random.Random(seed)  # noqa: S311 - a replayable mix, not cryptography
    out = []
    for share, median, sigma in JOB_MIX:
        out += [median * math.exp(rng.gauss(0.0, sigma)) for _ in range(round(count * share))]
    return out


@dataclass(frozen=True)
class Outcome:
    polls: int
    latency: float


def replay(duration: float, schedule: PollSchedule, rng: random.Random, timeout: float | None) -> Outcome:
    """One wait: the polls until the first at or after the job's end, and how late that one was."""
    now = schedule.interval * rng.random()  # the trigger's spread first poll
    polls = 1
    while now < duration:
        remaining = None if timeout is None else timeout - now
        now += schedule.next_delay(now, remaining=remaining, rng=rng.random)
        polls += 1
    return Outcome(polls, now - duration)


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def measure(
    schedule: PollSchedule, jobs: Sequence[float], timeout: float | None, seed: int = 11
) -> dict[str, float]:
    rng = random.Random(seed)  # noqa: S311 - a replayable mix, not cryptography
    outcomes = [replay(d, schedule, rng, timeout) for d in jobs]
    latencies = [o.latency for o in outcomes]
    return {
        "polls_per_wait": statistics.fmean(o.polls for o in outcomes),
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
        "max": max(latencies),
    }


def table(interval: float, jobs: Sequence[float], timeout: float | None) -> str:
    rows = [
        ("fixed interval (today)", PollSchedule(interval, growth=0.0, jitter=0.0)),
        ("growing: 5% of the job's age, cap 30 s", PollSchedule(interval, growth=0.05, cap=30.0)),
        ("growing: 10% of the job's age, cap 60 s", PollSchedule(interval, growth=0.1, cap=60.0)),
        ("growing: 20% of the job's age, cap 120 s", PollSchedule(interval, growth=0.2, cap=120.0)),
    ]
    lines = [
        f"{len(jobs)} waits, poll interval {interval:g} s; job durations: median "
        f"{statistics.median(jobs):.0f} s, p95 {pct(jobs, 95):.0f} s, max {max(jobs):.0f} s",
        "",
        "| schedule | polls per wait | fewer polls | seen after the job ended: p50 / p95 / max |",
        "|---|---|---|---|",
    ]
    fixed = None
    for label, schedule in rows:
        m = measure(schedule, jobs, timeout)
        fixed = fixed or m["polls_per_wait"]
        lines.append(
            f"| {label} | {m['polls_per_wait']:.1f} | {1 - m['polls_per_wait'] / fixed:.0%} "
            f"| {m['p50']:.1f} s / {m['p95']:.1f} s / {m['max']:.1f} s |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.poll_schedule", description=__doc__)
    parser.add_argument("--waits", type=int, default=10_000, help="replayed waits (default 10,000)")
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval (default 10 s)")
    parser.add_argument("--timeout", type=float, help="the task's timeout in seconds (default none)")
    args = parser.parse_args(argv)
    print(table(args.interval, durations(args.waits), args.timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
