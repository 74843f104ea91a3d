"""Read a triggerer failover back from the emulator's request log: who polled which job, when.

Every process of the HA stack signs with an access key of its own (same account, same project), so
the AK in each request's ``Authorization`` header names the process that sent it: the workers share
the stack's key, each triggerer has its own. The signature is verified by the emulator, so a request
cannot carry another process's AK by accident. Pure functions: the HA test feeds them the log and
Airflow's records; their own tests feed them made-up polls.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from airflow_provider_cfw.testing.stats import RequestLogEntry

#: The label of requests signed with the workers' key (the sensor's first poke runs on a worker).
WORKER = "worker"
#: The summary lines of this session's rounds, printed at its end by tests/e2e/conftest.py.
SUMMARY_LINES: list[str] = []


@dataclass(frozen=True)
class Poll:
    """One List Job Status request as the emulator logged it."""

    job_id: str
    at: float
    who: str


def polls_by_job(
    log: Iterable[RequestLogEntry], who_by_ak: Mapping[str, str], job_ids: Collection[str]
) -> dict[str, list[Poll]]:
    """The polls of each of ``job_ids``, oldest first, labelled with the process that signed them
    (``unknown:<AK>`` for a key nobody was given)."""
    wanted = set(job_ids)
    polls: dict[str, list[Poll]] = {job_id: [] for job_id in wanted}
    for entry in log:
        if entry.route != "cfw.job":
            continue
        job_id = entry.path.rsplit("/", 1)[-1]
        if job_id in wanted:
            who = who_by_ak.get(entry.access_key or "", f"unknown:{entry.access_key}")
            polls[job_id].append(Poll(job_id, entry.at, who))
    for job_polls in polls.values():
        job_polls.sort(key=lambda p: p.at)
    return polls


def trigger_polls(polls: Iterable[Poll]) -> list[Poll]:
    return [p for p in polls if p.who != WORKER]


def pollers_after(polls: Mapping[str, list[Poll]], since: float) -> dict[str, set[str]]:
    """For each job, the triggerers that polled it after ``since``."""
    return {job_id: {p.who for p in trigger_polls(ps) if p.at > since} for job_id, ps in polls.items()}


def polled_by_two(polls: Mapping[str, list[Poll]], since: float) -> dict[str, set[str]]:
    """Jobs that more than one triggerer polled after ``since``: one wait run twice."""
    return {job_id: who for job_id, who in pollers_after(polls, since).items() if len(who) > 1}


def poll_gaps(polls: Mapping[str, list[Poll]]) -> dict[str, float]:
    """For each job, the longest gap between two consecutive triggerer polls.

    The worker's first poke is left out: the gap after it is the deferral's (scheduling, trigger
    assignment), not the failover's.
    """
    gaps = {}
    for job_id, job_polls in polls.items():
        times = [p.at for p in trigger_polls(job_polls)]
        gaps[job_id] = max((after - before for before, after in itertools.pairwise(times)), default=0.0)
    return gaps


def max_poll_gap(polls: Mapping[str, list[Poll]]) -> tuple[float, str | None]:
    """The longest gap between two consecutive triggerer polls of one job, and that job."""
    gaps = poll_gaps(polls)
    worst = max(gaps, key=lambda job: gaps[job], default=None)
    return (gaps[worst], worst) if worst is not None else (0.0, None)


@dataclass(frozen=True)
class Adoption:
    """Who took over the killed triggerer's waits, and how fast."""

    adopters: dict[str, str]
    """job id -> the process that polled it first after the kill"""
    orphans: frozenset[str]
    """held jobs nobody polled after the kill"""
    seconds: float | None
    """from the kill to the last held job's first poll by its adopter"""


def adoption(polls: Mapping[str, list[Poll]], held: Collection[str], killed: str, kill_at: float) -> Adoption:
    adopters: dict[str, str] = {}
    latest = None
    for job_id in held:
        after = [p for p in trigger_polls(polls.get(job_id, [])) if p.at > kill_at and p.who != killed]
        if after:
            adopters[job_id] = after[0].who
            latest = after[0].at if latest is None else max(latest, after[0].at)
    orphans = frozenset(set(held) - set(adopters))
    return Adoption(adopters, orphans, None if latest is None else latest - kill_at)


def polls_after_end(polls: Mapping[str, list[Poll]], ends: Mapping[str, float]) -> dict[str, int]:
    """Triggerer polls of each job at or after the moment it turned Success: a wait that fires once
    makes exactly one (a second one means two triggers ran it, or it polled on after its event)."""
    return {
        job_id: sum(1 for p in trigger_polls(polls.get(job_id, [])) if p.at >= end)
        for job_id, end in ends.items()
    }


def summary_line(
    waits: int,
    held: int,
    lost: int,
    wrong: int,
    retried: int,
    max_gap: float,
    adopted: int,
    seconds: float | None,
) -> str:
    took = "-" if seconds is None else f"{seconds:.1f}"
    return (
        f"HA: {waits} waits, triggerer killed holding {held}, lost {lost}, wrong {wrong}, "
        f"retried {retried}, max poll gap {max_gap:.1f} s, adopted {adopted} in {took} s"
    )
