"""docs/capacity.md's poll_growth snippet, run as a user would paste it: it builds the tasks it shows."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_cfw import CfwCreateFirewallOperator, CfwJobSensor

PAGE = Path(__file__).resolve().parents[1] / "docs" / "capacity.md"


def test_the_poll_growth_snippet_builds_tasks_that_grow_their_pauses() -> None:
    section = PAGE.read_text(encoding="utf-8").split("turn it on with `poll_growth`", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    built = [eval(line, {"CfwJobSensor": CfwJobSensor, "CfwCreateFirewallOperator": CfwCreateFirewallOperator})
             for line in code.strip().splitlines()]  # fmt: skip
    assert [type(task) for task in built] == [CfwJobSensor, CfwCreateFirewallOperator]
    assert all(task.poll_growth == 0.1 for task in built)
