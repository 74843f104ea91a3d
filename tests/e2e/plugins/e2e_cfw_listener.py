"""E2E only: an Airflow plugin that installs a trivial task listener (issue 33).

With any listener installed, ``end_from_trigger`` auto stays off (no worker would call the listener at
the task's end), so a sensor with default arguments resumes on a worker after its job succeeds, and is
exposed to the scheduler's stale-event race again. ``tests/e2e/waits.py`` copies this file into the
plugins folder of the stack that measures that path.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)


class RunningListener:
    """Logs each task instance that starts running: enough to count as an installed listener."""

    @hookimpl
    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        log.info("e2e listener: %s is running", getattr(task_instance, "task_id", task_instance))


class E2eListenerPlugin(AirflowPlugin):
    """Registers :class:`RunningListener`."""

    name = "e2e_cfw_listener"
    listeners = [RunningListener()]
