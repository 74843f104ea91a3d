"""The command line and its JSON config file, run as a real subprocess."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

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
