"""The race measurement (issue 33): wrongly failed waits counted per path (create and delete apart, each
sensor mode by how its job ended, so one path's losses never hide in another's total), and the listener
plugin that puts a default-argument success back on a worker."""

from __future__ import annotations

import importlib.util

from airflow_provider_cfw.sensors.cfw import CfwJobSensor
from airflow_provider_cfw.version_compat import end_from_trigger_decision
from tests.e2e.race_bench import race_table
from tests.e2e.waits import FIREWALL, LISTENER_PLUGIN, Batch, Wait
from tests.listeners import listeners


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


def test_the_listener_plugin_turns_auto_end_from_trigger_off() -> None:
    """What the ``listeners`` path measures: with the plugin's listener registered (as Airflow's plugins
    manager registers it, hook checked against Airflow's spec), a default-argument sensor resumes on a
    worker; without it, it ends on the triggerer."""
    spec = importlib.util.spec_from_file_location("e2e_cfw_listener", LISTENER_PLUGIN)
    assert spec is not None and spec.loader is not None
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    sensor = CfwJobSensor(task_id="wait", job_id="job", deferrable=True)
    with listeners(*plugin.E2eListenerPlugin.listeners):
        end, why = end_from_trigger_decision(sensor, None, CfwJobSensor)
    assert (end, "listeners are installed" in why) == (False, True), why
    with listeners():
        assert end_from_trigger_decision(sensor, None, CfwJobSensor)[0] is True
