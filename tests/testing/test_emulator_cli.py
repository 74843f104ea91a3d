"""The command line and its JSON config file, run as a real subprocess."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import airflow_provider_cfw.testing
from airflow_provider_cfw.core.signing import AkSkCredentials
from airflow_provider_cfw.testing import CfwEmulator, apply_config, load_config

from .conftest import AK, DOMAIN, PASSWORD, PROJECT, REGION, SK, USER, job_url, signed, token_body

EXAMPLE_CONFIG = Path(airflow_provider_cfw.testing.__file__).parent / "emulator-config.example.json"
READY = re.compile(r"^CFW emulator listening on (http://127\.0\.0\.1:(\d+))\n$")

CONFIG = {
    "token_ttl": 3600,
    "aksk": [{"ak": AK, "sk": SK}],
    "projects": [{"id": PROJECT, "name": REGION}],
    "iam_users": [{"domain_name": DOMAIN, "user_name": USER, "password": PASSWORD, "project_name": REGION}],
    "jobs": [
        {"project_id": PROJECT, "job_id": "by-poll", "statuses": ["Running", "Success"]},
        {
            "project_id": PROJECT,
            "job_id": "by-time",
            "statuses": [["Running", 60], ["Success", None]],
            "time_format": "iso-z",
        },
    ],
    "faults": [{"route": "iam.projects", "kind": "status", "status": 503, "count": 1}],
}


class Cli:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process, self.url = process, url


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_cfw.testing", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    config = tmp_path / "emulator.json"
    config.write_text(json.dumps(CONFIG), encoding="utf-8")
    process = _start("--port", "0", "--config", str(config))
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = READY.match(line)
        assert match, line + (process.stderr.read() if process.stderr and process.poll() is not None else "")
        yield Cli(process, match.group(1))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


class _Remote:
    """Enough of an emulator for the URL helpers."""

    def __init__(self, url: str) -> None:
        self.url = url


def test_cli_serves_the_config_and_exits_0_on_sigterm(cli: Cli) -> None:
    remote = _Remote(cli.url)
    first = signed(job_url(remote, job="by-poll")).send()  # type: ignore[arg-type]
    assert first.status_code == 200 and first.json()["data"]["status"] == "Running"
    second = signed(job_url(remote, job="by-time")).send()  # type: ignore[arg-type]
    assert second.json()["data"]["status"] == "Running" and second.json()["data"]["begin_time"].endswith("Z")
    token = requests.post(f"{cli.url}/v3/auth/tokens", json=token_body(), timeout=10)
    assert token.status_code == 201 and token.json()["token"]["project"]["id"] == PROJECT
    assert signed(f"{cli.url}/v3/projects?name={REGION}", project_id=None).send().status_code == 503
    assert signed(f"{cli.url}/v3/projects?name={REGION}", project_id=None).send().status_code == 200
    cli.process.send_signal(signal.SIGTERM)
    assert cli.process.wait(10) == 0
    assert cli.process.stdout is not None and cli.process.stdout.read() == ""  # exactly one line


def test_cli_exits_0_on_sigint(cli: Cli) -> None:
    cli.process.send_signal(signal.SIGINT)
    assert cli.process.wait(10) == 0


def test_cli_fixed_port(tmp_path: Path) -> None:
    with CfwEmulator() as probe:
        port = probe.port
    process = _start("--port", str(port))
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == f"CFW emulator listening on http://127.0.0.1:{port}\n"
    finally:
        process.terminate()
        assert process.wait(10) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{nope", "not valid JSON"),
        ('{"jobz": []}', "unknown key"),
        (
            '{"jobs": [{"project_id": "p", "job_id": "a"}, {"job_id": "x"}]}',
            """bad.json: jobs[1] {"job_id": "x"}: missing required key 'project_id'""",
        ),
        ('{"iam_users": [{"domain_name": "d", "user_name": "u"}]}', "iam_users[0]"),
    ],
)
def test_cli_bad_config_exits_2(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "bad.json"
    config.write_text(content, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_cfw.testing", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and message in result.stderr and result.stdout == ""
    assert str(config) in result.stderr  # the message names the file


def test_cli_scripts_firewall_jobs_from_the_config(tmp_path: Path) -> None:
    # What the pytest fixture does with script_firewall_jobs, firewall_list_lag and
    # list_deleted_firewalls, from the command line's config file (issue 31).
    from .test_emulator_firewalls import create, delete, job_status, records

    config = tmp_path / "emulator.json"
    settings = {
        "firewall_jobs": {"statuses": ["Running", "Running", "Success"], "deletes": ["Failed"]},
        "firewall_list_lag": 0,
        "list_deleted_firewalls": True,
    }
    config.write_text(json.dumps({**CONFIG, **settings}), encoding="utf-8")
    process = _start("--config", str(config))
    try:
        assert process.stdout is not None
        match = READY.match(process.stdout.readline())
        assert match, process.stderr.read() if process.stderr and process.poll() is not None else ""
        remote: Any = _Remote(match.group(1))
        created = create(remote, "fw-scripted").json()
        assert [job_status(remote, created["job_id"]) for _ in range(4)] == [
            "Running",
            "Running",
            "Success",
            "Success",
        ]
        [firewall] = records(remote)
        assert firewall["status"] == 2
        delete_job = delete(remote, firewall["fw_instance_id"]).json()["data"]
        assert job_status(remote, delete_job) == "Failed"  # the deletes' own script
        assert [r["status"] for r in records(remote)] == [7]  # delete failed: the firewall stays
    finally:
        process.terminate()
        assert process.wait(10) == 0


def test_a_config_firewall_list_lag_hides_a_new_firewall(tmp_path: Path) -> None:
    config = tmp_path / "emulator.json"
    config.write_text(json.dumps({"firewall_list_lag": 3600, "list_deleted_firewalls": True}))
    with CfwEmulator() as emu:
        apply_config(emu, load_config(config))
        assert (emu.firewall_list_lag, emu.list_deleted_firewalls) == (3600.0, True)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"firewall_jobs": ["Running"]}, "'firewall_jobs' must be an object with a 'statuses' list"),
        ({"firewall_jobs": {"statuses": ["Success"], "delete": []}}, "firewall_jobs: unknown key(s) delete"),
        ({"firewall_jobs": {"statuses": ["Success"], "deletes": "Failed"}}, "'deletes' must be a list"),
        ({"firewall_list_lag": -1}, "'firewall_list_lag' must be a number of seconds"),
        ({"list_deleted_firewalls": "yes"}, "'list_deleted_firewalls' must be true or false"),
    ],
)
def test_bad_firewall_settings_are_refused_naming_the_key(
    tmp_path: Path, settings: dict[str, Any], message: str
) -> None:
    config = tmp_path / "bad.json"
    config.write_text(json.dumps(settings), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)):
        load_config(config)


def test_a_bad_firewall_job_script_is_refused_when_applied(tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"firewall_jobs": {"statuses": []}}), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_cfw.testing", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "firewall_jobs: " in result.stderr and result.stdout == ""


def test_shipped_example_config_loads_and_works() -> None:
    config = load_config(EXAMPLE_CONFIG)
    with CfwEmulator(token_ttl=config.get("token_ttl", 86400)) as emu:
        apply_config(emu, config)
        ak = config["aksk"][0]
        job = config["jobs"][0]
        sent = signed(
            f"{emu.url}/v3/{job['project_id']}/jobs/{job['job_id']}",
            creds=AkSkCredentials(ak["ak"], ak["sk"]),
            project_id=job["project_id"],
        )
        assert sent.send().status_code == 429  # the example's one queued fault
        assert sent.send().json()["data"]["status"] == "Running"


def test_the_documented_cli_port_is_not_airflows() -> None:
    # A user runs the emulator next to `airflow standalone`, whose api-server takes [api] port.
    from airflow.configuration import conf

    testing_md = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text()
    ports = re.findall(r"^python -m airflow_provider_cfw\.testing --port (\d+)", testing_md, re.MULTILINE)
    assert ports and conf.get_default_value("api", "port") not in ports
