"""How long a trigger holds an event that resumes its task on a worker, from the deployment's settings.

Airflow 3.3.2's scheduler fails a resumed task when it takes in the executor's ``success`` of the try
that deferred only after it has queued the task again (``_process_executor_events``: the task is
``queued``, the executor no longer has it). That ``success`` comes once the worker's supervisor has
seen the deferring process exit, and its wait loop (``ActivitySubprocess._monitor_subprocess``) sees
an exit that follows the process's last socket close only at its next wake-up, up to
``[workers] min_heartbeat_interval`` later (5 s by default). The scheduler then takes the event in at
its next loop, up to ``[scheduler] scheduler_idle_sleep_time`` later when idle (1 s). Airflow 2's
task runner waits on the process itself and returns at its exit: no interval there.

The margin covers the rest (the process's own exit, the executor's report, a loaded machine), and
is set by the two measurements at hand: 5 s held 500 waits of 500 with an interval of 1 s, at load
averages up to 16 (``make race``); at Airflow's defaults, 5 s lost 4 waits of 24 and 10 s none.
"""

from __future__ import annotations

import math

#: Seconds added to the two settings: with them at Airflow's defaults (5 and 1) the hold is the
#: 10 s measured safe there; with an interval of 1 s it is 6 s, above the 5 s measured safe there.
HOLD_MARGIN_SECONDS = 4.0


def scheduler_hold_seconds(
    *, min_heartbeat_interval: float, scheduler_idle_sleep_time: float, airflow_major: int
) -> float:
    """Seconds after a deferral before an event may resume the task on a worker.

    :param min_heartbeat_interval: ``[workers] min_heartbeat_interval`` of the worker that deferred.
    :param scheduler_idle_sleep_time: ``[scheduler] scheduler_idle_sleep_time``.
    :param airflow_major: Airflow's major version; only Airflow 3's supervisor waits out the interval.
    :raises ValueError: a setting that is not a finite number of seconds, 0 or more, named.
    """
    for name, value in (
        ("[workers] min_heartbeat_interval", min_heartbeat_interval),
        ("[scheduler] scheduler_idle_sleep_time", scheduler_idle_sleep_time),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ValueError(f"{name} must be a finite number of seconds, 0 or more; got {value!r}")
    supervisor_wait = float(min_heartbeat_interval) if airflow_major >= 3 else 0.0
    return supervisor_wait + float(scheduler_idle_sleep_time) + HOLD_MARGIN_SECONDS


def configured_scheduler_hold_seconds() -> float:
    """:func:`scheduler_hold_seconds` from this process's Airflow configuration.

    Call it where the task defers (a worker), not on the triggerer's event loop: a setting given as
    ``_cmd`` or ``_secret`` runs a command or asks a secrets backend. The worker's own
    ``min_heartbeat_interval`` is the one its supervisor waits out.
    """
    from airflow import __version__ as airflow_version
    from airflow.configuration import conf

    return scheduler_hold_seconds(
        min_heartbeat_interval=conf.getfloat("workers", "min_heartbeat_interval", fallback=5.0),
        scheduler_idle_sleep_time=conf.getfloat("scheduler", "scheduler_idle_sleep_time", fallback=1.0),
        airflow_major=int(airflow_version.split(".")[0]),
    )
