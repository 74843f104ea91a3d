"""What the running Airflow can do, and so when a CFW wait may skip its worker starts.

The version facts (which Airflow renders trigger templates, who can store the XCom of a task the
triggerer ends, whether listeners are installed) and the deferral policy built on them: a deferrable wait costs two
worker task starts, the one that pokes once and defers and the one that resumes after the event.
``end_from_trigger`` saves the second on success, ``start_from_trigger`` (Airflow 3.3 or later) the
first. Each decision comes with the reason the task logs. The sensor and the operators pass their own
class as the ``base`` a subclass is compared with; nothing here imports them.
"""

from __future__ import annotations

import enum
import importlib
import math
import re
from typing import Any

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

#: What a job id template may not do on the triggerer: Airflow 3.3.2's triggerer cannot answer
#: ``ti.xcom_pull(task_ids=...)`` (its supervisor refuses GetXComSequenceSlice) and the trigger hangs
#: until the deferral times out. With ``map_indexes=-1`` the pull is a GetXCom, which it answers.
XCOM_READS = re.compile(r"xcom_pull")
XCOM_READ_ONE = re.compile(r"map_indexes\s*=")
#: Airflow 3.3 renders a started-on-the-triggerer trigger's templated fields (apache/airflow PR #55068);
#: 3.1 and 3.2 disabled starting on the triggerer, 2.10 to 3.0 took fixed values only.
START_FROM_TRIGGER_SINCE = (3, 3, 0)


def airflow_version() -> tuple[int, int, int]:
    major, minor, micro = Version(Version(AIRFLOW_VERSION).base_version).release[:3]
    return major, minor, micro


def listeners_installed() -> bool:
    """Whether this process has Airflow listeners (OpenLineage is one), as Airflow's DAG bag asks.

    Airflow refuses a DAG whose task has ``end_from_trigger`` set when listeners are installed, since
    no worker would call them at the task's end. The task runner of Airflow 3 has its own manager.
    """
    for module in ("airflow.sdk.listener", "airflow.listeners.listener"):
        try:
            manager = importlib.import_module(module).get_listener_manager()
        except ImportError:
            continue
        if manager.has_listeners:
            return True
    return False


def end_from_trigger_decision(task: Any, requested: bool | None, base: type) -> tuple[bool, str]:
    """Whether the trigger ends the task on a job's success, and why (for the task's log).

    ``None`` (auto) turns it on only where nothing the user can see changes but the saved worker
    start: the same XCom, stored where a worker stores it, and nothing that runs only when a worker
    ends the task.

    :param task: the deferring task (the sensor, or an operator whose resume only returns a value).
    :param requested: its ``end_from_trigger`` argument.
    :param base: the provider's class whose ``execute_complete`` the trigger stands in for (the
        sensor's, or the operator's): a subclass that overrides what it has is a reason to stay off.
    """
    if requested is not None:
        return bool(requested), f"end_from_trigger={requested}"
    cls = type(task)
    reasons = [
        # Airflow would refuse the DAG with end_from_trigger=True; auto simply stays off.
        ("listeners are installed", listeners_installed()),
        # The triggerer sends it to the DAG processor instead of running it on a worker.
        ("on_success_callback is set", bool(getattr(task, "on_success_callback", None))),
        # Airflow 3 runs it at every worker start: one start fewer would run it once fewer.
        ("on_execute_callback is set", bool(getattr(task, "on_execute_callback", None))),
        # Asset events are emitted by a worker that ends the task, not by the triggerer.
        ("the task has outlets", bool(getattr(task, "outlets", None))),
        ("multiple_outputs is set", bool(getattr(task, "multiple_outputs", False))),
        (
            f"Airflow {AIRFLOW_VERSION}'s triggerer cannot store the XCom as a worker does",
            bool(getattr(task, "do_xcom_push", True)) and xcom_route(airflow_version()) is XComRoute.WORKER,
        ),
        # A worker that pushes the return value also records how many items a mapped task expands
        # to (the TaskMap row); the triggerer does not, and the downstream expansion would fail.
        ("a downstream task maps over its output", _maps_over_output(task)),
        ("post_execute is set", bool(getattr(task, "_post_execute_hook", None))),
        # What a worker would run at the end and the triggerer would not.
        *((f"a subclass overrides {name}", _overrides(cls, base, name)) for name in RESUME_METHODS),
    ]
    blockers = [reason for reason, applies in reasons if applies]
    if blockers:
        return False, f"end_from_trigger auto: off, {', '.join(blockers)}"
    return True, "end_from_trigger auto: on, no listeners, callbacks, outlets or overrides"


#: What a worker runs when it ends a deferred task, the provider's classes that have them: a
#: subclass that overrides one would see it skipped when the triggerer ends the task.
RESUME_METHODS = (
    "post_execute",
    "execute_complete",
    "execute_complete_creation",
    "job_ended",
    "creation_ended",
)


def _maps_over_output(task: Any) -> bool:
    """Whether a mapped task downstream expands over this task's return value (Airflow 2.11 and 3)."""
    if not task.has_dag():  # a task outside a DAG has no downstream to map
        return False
    return next(task.iter_mapped_dependants(), None) is not None


def _overrides(cls: type, base: type, name: str) -> bool:
    return getattr(cls, name, None) is not getattr(base, name, None)


