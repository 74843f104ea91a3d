"""What a reschedule-mode wait costs each auth mode: every poke is a new task process, so nothing the
hook cached in one poke (an IAM token, a discovered project id) is there for the next.

Each poke here is a fresh interpreter making the call a ``CfwJobSensor`` poke makes
(``sensor.hook.get_job``) against one emulator; the emulator counts what each poke cost.
docs/choosing-a-mode.md quotes these counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from airflow import __version__ as airflow_version

from airflow_provider_cfw.testing import CfwEmulator
from tests.conftest import PROJECT, ConnSetter

POKES = 2

# Process-level caches are the provider's, the same on both Airflow lines: one measurement (six Python
# processes) is enough, on the Airflow of the end-to-end runs.
pytestmark = pytest.mark.skipif(int(airflow_version.split(".")[0]) < 3, reason="measured on Airflow 3")

_POKE = """
import sys
from airflow_provider_cfw import CfwJobSensor

sensor = CfwJobSensor(task_id="wait", job_id=sys.argv[1], mode="reschedule")
print(sensor.hook.get_job(sensor.job_id, sensor.project_id).status.value)
"""


def _poke_in_new_processes(job_id: str, conn: dict[str, Any]) -> list[str]:
    env = {**os.environ, "AIRFLOW_CONN_CFW_DEFAULT": json.dumps(conn)}
    statuses = []
    for _ in range(POKES):
        out = subprocess.run(
            [sys.executable, "-c", _POKE, job_id], env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr[-3000:]
        statuses.append(out.stdout.split()[-1])
    return statuses


@pytest.mark.parametrize(
    ("auth", "drop_project", "tokens", "project_lookups"),
    [
        ("aksk", False, 0, 0),
        ("aksk", True, 0, POKES),
        ("password", False, POKES, 0),
    ],
    ids=["aksk", "aksk-no-project-id", "password"],
)
def test_each_reschedule_poke_pays_its_auth_again(
    emu: CfwEmulator,
    set_conn: ConnSetter,
    auth: str,
    drop_project: bool,
    tokens: int,
    project_lookups: int,
) -> None:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, statuses=["Running"] * (POKES - 1) + ["Success"])
    conn = set_conn(auth=auth)
    if drop_project:
        del conn["extra"]["project_id"]

    assert _poke_in_new_processes(job_id, conn) == ["Running"] * (POKES - 1) + ["Success"]

    stats = emu.stats
    assert stats.count("cfw.job", 200) == POKES
    assert stats.tokens_issued == tokens
    assert stats.count("iam.tokens") == tokens
    assert stats.count("iam.projects") == project_lookups
