"""docs/local-airflow.md, run as written: the emulator's command line, ``airflow standalone`` and a DAG of
the user's own, triggered and checked from a shell, then stopped with Ctrl-C (issue 31).

The page's blocks run with ``bash`` in a temporary folder, each terminal in a process group of its own;
its three files come from docs/examples/local-airflow/, which the page must quote unchanged. Only the
ports differ (free ones for the emulator and the api-server, so that a real Airflow on 8080 is never
met), in this copy of env.sh and in the emulator's command, and ``HOME`` is a temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_cfw.hooks.cfw import CfwHook
from tests.e2e.processes import ManagedProcess, free_port, stop_all, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "local-airflow.md"
FILES = ROOT / "docs" / "examples" / "local-airflow"
DOCUMENTED_EMULATOR_PORT = "8999"


def page_text() -> str:
    return PAGE.read_text(encoding="utf-8")


def block_after(marker: str) -> str:
    match = re.search(re.escape(marker) + r"\n```\w+\n(.*?)```\n", page_text(), re.DOTALL)
    assert match, f"{PAGE.name}: no block after {marker}"
    return match.group(1)


def first_step() -> str:
    section = page_text().split("\n## 1. ", 1)[1]
    return section.split("```bash\n", 1)[1].split("```\n", 1)[0]


def test_the_page_quotes_its_files_unchanged() -> None:
    for path in sorted(p for p in FILES.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        relative = path.relative_to(ROOT)
        assert block_after(f"<!-- include {relative} -->") == path.read_text(encoding="utf-8"), relative


class Terminal(ManagedProcess):
    """A terminal running one of the page's blocks; Ctrl-C is SIGINT to its process group."""

    def __init__(self, name: str, block: str, env: dict[str, str], cwd: Path) -> None:
        # ManagedProcess runs in the test's folder: the block's own `cd cfw-try` needs its parent.
        super().__init__(name, ["bash", "-c", f"cd {cwd}\n{block}"], env, cwd / f"{name}.out", signal.SIGINT)


@pytest.fixture
def user(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The user's folder and environment: the venv's tools first on PATH, a HOME of its own."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    yield tmp_path, env


def test_the_local_airflow_page_runs_as_written(
    user: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, env = user
    emulator_port, api_port = str(free_port()), free_port()
    step1 = subprocess.run(["bash", "-e", "-c", first_step()], cwd=folder, env=env, timeout=30, check=False)
    assert step1.returncode == 0
    try_folder = folder / "cfw-try"
    for path in FILES.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            target = try_folder / path.relative_to(FILES)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    env_sh = try_folder / "env.sh"
    env_sh.write_text(
        env_sh.read_text().replace(DOCUMENTED_EMULATOR_PORT, emulator_port)
        + f"export AIRFLOW__API__PORT={api_port} AIRFLOW__API__HOST=127.0.0.1"
        + f" AIRFLOW__API__BASE_URL=http://localhost:{api_port}\n"
    )
    emulator_block = block_after("<!-- terminal 1 -->")
    assert f"--port {DOCUMENTED_EMULATOR_PORT} " in emulator_block
    emulator = Terminal(
        "terminal-1", emulator_block.replace(DOCUMENTED_EMULATOR_PORT, emulator_port), env, folder
    )
    airflow = Terminal("terminal-2", block_after("<!-- terminal 2 -->"), env, folder)
    try:
        emulator.start()
        wait_for("the emulator", lambda: "CFW emulator listening on" in emulator.log_text(), 30)
        airflow.start()

        def ready() -> bool:
            if not airflow.running():
                raise RuntimeError(f"airflow standalone exited:\n{airflow.tail()}")
            return "Airflow is ready" in airflow.log_text()

        wait_for("airflow standalone", ready, 300, 1.0)

        run = subprocess.run(
            ["bash", "-e", "-c", f"cd {folder}\n{block_after('<!-- terminal 3 -->')}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        states = re.findall(r"^my_firewall +(\w+) +(\w+) ", run.stdout, re.MULTILINE)
        assert sorted(states) == [
            ("create_firewall", "success"),
            ("delete_firewall", "success"),
            ("use", "success"),
        ], run.stdout[-3000:]
        logs = try_folder / "airflow-home" / "logs" / "dag_id=my_firewall" / "run_id=first-try"
        assert "protecting with " in (logs / "task_id=use" / "attempt=1.log").read_text()

        # The teardown deleted the firewall: the emulator lists none of that name.
        conn = json.loads(re.search(r"AIRFLOW_CONN_CFW_DEFAULT='(.*?)'", env_sh.read_text(), re.DOTALL)[1])
        monkeypatch.setenv("AIRFLOW_CONN_CFW_DEFAULT", json.dumps(conn))
        assert [f for f in CfwHook().list_firewalls("my-fw-1") if f.name == "my-fw-1"] == []

        # Ctrl-C in terminal 2, then in terminal 1: everything stops, nothing stays behind.
        for terminal in (airflow, emulator):
            assert terminal.proc is not None
            group = terminal.proc.pid
            terminal.signal_group(group, signal.SIGINT)

            def gone(terminal: Terminal = terminal, group: int = group) -> bool:
                if terminal.proc is not None:
                    terminal.proc.poll()
                return not terminal.group_alive(group)

            wait_for(f"{terminal.name} to stop after Ctrl-C", gone, 60, 0.5)
        assert "standalone | Complete" in airflow.log_text()
        assert not (folder / "home" / "airflow").exists()  # ~/airflow untouched
    finally:
        stop_all([airflow, emulator])
