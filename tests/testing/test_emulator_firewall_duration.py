"""How long emulated firewall jobs run: minutes by default, as real ones do; a second in the pytest
fixtures; whatever the constructor, the config file or the command line says, over real sockets."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cfw.testing import CfwEmulator, load_config
from airflow_provider_cfw.testing.config import emulator_settings
from airflow_provider_cfw.testing.firewalls import (
    DEFAULT_FIREWALL_JOB_SECONDS,
    FAST_FIREWALL_JOB_SECONDS,
    firewall_job_script,
)

from .conftest import AK, PROJECT, REGION, SK
from .test_emulator_cli import READY, _start
from .test_emulator_firewalls import create, delete, job_status, records


def _account(emu: CfwEmulator) -> CfwEmulator:
    emu.add_aksk(AK, SK)
    emu.add_project(PROJECT, REGION)
    return emu


def _lasts(emu: CfwEmulator, seconds: float) -> None:
    """A create's job, and then a delete's, run for ``seconds`` of emulator time, then succeed."""
    job_id = create(emu).json()["job_id"]
    emu.advance_clock(seconds - 0.5)
    assert job_status(emu, job_id) == "Running"
    assert records(emu)[0]["status"] == 0  # creating
    emu.advance_clock(1.0)
    assert job_status(emu, job_id) == "Success"
    [firewall] = records(emu)
    assert firewall["status"] == 2
    deletion = delete(emu, firewall["fw_instance_id"]).json()["data"]
    emu.advance_clock(seconds - 0.5)
    assert job_status(emu, deletion) == "Running"
    emu.advance_clock(1.0)
    assert job_status(emu, deletion) == "Success"
    assert records(emu) == []


def test_by_default_a_firewall_job_takes_minutes() -> None:
    assert DEFAULT_FIREWALL_JOB_SECONDS == 180.0
    with CfwEmulator() as emu:
        _lasts(_account(emu), DEFAULT_FIREWALL_JOB_SECONDS)


def test_the_duration_is_the_constructors_and_survives_a_reset() -> None:
    with CfwEmulator(firewall_job_seconds=7) as emu:
        _lasts(_account(emu), 7)
        emu.script_firewall_jobs([("Running", 2.0), ("Failed", None)])
        emu.reset()
        _lasts(_account(emu), 7)


def test_the_pytest_fixture_keeps_jobs_fast(cfw_emulator: CfwEmulator) -> None:
    assert FAST_FIREWALL_JOB_SECONDS == 1.0
    _lasts(_account(cfw_emulator), FAST_FIREWALL_JOB_SECONDS)


def test_the_session_fixture_keeps_jobs_fast_after_a_reset(cfw_emulator_session: CfwEmulator) -> None:
    cfw_emulator_session.reset()
    _lasts(_account(cfw_emulator_session), FAST_FIREWALL_JOB_SECONDS)
    cfw_emulator_session.reset()


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "10", True, None])
def test_a_bad_duration_is_refused_naming_the_setting(bad: Any) -> None:
    with pytest.raises(
        ValueError, match=r"^firewall_job_seconds must be a finite number of seconds, 0 or more"
    ):
        CfwEmulator(firewall_job_seconds=bad)


def test_the_config_file_sets_it(tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    path.write_text(json.dumps({"firewall_job_seconds": 12.5}), encoding="utf-8")
    settings = emulator_settings(load_config(path))
    assert settings == {"firewall_job_seconds": 12.5}
    with CfwEmulator(**settings) as emu:
        assert emu.firewalls.default_job_script == firewall_job_script(12.5)
        _lasts(_account(emu), 12.5)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "emulator.json"
    config = {
        "firewall_job_seconds": 600,
        "aksk": [{"ak": AK, "sk": SK}],
        "projects": [{"id": PROJECT, "name": REGION}],
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


@pytest.fixture
def cli_url(config_file: Path) -> Iterator[str]:
    """The command line, with a config that says 600 s and a flag that says 0: the flag wins."""
    process = _start("--port", "0", "--config", str(config_file), "--firewall-job-seconds", "0")
    try:
        assert process.stdout is not None
        match = READY.match(process.stdout.readline())
        assert match, process.stderr.read() if process.stderr and process.poll() is not None else ""
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(10)


class _Remote:
    """Enough of an emulator for the request helpers."""

    def __init__(self, url: str) -> None:
        self.url = url


def test_the_command_line_flag_overrides_the_config(cli_url: str) -> None:
    remote: Any = _Remote(cli_url)
    job_id = create(remote).json()["job_id"]
    assert job_status(remote, job_id) == "Success"
    assert records(remote)[0]["status"] == 2


def test_the_command_line_refuses_a_bad_duration() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_cfw.testing", "--firewall-job-seconds", "-5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "firewall_job_seconds must be a finite number of seconds, 0 or more; got -5.0" in result.stderr
