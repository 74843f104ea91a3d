"""Starting and stopping: the thread form, the async form, the pytest fixtures, and import hygiene."""

from __future__ import annotations

import ast
import contextlib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import pytest
import requests

import airflow_provider_cfw
from airflow_provider_cfw.core.signing import AkSkCredentials
from airflow_provider_cfw.testing import CfwEmulator

from .conftest import job_url, signed

PACKAGE = Path(airflow_provider_cfw.__file__).parent


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_thread_form_binds_a_free_loopback_port_and_stops() -> None:
    emu = CfwEmulator()
    with pytest.raises(RuntimeError):
        _ = emu.url
    with emu:
        assert emu.running and emu.url == f"http://127.0.0.1:{emu.port}" and emu.port > 0
        with pytest.raises(RuntimeError, match="already running"):
            emu.start()
        assert requests.get(f"{emu.url}/v3/projects", timeout=10).status_code == 401
    assert not emu.running and _refused(emu.port)
    emu.stop()  # idempotent


def test_two_emulators_side_by_side() -> None:
    with CfwEmulator() as first, CfwEmulator() as second:
        assert first.port != second.port


def test_start_failure_is_raised() -> None:
    with CfwEmulator() as emu, pytest.raises(OSError):
        CfwEmulator(port=emu.port).start()


def test_stop_does_not_wait_for_a_long_injected_delay() -> None:
    emu = CfwEmulator().start()
    emu.inject("*", "latency", delay=30)
    caller = threading.Thread(target=lambda: _swallow(f"{emu.url}/v3/projects"), daemon=True)
    caller.start()
    time.sleep(0.1)
    started = time.perf_counter()
    emu.stop()
    assert time.perf_counter() - started < 5


def _swallow(url: str) -> None:
    with contextlib.suppress(requests.RequestException):
        requests.get(url, timeout=10)


async def test_async_form_runs_on_the_current_loop() -> None:
    async with CfwEmulator() as emu:
        emu.add_aksk("AKASYNC0000000000000", "sk-async")
        emu.add_job("0123456789abcdef0123456789abcdef", "j", ["Success"])
        sent = signed(job_url(emu, job="j"), creds=AkSkCredentials("AKASYNC0000000000000", "sk-async"))
        async with aiohttp.ClientSession() as http, http.get(sent.url, headers=sent.headers) as response:
            assert response.status == 200
            assert (await response.json())["data"]["status"] == "Success"
    assert not emu.running


async def test_astart_and_astop() -> None:
    emu = await CfwEmulator().astart()
    port = emu.port
    await emu.astop()
    await emu.astop()
    assert _refused(port)


def test_cfw_emulator_fixture(cfw_emulator: CfwEmulator) -> None:
    assert cfw_emulator.running
    assert requests.get(f"{cfw_emulator.url}/v3/projects", timeout=10).status_code == 401


def test_cfw_emulator_session_fixture(cfw_emulator_session: CfwEmulator) -> None:
    assert cfw_emulator_session.running


def test_importing_the_emulator_does_not_import_airflow() -> None:
    code = (
        "import sys, airflow_provider_cfw.testing, airflow_provider_cfw.testing.__main__;"
        "bad = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')"
        " or m.startswith(('airflow_provider_cfw.hooks', 'airflow_provider_cfw.sensors',"
        " 'airflow_provider_cfw.triggers')));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def _imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    names: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body if top_level_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


#: Set up Airflow for a DAG test when a project asks (cfw_dags_folder), and parse its DAGs: they import
#: Airflow, but only inside the functions that need it, never when the package or the plugin loads.
LAZY_AIRFLOW = ("airflow_env.py", "dag_loader.py")


def test_emulator_imports_only_the_core_from_the_provider() -> None:
    for path in sorted((PACKAGE / "testing").glob("*.py")):
        for name in _imports(path, top_level_only=path.name in LAZY_AIRFLOW):
            if name.startswith("airflow_provider_cfw"):
                assert name.startswith(("airflow_provider_cfw.core", "airflow_provider_cfw.testing")), (
                    path,
                    name,
                )
            assert name != "airflow" and not name.startswith("airflow."), (path, name)


def test_nothing_in_the_provider_imports_the_emulator() -> None:
    for folder in ("core", "hooks", "sensors", "triggers"):
        for path in sorted((PACKAGE / folder).glob("**/*.py")):
            assert not any(n.startswith("airflow_provider_cfw.testing") for n in _imports(path)), path
