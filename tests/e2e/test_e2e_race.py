"""Issue 26 on a real Airflow 3 stack: no job's success may end as a failed task, in any way the
provider waits. Short jobs (Running 1 to 3 polls, then Success; one in six fails), several waits per
DAG run, two runs at once, ``retries=0``: the waits that Airflow 3.3.2's scheduler fails when it drains
the deferring try's executor event after the trigger has queued the task again. ``make race`` runs
100 or more per mode (``tests/e2e/race_bench.py``); this is the small version that ``make test`` runs.

The stack runs with Airflow's defaults for every setting that times a deferral (issue 33: a 1 s
``[workers] min_heartbeat_interval`` hid the race), and the default-argument sensor whose job fails
(resumed on a worker) runs too. The path with a listener installed needs a stack of its own (about 3
minutes more), so only ``make race`` runs it; tests/test_race_paths.py checks its plugin turns auto
``end_from_trigger`` off.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.e2e.stack import airflow_major
from tests.e2e.waits import DEFAULT_MODES, FAILED, FIREWALL, SENSOR_MODES, Batch, WaitsRun, summary

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

#: Waits per mode: two DAG runs of 6 sensors, or of 3 create/delete pairs.
WAITS = 12
#: Worker task starts per wait, by how the job ends: the deferring start and the resume; none for a
#: success ended on the triggerer; no deferring start when the wait starts on the triggerer.
STARTS = {
    "worker": {"Success": 2, "Failed": 2},
    "end_from_trigger": {"Success": 1, "Failed": 2},
    "start_from_trigger": {"Success": 0, "Failed": 1},
    "default": {"Success": 1},
    "failed": {"Failed": 2},
    FIREWALL: {"Success": 1},
}


@pytest.fixture(scope="module")
def race() -> Iterator[WaitsRun]:
    with WaitsRun(keep_home=bool(os.environ.get("CFW_E2E_KEEP")), timing_defaults=True) as run:
        yield run


def test_every_way_to_wait_is_offered(race: WaitsRun) -> None:
    offered = race.modes()
    expected = [*SENSOR_MODES, *DEFAULT_MODES, FIREWALL]
    if airflow_major() >= 3 and "start_from_trigger" not in offered:
        pytest.fail(f"the start_from_trigger DAG did not parse; offered: {offered}")
    assert offered == expected


#: The modes this small version runs, within about a minute of what it ran before issue 33: the paths
#: that end a success on the triggerer once (``end_from_trigger=True``, and the default, which decides
#: the same here and whose worker starts tests/e2e/test_e2e_worker_free.py counts) are left to
#: ``make race``; the default-argument sensor whose job fails, which resumes on a worker, runs.
MODES = ["worker", "start_from_trigger", FAILED, FIREWALL]


@pytest.mark.parametrize("mode", MODES)
def test_no_job_success_ends_as_a_failed_task(race: WaitsRun, mode: str) -> None:
    check_batch(race, mode)


def check_batch(race: WaitsRun, mode: str) -> None:
    """``WAITS`` waits of ``mode``: none wrongly failed, each ended as its job did, with the worker
    starts its path costs."""
    batch: Batch = race.run_mode(mode, WAITS, idle_seconds=0)
    why = summary([batch])
    assert len(batch.waits) == WAITS, why
    assert batch.wrongly_failed == [], why
    ends = {(w.task_id, w.run_id): (w.outcome, w.state) for w in batch.waits}
    assert all(
        state == ("success" if outcome == "Success" else "failed") for outcome, state in ends.values()
    ), ends
    starts = {(w.run_id, w.task_id): w.starts for w in batch.waits}
    expected = {(w.run_id, w.task_id): STARTS[mode][w.outcome] for w in batch.waits}
    assert starts == expected, why
