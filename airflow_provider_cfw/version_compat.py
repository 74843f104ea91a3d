"""What the running Airflow can do, and so when a CFW wait may skip its worker starts.

The version facts (which Airflow renders trigger templates, which stores a triggerer's XCom as text,
whether listeners are installed) and the deferral policy built on them: a deferrable wait costs two
worker task starts, the one that pokes once and defers and the one that resumes after the event.
``end_from_trigger`` saves the second on success, ``start_from_trigger`` (Airflow 3.3 or later) the
first. Each decision comes with the reason the task logs. The sensor and the operators pass their own
class as the ``base`` a subclass is compared with; nothing here imports them.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

#: From Airflow 3 on, the triggerer stores a TaskSuccessEvent's XComs as JSON text
#: (XComModel.serialize_value) where a worker stores the JSON itself, and the execution API hands the
#: text back as is: a downstream ``xcom_pull`` gets a ``str`` instead of the job's dict (seen on 3.3.2).
XCOM_AS_TEXT_SINCE = (3, 0, 0)
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
    start: the same XCom, and nothing that runs only when a worker ends the task.

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
            f"Airflow {AIRFLOW_VERSION}'s triggerer would store the XCom as JSON text (a str to xcom_pull)",
            bool(getattr(task, "do_xcom_push", True)) and airflow_version() >= XCOM_AS_TEXT_SINCE,
        ),
        ("post_execute is set", bool(getattr(task, "_post_execute_hook", None))),
        # What a worker would run at the end and the triggerer would not.
        *(
            (f"a subclass overrides {name}", _overrides(cls, base, name))
            for name in ("post_execute", "execute_complete", "job_ended")
        ),
    ]
    blockers = [reason for reason, applies in reasons if applies]
    if blockers:
        return False, f"end_from_trigger auto: off, {', '.join(blockers)}"
    return True, "end_from_trigger auto: on, no listeners, callbacks, outlets or overrides"


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
