"""E2E only, on the Airflow processes' PYTHONPATH: a custom XCom backend, and a deferrable operator
whose trigger ends the task with :func:`~airflow_provider_cfw.triggers.task_success.task_success_event`.

``FileXCom`` stands for an object-storage backend: it writes each value to a file in ``CFW_E2E_XCOM_DIR``
(with the Airflow process that wrote it) and keeps only a reference in the XCom table, so the test can
tell a push through the configured backend from one that bypassed it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.bases.xcom import BaseXCom
from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

from airflow_provider_cfw.triggers.task_success import task_success_event

PREFIX = "cfw-e2e-xcom://"


class FileXCom(BaseXCom):
    """Values in files, references in the table; the file says which Airflow process wrote it."""

    @staticmethod
    def serialize_value(value: Any, **ids: Any) -> Any:
        path = Path(os.environ["CFW_E2E_XCOM_DIR"]) / f"{uuid.uuid4().hex}.json"
        # argv survives the fork: "triggerer" for the trigger runner, "scheduler" for a LocalExecutor worker.
        path.write_text(json.dumps({"value": value, "ids": ids, "process": sys.argv[1:2]}))
        return PREFIX + path.name

    @staticmethod
    def deserialize_value(result: Any) -> Any:
        stored = result.value
        if isinstance(stored, str) and stored.startswith(PREFIX):
            path = Path(os.environ["CFW_E2E_XCOM_DIR"]) / stored.removeprefix(PREFIX)
            return json.loads(path.read_text())["value"]
        return BaseXCom.deserialize_value(result)


class EndingTrigger(BaseTrigger):
    """Ends its task with ``value``: pushed by the trigger (``task_success_event``), or, as the control,
    in the event's ``xcoms`` (``via="event"``). A ``None`` from ``task_success_event`` resumes the task."""

    def __init__(self, value: Any, via: str = "trigger") -> None:
        super().__init__()
        self.value = value
        self.via = via

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {"value": self.value, "via": self.via}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        await asyncio.sleep(0.5)
        if self.via == "event":
            yield TaskSuccessEvent(xcoms={"return_value": self.value})
            return
        event = await task_success_event(self, self.value, push=True)
        yield event if event is not None else TriggerEvent({"resumed": self.value})


class EndOnTriggererOperator(BaseOperator):
    """Defers at once; resumes on a worker only if the trigger could not end the task."""

    def __init__(self, *, value: Any, via: str = "trigger", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value = value
        self.via = via

    def execute(self, context: Any) -> None:
        self.defer(trigger=EndingTrigger(self.value, self.via), method_name="execute_complete")

    def execute_complete(self, context: Any, event: Any = None) -> Any:
        return event["resumed"]