def start_from_trigger_fallback(task: Any) -> str | None:
    """Why this sensor cannot start its wait on the triggerer, or ``None`` if it can.

    :param task: the sensor, built with ``start_from_trigger=True``.
    """
    if airflow_version() < START_FROM_TRIGGER_SINCE:
        return (
            f"Airflow {AIRFLOW_VERSION} cannot render the job id on the triggerer "
            f"(Airflow {'.'.join(map(str, START_FROM_TRIGGER_SINCE))} or later can)"
        )
    for field in ("job_id", "project_id", "cfw_conn_id"):
        value = getattr(task, field)
        if value is not None and not isinstance(value, str):
            # An XComArg: Airflow resolves it on a worker only, never on the triggerer.
            return f"{field} is a {type(value).__name__}, which only a worker resolves"
        if value is not None and XCOM_READS.search(value) and not XCOM_READ_ONE.search(value):
            return (
                f"{field} reads an XCom without map_indexes, which Airflow {AIRFLOW_VERSION}'s triggerer "
                "cannot render (add map_indexes=-1 to the xcom_pull to start on the triggerer)"
            )
    return None


# ---- who stores the XCom of a task the triggerer ends --------------------------------------------------

#: The first Airflow 3 whose triggerer answers a trigger's ``SetXCom`` (its ``ToTriggerSupervisor``
#: accepts it and stores it through the execution API, as a worker's supervisor does).
TRIGGER_PUSH_SINCE = (3, 0, 6)


class XComRoute(enum.Enum):
    """Who stores the XCom of a task that ends on the triggerer, so that ``xcom_pull`` gets the value."""

    #: Airflow 2: the triggerer, from the event's ``xcoms``, with the configured backend's ``XCom.set``.
    EVENT = "event"
    #: Airflow 3.0.6 or later: the trigger, with the task SDK's ``XCom.set``, before it fires the event.
    TRIGGER = "trigger"
    #: Airflow 3.0.0 to 3.0.4: only a worker; the task must resume on one.
    WORKER = "worker"


def xcom_route(version: tuple[int, int, int]) -> XComRoute:
    """Who can store a task's return value when the triggerer ends the task, on this Airflow version.

    :param version: Airflow's ``(major, minor, micro)``.
    """
    if version < (3, 0, 0):
        return XComRoute.EVENT
    if version < TRIGGER_PUSH_SINCE:
        return XComRoute.WORKER
    return XComRoute.TRIGGER


# ---- how long an event that resumes a worker is held -----------------------------------------------------

#: Airflow 3.3.2's scheduler fails a resumed task when it takes in the executor's ``success`` of the try
#: that deferred only after it has queued the task again (``_process_executor_events``: the task is
#: ``queued``, the executor no longer has it). That ``success`` comes once the worker's supervisor has
#: seen the deferring process exit, and its wait loop (``ActivitySubprocess._monitor_subprocess``) sees
#: an exit that follows the process's last socket close only at its next wake-up, up to
#: ``[workers] min_heartbeat_interval`` later (5 s by default). The scheduler then takes the event in at
#: its next loop, up to ``[scheduler] scheduler_idle_sleep_time`` later when idle (1 s). Airflow 2's
#: task runner waits on the process itself and returns at its exit: no interval there.
#:
#: The margin covers the rest (the process's own exit, the executor's report, a loaded machine), and
#: is set by the two measurements at hand: 5 s held 500 waits of 500 with an interval of 1 s, at load
#: averages up to 16 (``make race``); at Airflow's defaults, 5 s lost 4 waits of 24 and 10 s none.
#: Seconds added to the two settings: with them at Airflow's defaults (5 and 1) the hold is the
#: 10 s measured safe there; with an interval of 1 s it is 6 s, above the 5 s measured safe there.
HOLD_MARGIN_SECONDS = 4.0
#: Where a deployment sets its own margin (``AIRFLOW__CFW__SCHEDULER_HOLD_MARGIN``): a scheduler whose
#: loop runs slower than the measured stacks' (a busy metadata database, a remote executor) needs more.
HOLD_MARGIN_OPTION = ("cfw", "scheduler_hold_margin")


def scheduler_hold_seconds(
    *,
    min_heartbeat_interval: float,
    scheduler_idle_sleep_time: float,
    airflow_major: int,
    margin: float = HOLD_MARGIN_SECONDS,
) -> float:
    """Seconds after a deferral before an event may resume the task on a worker.

    :param min_heartbeat_interval: ``[workers] min_heartbeat_interval`` of the worker that deferred.
    :param scheduler_idle_sleep_time: ``[scheduler] scheduler_idle_sleep_time``.
    :param airflow_major: Airflow's major version; only Airflow 3's supervisor waits out the interval.
    :param margin: ``[cfw] scheduler_hold_margin``: seconds on top of the two settings.
    :raises ValueError: a setting that is not a finite number of seconds, 0 or more, named.
    """
    for name, value in (
        ("[workers] min_heartbeat_interval", min_heartbeat_interval),
        ("[scheduler] scheduler_idle_sleep_time", scheduler_idle_sleep_time),
        ("[cfw] scheduler_hold_margin", margin),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ValueError(f"{name} must be a finite number of seconds, 0 or more; got {value!r}")
    supervisor_wait = float(min_heartbeat_interval) if airflow_major >= 3 else 0.0
    return supervisor_wait + float(scheduler_idle_sleep_time) + float(margin)


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
        margin=conf.getfloat(*HOLD_MARGIN_OPTION, fallback=HOLD_MARGIN_SECONDS),
    )
