"""The firewall DAGs a user copies from the README's "A first DAG" and from docs/operators.md: each is
run as Python and must be create >> work >> delete-as-teardown, the delete finding the firewall by the
create's name. (The same shape runs for real on the e2e stack: dags/e2e_cfw_firewall.py.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from airflow import __version__ as airflow_version

from airflow_provider_cfw.operators.cfw import CfwCreateFirewallOperator, CfwDeleteFirewallOperator

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(
    int(airflow_version.split(".")[0]) < 3, reason="the snippets are written for Airflow 3 (airflow.sdk)"
)
FENCE = re.compile(r"```python\n(.*?)```\n", re.DOTALL)


def lifecycle_block(path: Path, section: str | None = None) -> str:
    text = path.read_text(encoding="utf-8")
    if section is not None:
        start = text.index(section)
        text = text[start : text.index("\n## ", start + len(section))]
    [block] = [b for b in FENCE.findall(text) if "CfwDeleteFirewallOperator(" in b]
    return block


@pytest.mark.parametrize(
    ("path", "section"), [(ROOT / "README.md", "## A first DAG"), (ROOT / "docs" / "operators.md", None)]
)
def test_the_documented_lifecycle_is_setup_work_teardown(path: Path, section: str | None) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(lifecycle_block(path, section), str(path), "exec"), namespace)
    [create] = [v for v in namespace.values() if isinstance(v, CfwCreateFirewallOperator)]
    tasks = list(create.dag.task_dict.values())
    [delete] = [t for t in tasks if isinstance(t, CfwDeleteFirewallOperator)]
    [work] = [t for t in tasks if t not in (create, delete)]
    assert create.is_setup and delete.is_teardown and not work.is_setup and not work.is_teardown
    assert delete.trigger_rule == "all_done_setup_success"
    assert work.upstream_task_ids == {create.task_id}
    assert delete.upstream_task_ids == {create.task_id, work.task_id}
    assert delete.name == create.name and delete.firewall_id is None
    assert create.deferrable and delete.deferrable and create.retries > 0 and delete.retries > 0
