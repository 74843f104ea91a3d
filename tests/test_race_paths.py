"""The race measurement counts wrongly failed waits per path (issue 33): create and delete apart, each
sensor mode by how its job ended, so one path's losses never hide in another's total."""

from __future__ import annotations

from tests.e2e.race_bench import race_table
from tests.e2e.waits import FIREWALL, Batch, Wait


def _wait(mode: str, task_id: str, outcome: str, state: str, mismatch: bool = False) -> Wait:
    return Wait(mode, f"e2e_cfw_race_{mode}", "run-1", task_id, None, outcome, state=state, mismatch=mismatch)


def test_create_and_delete_are_counted_apart() -> None:
    batch = Batch(FIREWALL, loads=[4.0, 6.0], hold_s=10.0)
    batch.waits = [
        _wait(FIREWALL, "create_0", "Success", "success"),
        _wait(FIREWALL, "delete_0", "Success", "failed"),
        _wait(FIREWALL, "create_1", "Success", "success"),
    ]
    paths = batch.paths()
    assert list(paths) == ["create", "delete"]
    assert [w.wrongly_failed for w in paths["delete"]] == [True]
    assert not any(w.wrongly_failed for w in paths["create"])
    rows = race_table([batch]).splitlines()[2:]
    assert rows == [
        "| create | 2 | 0 | 0.00 | 4.0 / 5.0 | 10 s |",
        "| delete | 1 | 1 | 0.00 | 4.0 / 5.0 | 10 s |",
    ]


def test_a_sensor_mode_is_split_by_its_jobs_outcome() -> None:
    batch = Batch("worker")
    batch.waits = [
        _wait("worker", "wait_0", "Success", "success"),
        # A failed job's task ends failed anyway: only the scheduler's stale-event line counts it.
        _wait("worker", "wait_5", "Failed", "failed", mismatch=True),
        _wait("worker", "wait_4", "Failed", "failed"),
    ]
    paths = batch.paths()
    assert list(paths) == ["worker Success", "worker Failed"]
    assert [w.wrongly_failed for w in paths["worker Failed"]] == [True, False]
