"""E2E only, on the Airflow processes' PYTHONPATH: a deferrable operator whose trigger ends the task
with :func:`~airflow_provider_cfw.triggers.task_success.task_success_event`, and the control that ends
it with ``TaskSuccessEvent(xcoms=...)``. (The triggerer imports a trigger by its module path, and the
DAGs folder is not on its path.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

from airflow_provider_cfw.triggers.task_success import task_success_event


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
