"""What a user reads first, the wheel's one-line summary and the docs' front page, names what the
package offers: every operator, the sensor and the hook."""

from __future__ import annotations

import tomllib
from pathlib import Path

import airflow_provider_cfw

ROOT = Path(__file__).resolve().parents[1]
OFFERED = sorted(n for n in airflow_provider_cfw.__all__ if n.endswith(("Operator", "Sensor", "Hook")))


def test_the_docs_front_page_names_every_operator_the_sensor_and_the_hook() -> None:
    index = (ROOT / "docs" / "index.md").read_text()
    assert len(OFFERED) >= 4
    assert [name for name in OFFERED if f"`{name}`" not in index] == []


def test_the_wheels_summary_names_the_operators_work() -> None:
    summary = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["description"]
    assert "create and delete firewalls" in summary
    assert "operators" in summary and "sensor" in summary and "hook" in summary
