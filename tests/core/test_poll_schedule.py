"""The growing poll schedule: its pauses for young and old jobs, its cap, jitter and the task's timeout."""

from __future__ import annotations

import random

import pytest

from airflow_provider_cfw.core.poll_schedule import PollSchedule, next_poll_delay
from benchmarks.poll_schedule import durations, measure


def no_jitter() -> float:
    return 0.0


def test_a_young_job_is_polled_at_the_interval() -> None:
    assert next_poll_delay(0.0, 10.0, rng=no_jitter) == 10.0
    assert next_poll_delay(99.0, 10.0, growth=0.1, rng=no_jitter) == 10.0


def test_an_old_job_is_polled_less_often_up_to_the_cap() -> None:
    assert next_poll_delay(300.0, 10.0, growth=0.1, cap=60.0, rng=no_jitter) == 30.0
    assert next_poll_delay(10_000.0, 10.0, growth=0.1, cap=60.0, rng=no_jitter) == 60.0
    # An interval above the cap is the user's: kept.
    assert next_poll_delay(10_000.0, 90.0, growth=0.1, cap=60.0, rng=no_jitter) == 90.0
    # No growth: today's fixed interval.
    assert next_poll_delay(10_000.0, 10.0, growth=0.0, rng=no_jitter) == 10.0


def test_jitter_only_shortens_and_spreads() -> None:
    rng = random.Random(3)
    delays = [
        next_poll_delay(600.0, 10.0, growth=0.1, cap=60.0, jitter=0.1, rng=rng.random) for _ in range(200)
    ]
    assert all(54.0 <= d <= 60.0 for d in delays)
    assert len(set(delays)) == 200


def test_the_last_pause_ends_at_the_tasks_timeout() -> None:
    assert next_poll_delay(600.0, 10.0, remaining=7.5, rng=no_jitter) == 7.5
    assert next_poll_delay(600.0, 10.0, remaining=500.0, rng=no_jitter) == 60.0
    # Past the timeout (Airflow ends the wait): no busy loop, the interval.
    assert next_poll_delay(600.0, 10.0, growth=0.0, remaining=-1.0, rng=no_jitter) == 10.0


@pytest.mark.parametrize(
    ("field", "value"), [("interval", -1.0), ("growth", float("nan")), ("cap", -5.0), ("jitter", 1.0)]
)
def test_bad_schedules_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"^{field}: expected"):
        PollSchedule(**{"interval": 10.0, field: value})  # type: ignore[arg-type]


def test_on_the_job_mix_it_makes_fewer_polls_than_the_fixed_interval() -> None:
    jobs = durations(1000)
    fixed = measure(PollSchedule(10.0, growth=0.0, jitter=0.0), jobs, None)
    growing = measure(PollSchedule(10.0, growth=0.1, cap=60.0), jobs, None)
    assert growing["polls_per_wait"] < 0.9 * fixed["polls_per_wait"]
    assert growing["max"] <= 60.0 and fixed["max"] <= 10.0
