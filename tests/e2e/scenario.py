"""What the demo and the end-to-end tests share: fake credentials, the emulator, and reading a wait back.

The emulator runs in this process (a background thread) so its counters can be read directly; it is
configured from a JSON file through the same loader as ``python -m airflow_provider_cfw.testing --config``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_cfw.testing import CfwEmulator
from airflow_provider_cfw.testing.config import apply_config, emulator_settings, load_config
from airflow_provider_cfw.testing.firewalls import FAST_FIREWALL_JOB_SECONDS
from tests.e2e.records import Observation, TaskTry

REGION = "cn-north-4"
REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO_ROOT / "example_dags"
E2E_DAGS = Path(__file__).resolve().parent / "dags"


@dataclass(frozen=True)
class FakeAccount:
    """Credentials made up for one run: nothing real is ever needed, or could leak."""

    ak: str
    sk: str
    project_id: str

    @classmethod
    def generate(cls) -> FakeAccount:
        return cls(
            ak="E2E" + secrets.token_hex(8).upper(),
            sk=secrets.token_urlsafe(30),
            project_id=secrets.token_hex(16),
        )

    def another_key(self) -> FakeAccount:
        """A second access key of the same account (same project)."""
        fresh = FakeAccount.generate()
        return FakeAccount(ak=fresh.ak, sk=fresh.sk, project_id=self.project_id)

    def connection_env(self, emulator_url: str, conn_id: str = "cfw_default") -> dict[str, str]:
        """``AIRFLOW_CONN_<ID>`` pointing every Airflow process at the emulator."""
        conn = {
            "conn_type": "huaweicloud_cfw",
            "login": self.ak,
            "password": self.sk,
            "extra": {
                "region": REGION,
                "project_id": self.project_id,
                "endpoint": emulator_url,
                "iam_endpoint": emulator_url,
            },
        }
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)}

    def emulator_config(
        self, jobs: Iterable[Mapping[str, Any]], firewall_job_seconds: float = FAST_FIREWALL_JOB_SECONDS
    ) -> dict[str, Any]:
        """A config file's content (schema: docs/testing.md) with this account and these jobs; firewall
        jobs that take ``firewall_job_seconds`` (a second unless told: the tests want them done)."""
        return {
            "firewall_job_seconds": firewall_job_seconds,
            "aksk": [{"ak": self.ak, "sk": self.sk}],
            "projects": [{"id": self.project_id, "name": REGION}],
            "jobs": [{"project_id": self.project_id, **job} for job in jobs],
        }


def polls_until(status: str, running_polls: int) -> list[str]:
    """A poll-scripted job: ``running_polls`` answers of Running, then ``status`` for ever.

    Scripted by polls rather than seconds, so the time Airflow takes to start does not eat into it.
    """
    return ["Running"] * running_polls + [status]


def start_emulator(config_path: Path) -> CfwEmulator:
    """Start an emulator on a free loopback port, configured from ``config_path``."""
    config = load_config(config_path)
    emulator = CfwEmulator(**emulator_settings(config))
    apply_config(emulator, config)
    return emulator.start()


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


def job_polls(emulator: CfwEmulator, job_id: str) -> int:
    """How many List Job Status requests for this job the emulator answered (any status)."""
    suffix = f"/jobs/{job_id}"
    return sum(1 for entry in emulator.stats.log if entry.route == "cfw.job" and entry.path.endswith(suffix))


def where_the_wait_ran(task_id: str, seen: Observation, trigger_log_files: Sequence[str]) -> str:
    """From Airflow's records: ``triggerer`` if the task was deferred and a triggerer logged its trigger;
    ``worker (reschedule)`` if it gave its slot back between pokes; else ``worker``."""
    states = seen.states.get(task_id, [])
    if "deferred" in states and trigger_log_files:
        return "triggerer"
    if "deferred" in states:
        return "triggerer?"  # deferred, but no triggerer log found: reported, never assumed
    if "up_for_reschedule" in states:
        return "worker (reschedule)"
    return "worker"


def ran_within(inner: TaskTry, outer: TaskTry) -> bool:
    """``inner`` started and ended while ``outer`` was between its start and its end."""
    if None in (inner.start_date, inner.end_date, outer.start_date, outer.end_date):
        return False
    assert inner.start_date and inner.end_date and outer.start_date and outer.end_date
    return outer.start_date <= inner.start_date and inner.end_date <= outer.end_date


@dataclass
class RunResult:
    """One DAG run as Airflow recorded it, plus what the sampler saw on the way."""

    dag_id: str
    run_id: str
    state: str | None
    tasks: dict[str, TaskTry]
    seen: Observation
    seconds: float
