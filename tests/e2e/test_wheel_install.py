"""The built wheel, installed into a fresh environment with Airflow 3.3, is a provider Airflow sees.

Not the source tree: the README's "Install" commands run as written (a bash block, extracted from
README.md) in a copy of this checkout, with a new virtualenv activated that already holds the locked
dependency set (``requirements.lock``, installed by uv from its cache: the environment "Airflow runs
in"). Then: ``airflow providers list`` names the provider, and a real api-server (127.0.0.1, a free
port, SimpleAuthManager with a bearer token) serves the connection form the UI builds from
``/ui/connections/hook_meta``, refuses the connection test the UI's list icon sends, and answers
docs/connection.md's REST call with the provider's message.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cfw.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR, __version__
from airflow_provider_cfw.testing import CfwEmulator
from tests.conftest import AK, PROJECT, REGION, SK
from tests.e2e.processes import ManagedProcess, free_port, http_ok, stop_all, wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path
    env: dict[str, str]

    def run(self, *argv: str, timeout: float = 180) -> str:
        out = subprocess.run(
            argv, cwd=self.venv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert out.returncode == 0, f"{argv} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
        return out.stdout


def _run(*argv: str | Path, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(a) for a in argv], cwd=ROOT, env=env, capture_output=True, timeout=600, check=True)


def readme_install_commands() -> str:
    """The first bash block of the README's "Install" section, as a user copies it."""
    section = (ROOT / "README.md").read_text().split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match, "README.md: no bash block under ## Install"
    return match.group(1)


def test_the_docs_index_gives_the_readmes_install_commands() -> None:
    index = (ROOT / "docs" / "index.md").read_text().split("\n## Installation\n", 1)[1]
    assert f"```bash\n{readme_install_commands()}```" in index


def _copy_of_the_clone(dest: Path) -> Path:
    skip = shutil.ignore_patterns(
        ".git", ".venv*", "dist", "build", "_build", "*.egg-info", "__pycache__", ".*_cache"
    )
    shutil.copytree(ROOT, dest, ignore=skip)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("wheel")
    venv = tmp / "venv"
    uv = BIN / "uv"
    _run(uv, "venv", "--quiet", "--seed", "--python", sys.executable, venv)
    _run(
        uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python", "-r", ROOT / "requirements.lock"
    )
    clone = _copy_of_the_clone(tmp / "clone")
    activated = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))
    }
    activated.update({"VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"})
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_install_commands()],
        cwd=clone,
        env=activated,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert out.returncode == 0, f"README install commands failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    (wheel,) = (clone / "dist").glob("airflow_provider_cfw-*.whl")
    home = tmp / "airflow-home"
    home.mkdir()
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({"admin": secrets.token_urlsafe(16)}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(64),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            # docs/connection.md's REST call tests a connection only with this on.
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        }
    )
    return Installed(venv, wheel, env)


def test_the_provider_is_imported_from_the_wheel(installed: Installed) -> None:
    code = (
        "import json, importlib.metadata as md, airflow_provider_cfw as p; "
        "d = md.distribution('airflow-provider-cfw'); "
        "print(json.dumps([p.__file__, d.version, sorted(str(f) for f in d.files if 'LICENSE' in str(f))]))"
    )
    module_file, version, licenses = json.loads(
        installed.run(str(installed.venv / "bin" / "python"), "-c", code)
    )
    assert Path(module_file).is_relative_to(installed.venv / "lib"), "imported from the source tree"
    assert version == __version__
    assert licenses == [f"airflow_provider_cfw-{__version__}.dist-info/licenses/LICENSE"]


