"""Fixtures shared by the hook, sensor and trigger tests: an emulator and a connection pointing at it."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_cfw.testing import CfwEmulator

AK = "QTWAOYTTINDUT2QVKYUC"
SK = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"  # not a real key
SECURITY_TOKEN = "tok-secret-9f0c"
DOMAIN = "acme"
USER = "airflow-bot"
PASSWORD = "pw-Secret-7d1e"
PROJECT = "0123456789abcdef0123456789abcdef"
REGION = "cn-north-4"
SECRETS = (SK, SECURITY_TOKEN, PASSWORD)

ConnSetter = Callable[..., dict[str, Any]]


@pytest.fixture
def emu(cfw_emulator: CfwEmulator) -> CfwEmulator:
    """The plugin's emulator, with one AK/SK, one IAM user and one project."""
    cfw_emulator.add_aksk(AK, SK)
    cfw_emulator.add_project(PROJECT, name=REGION)
    cfw_emulator.add_iam_user(DOMAIN, USER, PASSWORD, project_name=REGION)
    return cfw_emulator


@pytest.fixture
def set_conn(emu: CfwEmulator, monkeypatch: pytest.MonkeyPatch) -> ConnSetter:
    """Point ``cfw_default`` (or another id) at the emulator; fast retries so fault tests stay quick."""

    def _set(
        conn_id: str = "cfw_default",
        *,
        auth: str = "aksk",
        login: str | None = None,
        password: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "region": REGION,
            "project_id": PROJECT,
            "endpoint": emu.url,
            "iam_endpoint": emu.url,
            "retry_backoff": 0.01,
            **extra,
        }
        if auth == "password":
            conn = {"conn_type": "huaweicloud_cfw", "login": login or USER, "password": password or PASSWORD}
            fields.update(auth_type="password", domain_name=DOMAIN)
        else:
            conn = {"conn_type": "huaweicloud_cfw", "login": login or AK, "password": password or SK}
        conn["extra"] = fields
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn

    return _set


@pytest.fixture
def conn(set_conn: ConnSetter) -> dict[str, Any]:
    return set_conn()


def assert_no_secrets(*values: object, extra: tuple[str, ...] = ()) -> None:
    text = "\n".join(json.dumps(v, default=repr) if not isinstance(v, str) else v for v in values)
    for secret in (*SECRETS, *extra):
        assert secret not in text


def logged_count(needle: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> int:
    """How often a log line was written: Airflow 3 routes task and trigger logs through structlog
    (stdout here), Airflow 2 through logging (which may also echo to stdout), so take the larger count."""
    return max(capsys.readouterr().out.count(needle), caplog.text.count(needle))


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow 2's metadata database (SQLite in ``AIRFLOW_HOME``), for tests that run a real TaskInstance.

    ``make test-airflow2`` points ``AIRFLOW_HOME`` at a fresh temporary folder; without one these tests
    would write to ``~/airflow``, so they are skipped.
    """
    if not os.environ.get("AIRFLOW_HOME"):
        pytest.skip("needs its own AIRFLOW_HOME for the metadata database (make test-airflow2 sets one)")
    from airflow.models.baseoperator import ExecutorSafeguard
    from airflow.utils import db

    # In unit-test mode Airflow switches its executor safeguard off, and tests of it could not fail.
    assert ExecutorSafeguard.test_mode is False
    db.initdb()


@pytest.fixture(autouse=True)
def _fresh_connection_cache() -> None:
    # Each test starts without connections an earlier test's hooks looked up (module-level cache).
    from airflow_provider_cfw.hooks.connection_cache import ASYNC_CONNECTIONS

    ASYNC_CONNECTIONS.clear()


@pytest.fixture(autouse=True)
def _fresh_rate_limiters() -> None:
    # Each test starts with no limiter an earlier test's throttles taught (process-wide registry).
    from airflow_provider_cfw.core.rate_limit import LIMITERS

    LIMITERS.clear()


class LimiterClock:
    """The rate limiters' clock and sleeps (see ``core.rate_limit``): a sleep is recorded and moves the
    clock, without waiting, so that a test counts the pauses and turns its calls were given."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep_sync(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay

    async def sleep(self, delay: float) -> None:
        self.sleep_sync(delay)
        await asyncio.sleep(0)


@pytest.fixture
def limiter_clock(monkeypatch: pytest.MonkeyPatch) -> LimiterClock:
    from airflow_provider_cfw.core import rate_limit

    clock = LimiterClock()
    monkeypatch.setattr(rate_limit, "_monotonic", clock.monotonic)
    monkeypatch.setattr(rate_limit, "_sleep", clock.sleep)
    monkeypatch.setattr(rate_limit, "_sync_sleep", clock.sleep_sync)
    return clock


@pytest.fixture
def pushes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The configured XCom backend and the supervisor's pipe, as on a triggerer (Airflow 3): what
    triggers that end their tasks push (a :class:`tests.ending.Pushes`)."""
    # Imported here: this conftest is loaded before a test may import Airflow.
    from tests.ending import AIRFLOW_3, SERIALIZED, Pushes, configure_backend, connect_pipe

    if AIRFLOW_3:
        configure_backend(monkeypatch)
        connect_pipe(monkeypatch)
    yield Pushes()
    SERIALIZED.clear()
