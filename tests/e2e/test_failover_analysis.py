"""The failover analysis on made-up request logs: what each HA assertion counts, and that it catches
the failures it exists for (a wait run twice, a wait nobody adopted, a long silence)."""

from __future__ import annotations

from airflow_provider_cfw.testing.stats import RequestLogEntry
from tests.e2e import failover
from tests.e2e.failover import WORKER

WHO = {"AKW": WORKER, "AK1": "t1", "AK2": "t2", "AK3": "t3"}


def entry(job_id: str, at: float, ak: str, route: str = "cfw.job") -> RequestLogEntry:
    return RequestLogEntry("GET", f"/v3/p/jobs/{job_id}", route, "aksk", 200, 0.01, "r", at=at, access_key=ak)


def log_of(*polls: tuple[str, float, str]) -> dict[str, list[failover.Poll]]:
    entries = [entry(job, at, ak) for job, at, ak in polls]
    return failover.polls_by_job(entries, WHO, {job for job, _, _ in polls})


def test_polls_are_labelled_by_signing_key_and_sorted() -> None:
    entries = [
        entry("a", 3.0, "AK1"),
        entry("a", 1.0, "AKW"),
        entry("b", 2.0, "AK9"),
        entry("a", 2.0, "AK1", route="iam.tokens"),
        entry("other", 1.0, "AK1"),
    ]
    polls = failover.polls_by_job(entries, WHO, ["a", "b"])
    assert [(p.at, p.who) for p in polls["a"]] == [(1.0, WORKER), (3.0, "t1")]
    assert [p.who for p in polls["b"]] == ["unknown:AK9"]


def test_a_wait_polled_by_two_triggerers_after_the_handover_is_reported() -> None:
    polls = log_of(("a", 1, "AK1"), ("a", 20, "AK2"), ("a", 25, "AK3"), ("b", 1, "AK1"), ("b", 20, "AK2"))
    assert failover.polled_by_two(polls, since=10) == {"a": {"t2", "t3"}}
    # Before the hand-over the old owner polled too: that is not a double run.
    assert failover.polled_by_two(polls, since=0) == {"a": {"t1", "t2", "t3"}, "b": {"t1", "t2"}}


def test_max_gap_leaves_out_the_workers_first_poke() -> None:
    polls = log_of(("a", 0, "AKW"), ("a", 30, "AK1"), ("a", 35, "AK1"), ("a", 52, "AK2"), ("b", 40, "AK1"))
    assert failover.max_poll_gap(polls) == (17.0, "a")


def test_adoption_names_adopters_time_and_orphans() -> None:
    polls = log_of(
        ("a", 1, "AK1"),
        ("a", 12, "AK2"),
        ("b", 2, "AK1"),
        ("b", 14, "AK2"),
        ("c", 3, "AK1"),
        ("c", 11, "AK1"),  # the killed one's own late answer does not count as adoption
    )
    adopted = failover.adoption(polls, held={"a", "b", "c"}, killed="t1", kill_at=10)
    assert adopted.adopters == {"a": "t2", "b": "t2"}
    assert adopted.orphans == {"c"}
    assert adopted.seconds == 4


def test_polls_after_the_end_count_a_second_firing() -> None:
    polls = log_of(("a", 5, "AK2"), ("a", 10, "AK2"), ("b", 10, "AK2"), ("b", 11, "AK3"), ("c", 1, "AK2"))
    assert failover.polls_after_end(polls, {"a": 9, "b": 9, "c": 9}) == {"a": 1, "b": 2, "c": 0}


def test_summary_line_format() -> None:
    line = failover.summary_line(40, 22, 0, 0, 0, 17.04, 22, 13.26)
    assert line == (
        "HA: 40 waits, triggerer killed holding 22, lost 0, wrong 0, retried 0, "
        "max poll gap 17.0 s, adopted 22 in 13.3 s"
    )