def test_the_wheel_ships_the_emulator_sample_config(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        assert "airflow_provider_cfw/testing/emulator-config.example.json" in wheel.namelist()
    # docs/testing.md's way to find it, then the loader the command line uses.
    testing_md = (ROOT / "docs" / "testing.md").read_text()
    find = next(line for line in testing_md.splitlines() if line.startswith("EXAMPLE=$(python -c "))
    script = f'{find}\npython -c "import sys; from airflow_provider_cfw.testing import load_config; load_config(sys.argv[1])" "$EXAMPLE"\necho "$EXAMPLE"'
    env = {**installed.env, "PATH": f"{installed.venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=installed.venv,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert Path(out.stdout.strip()).is_relative_to(installed.venv / "lib")


def test_airflow_providers_list_shows_the_provider(installed: Installed) -> None:
    out = installed.run(str(installed.venv / "bin" / "airflow"), "providers", "list", "--output", "json")
    providers = {p["package_name"]: p for p in json.loads(out[out.index("[") :])}
    assert providers["airflow-provider-cfw"]["version"] == __version__


@pytest.fixture(scope="module")
def api_server(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The api-server's base URL (core API and UI, no execution API)."""
    airflow = str(installed.venv / "bin" / "airflow")
    installed.run(airflow, "db", "migrate")
    port = free_port()
    server = ManagedProcess(
        "api-server",
        [
            airflow,
            "api-server",
            "--apps",
            "core",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        installed.env,
        tmp_path_factory.mktemp("api-server") / "api-server.log",
    )
    server.start()
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            if not server.running():
                raise RuntimeError(f"api-server exited; last lines:\n{server.tail()}")
            return http_ok(f"{base}/api/v2/monitor/health")

        wait_for("the api-server", healthy, timeout=120)
        yield base
    finally:
        stop_all([server])


def _call(url: str, token: str | None = None, body: dict[str, str] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=30) as resp:
        return json.load(resp)


def _login(base: str, env: dict[str, str]) -> str:
    password = json.loads(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())["admin"]
    return str(_call(f"{base}/auth/token", body={"username": "admin", "password": password})["access_token"])


def test_hook_meta_serves_the_connection_form(api_server: str, installed: Installed) -> None:
    with pytest.raises(urllib.error.HTTPError) as unauthenticated:
        _call(f"{api_server}/ui/connections/hook_meta")
    assert unauthenticated.value.code == 401
    token = _login(api_server, installed.env)

    entries = {e["connection_type"]: e for e in _call(f"{api_server}/ui/connections/hook_meta", token)}
    form = entries["huaweicloud_cfw"]

    assert form["hook_name"] == "Huawei Cloud Firewall (CFW)"
    assert form["hook_class_name"] == "airflow_provider_cfw.hooks.cfw.CfwHook"
    standard = form["standard_fields"]
    for field in UI_FIELD_BEHAVIOUR["hidden-fields"]:
        key = "url_schema" if field == "schema" else field
        assert standard[key]["hidden"] is True, field
    for field, label in UI_FIELD_BEHAVIOUR["relabeling"].items():
        assert standard[field]["title"] == label
        assert standard[field]["placeholder"] == UI_FIELD_BEHAVIOUR["placeholders"][field]
        assert standard[field]["hidden"] is False
    extra = form["extra_fields"]
    assert set(extra) == set(CONN_FIELDS)
    for name, spec in CONN_FIELDS.items():
        assert extra[name]["schema"]["title"] == spec["label"], name
        assert extra[name]["schema"]["type"] == spec["schema"]["type"], name
        assert extra[name]["description"] == spec.get("description"), name
    assert extra["auth_type"]["schema"]["enum"] == ["aksk", "password", "token"]
    assert extra["security_token"]["schema"]["format"] == "password"

    # Airflow 3.3's endpoint builds every entry from provider metadata without importing the hook, and
    # sets default_conn_name to None for every connection type (HookMetaService.hook_meta_data), its
    # own providers' included. Ours is on the hook (CfwHook.default_conn_name == "cfw_default"); the
    # day Airflow serves the attribute, this must show it.
    airflow_serves_it = any(e["default_conn_name"] for e in entries.values())
    assert form["default_conn_name"] == ("cfw_default" if airflow_serves_it else None)


# -- testing a connection: the UI's icon and docs/connection.md's REST call (issue 31) ------------------


def _post(url: str, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        json.dumps(body).encode(),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def _documented_rest_call() -> str:
    """The bash block of docs/connection.md that tests a connection through the REST API."""
    text = (ROOT / "docs" / "connection.md").read_text()
    [block] = [b for b in re.findall(r"```bash\n(.*?)```", text, re.DOTALL) if "/connections/test" in b]
    return textwrap.dedent(block)


@pytest.fixture(scope="module")
def saved_connection(api_server: str, installed: Installed) -> Iterator[str]:
    """``cfw_default`` saved through the API (as the UI saves it), pointing at an emulator."""
    with CfwEmulator() as emulator:
        emulator.add_aksk(AK, SK)
        emulator.add_project(PROJECT, REGION)
        extra = {"region": REGION, "project_id": PROJECT, "endpoint": emulator.url}
        body = {"connection_id": "cfw_default", "conn_type": "huaweicloud_cfw", "login": AK, "password": SK}
        status, _ = _post(
            f"{api_server}/api/v2/connections",
            _login(api_server, installed.env),
            {**body, "extra": json.dumps(extra)},
        )
        assert status == 201
        yield "cfw_default"


def test_the_ui_test_icon_is_refused_by_airflow_3_3_2(
    api_server: str, installed: Installed, saved_connection: str
) -> None:
    token = _login(api_server, installed.env)
    conn = _call(f"{api_server}/api/v2/connections/{saved_connection}", token)
    # The body the connection list's icon posts (airflow/ui/dist/assets/index-*.js, 3.3.2), field by field.
    ui_body = {
        "conn_type": conn["conn_type"],
        "connection_id": conn["connection_id"],
        "description": conn.get("description") or "",
        "extra": conn.get("extra") or "{}",
        "host": conn.get("host") or "",
        "login": conn.get("login") or "",
        "password": conn.get("password") or "",
        "port": int(conn.get("port") or 0),  # Number(null) is 0
        "schema": conn.get("schema") or "",
    }
    status, answer = _post(f"{api_server}/api/v2/connections/test", token, ui_body)
    assert status == 400, answer
    assert "The host or port to test differs from the stored connection" in answer["detail"]


def test_the_documented_rest_call_tests_the_saved_connection(
    api_server: str, installed: Installed, saved_connection: str
) -> None:
    password = json.loads(
        Path(installed.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text()
    )
    script = (
        _documented_rest_call()
        .replace("AIRFLOW_URL=http://localhost:8080", f"AIRFLOW_URL={api_server}")
        .replace("<your password>", password["admin"])
    )
    env = {**installed.env, "PATH": f"{installed.venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    answer = json.loads(out.stdout)
    assert answer == {
        "status": True,
        "message": f"Connection works: CFW accepted the credentials for project {PROJECT}.",
    }
    # The page shows the answer as it comes.
    assert '# {"status":true,"message":"Connection works: CFW accepted the credentials for project ' in (
        _documented_rest_call()
    )
    assert out.stdout.startswith('{"status":true,"message":"Connection works')


def test_unsaved_values_in_the_body_are_tested_instead(
    api_server: str, installed: Installed, saved_connection: str
) -> None:
    token = _login(api_server, installed.env)
    body = {"connection_id": saved_connection, "conn_type": "huaweicloud_cfw", "password": "not-the-" + SK}
    status, answer = _post(f"{api_server}/api/v2/connections/test", token, body)
    assert status == 200 and answer["status"] is False
    assert answer["message"].startswith("CfwAuthError: HTTP 401 APIGW.0301: ")
    assert SK not in answer["message"]
