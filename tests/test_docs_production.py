"""docs/production.md shows what the production stack (tests/e2e/production.py, ``make e2e-production``)
runs: its settings block, its process commands and its pins are checked against the stack's own."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

from tests.e2e import production

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "production.md"
MARKER = "<!-- production-settings:"


def _block(after: str, language: str) -> str:
    section = PAGE.read_text(encoding="utf-8").split(after, 1)[1]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def test_the_settings_block_is_what_the_stack_runs() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(_block(MARKER, "ini"))
    shown = {
        f"[{section}] {key}": value for section in parser.sections() for key, value in parser[section].items()
    }
    stack = production.deployment_settings(
        production.DOCS_BROKER_URL, production.DOCS_DATABASE_URL, production.DOCS_LINEAGE_FILE
    )
    assert shown == stack


def test_the_settings_reach_airflow_as_its_environment_names() -> None:
    env = production.setting_env({"[scheduler] task_instance_heartbeat_timeout": "30"})
    assert env == {"AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30"}


def test_the_process_commands_are_the_stacks() -> None:
    shown = _block("and its processes", "bash").strip().splitlines()
    stack = [
        *(" ".join(["airflow", *production.worker_args(name)]) for name in production.WORKERS),
        " ".join(["airflow", *production.triggerer_args()]),
    ]
    assert shown == stack


def test_the_pins_the_page_names_are_the_lock_files() -> None:
    text = PAGE.read_text(encoding="utf-8")
    pins = (ROOT / "requirements-production.in").read_text(encoding="utf-8")
    lock = (ROOT / "requirements-production.lock").read_text(encoding="utf-8")
    assert "celery **5.6.3**" in text and re.search(r"^celery==5\.6\.3$", pins, re.M)
    for package in ("psycopg2-binary", "asyncpg"):
        assert f"`{package}`" in text and re.search(rf"^{package}$", pins, re.M), package
    provider = re.search(r"^apache-airflow-providers-celery==(\S+)$", lock, re.M)
    openlineage = re.search(r"^apache-airflow-providers-openlineage==(\S+)$", lock, re.M)
    assert provider and f"apache-airflow-providers-celery` {provider[1]}" in text
    assert openlineage and f"OpenLineage {openlineage[1]} listener" in text
