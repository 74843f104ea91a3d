"""What docs/connection.md and docs/troubleshooting.md say about testing and reading a connection from
a shell, checked with Airflow's own CLI and a plain Python process, against the emulator.

Every process runs in a throwaway ``AIRFLOW_HOME`` (a temporary folder with its own SQLite database).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from airflow import __version__ as airflow_version

from airflow_provider_cfw.testing import CfwEmulator
from tests.conftest import AK, PROJECT, REGION, SK

AIRFLOW = str(Path(sys.executable).parent / "airflow")
AIRFLOW_3 = int(airflow_version.split(".")[0]) >= 3


@dataclass(frozen=True)
class Shell:
    emulator: CfwEmulator
    env: dict[str, str]

    def run(self, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, env={**self.env, **env}, capture_output=True, text=True, timeout=180, check=False
        )

    def conn(self, sk: str = SK) -> str:
        extra = {"region": REGION, "project_id": PROJECT, "endpoint": self.emulator.url}
        return json.dumps({"conn_type": "huaweicloud_cfw", "login": AK, "password": sk, "extra": extra})


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shell]:
    """A throwaway Airflow with ``cfw_saved`` saved in its database (as the UI saves one)."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
    )
    with CfwEmulator() as emulator:
        emulator.add_aksk(AK, SK)
        emulator.add_project(PROJECT, REGION)
        ready = Shell(emulator, env)
        for argv in (
            (AIRFLOW, "db", "migrate"),
            (AIRFLOW, "connections", "add", "cfw_saved", "--conn-json", ready.conn()),
        ):
            made = ready.run(*argv)
            assert made.returncode == 0, made.stderr[-3000:]
        yield ready


def test_the_cli_refuses_until_test_connection_is_enabled(shell: Shell) -> None:
    before = shell.emulator.stats.total_requests
    out = shell.run(AIRFLOW, "connections", "test", "cfw_saved")
    assert out.returncode == 1
    assert "Testing connections is disabled in Airflow configuration" in out.stdout
    assert shell.emulator.stats.total_requests == before


def test_the_cli_says_only_connection_success(shell: Shell) -> None:
    before = shell.emulator.stats.count("cfw.job", 400)
    out = shell.run(AIRFLOW, "connections", "test", "cfw_saved", AIRFLOW__CORE__TEST_CONNECTION="Enabled")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "Connection success!" in out.stdout
    assert "Connection works" not in out.stdout  # the provider's message is the REST API's only
    assert shell.emulator.stats.count("cfw.job", 400) == before + 1  # one call: "job not found"


def test_the_cli_prints_the_providers_message_when_the_test_fails(shell: Shell) -> None:
    out = shell.run(
        AIRFLOW,
        "connections",
        "test",
        "cfw_wrong_sk",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW_CONN_CFW_WRONG_SK=shell.conn(sk="not-the-secret-key-0000000000000000000000"),
    )
    assert out.returncode == (1 if AIRFLOW_3 else 0)  # Airflow 2.11 exits 0 on a failed test
    assert "Connection failed!" in out.stdout
    assert "CfwAuthError: HTTP 401 APIGW.0301" in out.stdout


def test_an_underscore_uri_scheme_meets_the_troubleshooting_entry(shell: Shell) -> None:
    # Airflow's own words, which never reach the provider: the entry must quote them exactly.
    uri = f"huaweicloud_cfw://{AK}:{SK}@/?region={REGION}"
    out = shell.run(
        AIRFLOW,
        "connections",
        "test",
        "cfw_underscore",
        AIRFLOW__CORE__TEST_CONNECTION="Enabled",
        AIRFLOW_CONN_CFW_UNDERSCORE=uri,
    )
    assert "Connection failed!" in out.stdout
    [airflows_words] = [line for line in out.stdout.splitlines() if line.startswith("Unknown hook type")]
    troubleshooting = (Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md").read_text()
    entry = troubleshooting.split(f"### `{airflows_words}`\n", 1)[1].split("\n## ", 1)[0]
    assert f"Connection failed!\n{airflows_words}\n" in entry
    assert "`huaweicloud-cfw://<AK>:<encoded SK>@/?region=cn-north-4`" in entry


_READ = "from airflow_provider_cfw import CfwHook; print(CfwHook({!r}).test_connection())"


def test_a_python_shell_reads_a_connection_from_the_environment(shell: Shell) -> None:
    out = shell.run(sys.executable, "-c", _READ.format("cfw_env"), AIRFLOW_CONN_CFW_ENV=shell.conn())
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"(True, 'Connection works: CFW accepted the credentials for project {PROJECT}.')" in out.stdout


def test_a_python_shell_on_airflow_3_cannot_read_a_connection_saved_in_the_database(shell: Shell) -> None:
    out = shell.run(sys.executable, "-c", _READ.format("cfw_saved"))
    if AIRFLOW_3:
        # Outside a task, Airflow 3 looks connections up in the environment and secrets backends only.
        assert (
            '(False, "Unexpected AirflowNotFoundException: The conn_id `cfw_saved` isn\'t defined")'
            in out.stdout
        )
    else:
        assert "(True, 'Connection works" in out.stdout, out.stderr[-3000:]
