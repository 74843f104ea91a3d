"""Under a real ``dag.test()``, a trigger that ends its task through ``task_success_event`` resumes it
instead, and a downstream task pulls the value as a dict; a trigger that fires a ``TaskSuccessEvent``
itself hands the task the bare payload ``"success"`` and its XComs are lost (why CfwJobSensor with
``end_from_trigger=True`` fails there: "Unexpected event from CfwJobTrigger ...: 'success'").

``dag.test()`` runs the trigger inline without a task instance, then resumes the task with
``next_kwargs={"event": event.payload}`` (Airflow 3.3.2 ``airflow/sdk/definitions/dag.py`` ``_run_task``,
2.11 ``airflow/models/dag.py`` ``_run_task``). The project is run with pytest in a fresh process, on
the provider plugin's throwaway Airflow (``cfw_dags_folder``), as docs/testing-dags.md does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

DAG = '''
    """Two deferrable tasks whose triggers end them on the triggerer, and a task that pulls both."""

    from __future__ import annotations

    from datetime import datetime, timezone

    try:
        from airflow.sdk import DAG, BaseOperator, task
    except ImportError:  # Airflow 2
        from airflow.decorators import task
        from airflow.models.baseoperator import BaseOperator
        from airflow.models.dag import DAG
    from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

    from airflow_provider_cfw.triggers.task_success import task_success_event

    JOB = {"id": "job-1", "status": "Success", "duration_seconds": 3}


    class EndingTrigger(BaseTrigger):
        def __init__(self, value, direct=False):
            super().__init__()
            self.value, self.direct = value, direct

        def serialize(self):
            return f"{__name__}.EndingTrigger", {"value": self.value, "direct": self.direct}

        async def run(self):
            if self.direct:
                yield TaskSuccessEvent(xcoms={"return_value": self.value})
                return
            event = await task_success_event(self, self.value, push=True)
            yield event if event is not None else TriggerEvent({"resumed": self.value})


    class EndOnTriggerer(BaseOperator):
        def __init__(self, *, direct=False, **kwargs):
            super().__init__(**kwargs)
            self.direct = direct

        def execute(self, context):
            self.defer(trigger=EndingTrigger(JOB, self.direct), method_name="execute_complete")

        def execute_complete(self, context, event=None):
            return event["resumed"] if isinstance(event, dict) else {"handed": str(event)}


    with DAG(
        dag_id="ending",
        schedule=None,
        start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
        catchup=False,
    ) as dag:

        @task
        def pulled(**context):
            ti = context["ti"]
            return {t: [type(v).__name__, v] for t in ("ends", "direct") for v in [ti.xcom_pull(task_ids=t)]}

        [EndOnTriggerer(task_id="ends"), EndOnTriggerer(task_id="direct", direct=True)] >> pulled()
'''

TEST = """
    import importlib
    from pathlib import Path

    def test_dag_test(cfw_airflow_db, monkeypatch, capsys, caplog):
        caplog.set_level("INFO")
        monkeypatch.syspath_prepend(str(Path(__file__).parent / "dags"))
        dag = importlib.import_module("ending").dag

        run = dag.test()

        states = {t: run.get_task_instance(t).state for t in ("ends", "direct", "pulled")}
        assert states == {"ends": "success", "direct": "success", "pulled": "success"}
        pulled = run.get_task_instance("pulled").xcom_pull(task_ids="pulled")
        job = {"id": "job-1", "status": "Success", "duration_seconds": 3}
        assert pulled == {"ends": ["dict", job], "direct": ["dict", {"handed": "success"}]}
        # Airflow 3 prints a trigger's log (structlog), Airflow 2 logs it (logging).
        line = "No task instance to end here (dag.test() runs triggers inline)"
        assert max(capsys.readouterr().out.count(line), caplog.text.count(line)) == 1
"""


def test_dag_test_resumes_a_task_the_trigger_would_end(tmp_path: Path) -> None:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "ending.py").write_text(textwrap.dedent(DAG))
    (tmp_path / "test_ending.py").write_text(textwrap.dedent(TEST))
    (tmp_path / "pytest.ini").write_text("[pytest]\ncfw_dags_folder = dags\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
    env["AIRFLOW_HOME"] = str(tmp_path / "unused-home")  # the plugin replaces it; never written
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_ending.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "1 passed" in result.stdout, result.stdout[-6000:] + result.stderr[-2000:]
    assert not (tmp_path / "unused-home").exists()
