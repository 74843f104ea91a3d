"""The emulator with one account, and the ``cfw_default`` connection pointing at it: shared by the tests."""

from __future__ import annotations

import json

import pytest

AK, SK = "EXAMPLEAK00000000000", "EXAMPLEsecretKey-not-a-real-key-000000000"
PROJECT = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def cfw(cfw_emulator, monkeypatch):
    """The emulator, with one account, and the ``cfw_default`` connection pointing at it."""
    cfw_emulator.add_aksk(AK, SK)
    cfw_emulator.add_project(PROJECT, "cn-north-4")
    conn = {
        "conn_type": "huaweicloud_cfw",
        "login": AK,
        "password": SK,
        "extra": {
            "region": "cn-north-4",
            "project_id": PROJECT,
            "endpoint": cfw_emulator.url,
            "iam_endpoint": cfw_emulator.url,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_CFW_DEFAULT", json.dumps(conn))
    return cfw_emulator
