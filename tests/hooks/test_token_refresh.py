"""When an IAM token is refreshed, on the client's own clock (the emulator keeps the real one)."""

from __future__ import annotations

import time
import uuid

import pytest

from airflow_provider_cfw.core.client import CfwClient
from airflow_provider_cfw.core.iam import TokenCache
from airflow_provider_cfw.core.jobs import job_call
from airflow_provider_cfw.core.settings import CfwSettings
from airflow_provider_cfw.testing import CfwEmulator
from tests.conftest import DOMAIN, PASSWORD, PROJECT, REGION


class ManualClock:
    """The client's clock: starts at the real time, moves only when told."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("ttl", "lead"),
    [
        (24 * 3600.0, 40 * 60.0),  # a normal 24 h token: refreshed 40 minutes early, like the SDK
        (600.0, 60.0),  # a short-lived one: after 90 % of its life
    ],
)
def test_refresh_lead_time(emu: CfwEmulator, ttl: float, lead: float) -> None:
    emu.add_iam_user(DOMAIN, "clocked", PASSWORD, project_name=REGION, token_ttl=ttl)
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Running"])
    settings = CfwSettings.from_connection(
        "cfw_clock",
        login="clocked",
        password=PASSWORD,
        extra={"auth_type": "password", "domain_name": DOMAIN, "region": REGION, "project_id": PROJECT,
               "endpoint": emu.url, "iam_endpoint": emu.url},
    )  # fmt: skip
    clock = ManualClock()
    client = CfwClient(settings, tokens=TokenCache(clock=clock))
    start = clock.now

    client.run(job_call(emu.url, PROJECT, job_id))
    assert emu.stats.tokens_issued == 1
    clock.now = start + ttl - lead - 2  # just before the lead time: the cached token serves
    client.run(job_call(emu.url, PROJECT, job_id))
    assert emu.stats.tokens_issued == 1
    clock.now = start + ttl - lead + 2  # just after: a new one, though the gateway still takes the old
    client.run(job_call(emu.url, PROJECT, job_id))
    assert emu.stats.tokens_issued == 2
    assert emu.stats.count("cfw.job", 200) == 3 and emu.stats.count("cfw.job", 401) == 0
