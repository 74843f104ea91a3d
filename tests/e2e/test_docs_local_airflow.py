"""docs/local-airflow.md, run as written: the emulator's command line, ``airflow standalone`` and a DAG of
the user's own, triggered and checked from a shell, then stopped (issue 31).

The page's blocks run with ``bash -e -m`` (job control on, as in an interactive terminal, so that a
background job gets a process group of its own and SIGINT reaches it) in a temporary folder; its three
files come from docs/examples/local-airflow/, which the page must quote unchanged. Only the ports differ
(free ones for the emulator and the api-server, so that a real Airflow on 8080 is never met), in this
copy of env.sh and in the emulator's command, and ``HOME`` is a temporary folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.e2e.processes import free_port, wait_for

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


def steps(*names: str) -> str:
    return "".join(block_after(f"<!-- step: {name} -->") for name in names)


def in_a_terminal(script: str, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """``script`` typed into one terminal: bash with job control (``-m``) on a pseudo-terminal (util-linux
    ``script``), so that a background job leads a process group of its own and hears SIGINT, as in an
    interactive shell (without a terminal, bash runs background jobs with SIGINT ignored). SIGINT and
    SIGQUIT start at their defaults, as in a user's terminal, however pytest was started: a test run as
    a shell's background job inherits them ignored, and an ignored signal stays ignored across exec."""
    out = subprocess.run(
        ["script", "--quiet", "--return", "--command", f"bash -e -m -c {shlex.quote(script)}", "/dev/null"],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=_default_interrupt_signals,
    )
    return out.returncode, out.stdout.replace("\r\n", "\n")


def _default_interrupt_signals() -> None:
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def group_alive(pgid: int) -> bool:
    """A process of the group still runs. Its exited members are not counted: their parent, the page's
    shell, has ended, and PID 1 in a container may never reap them."""
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


@pytest.fixture
def user(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The user's folder and environment: the venv's tools first on PATH, a HOME of its own; whatever
    the page started is killed by its process group afterwards, should a step have failed."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    yield tmp_path, env
    for pid_file in (tmp_path / "cfw-try").glob("*.pid"):
        with contextlib.suppress(ValueError, ProcessLookupError):
            pid = int(pid_file.read_text())
            group = os.getpgid(pid)
            # Its own group (job control on), with everything it started; never the test's group.
            if group != os.getpgrp():
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)


#: What the test types between step 4 and step 5: the firewalls of that name the emulator still lists,
#: and the process group standalone leads (it must lead one, for "nothing stays behind" to be checked).
BETWEEN_STEPS = """
python -c 'from airflow_provider_cfw import CfwHook; print("FIREWALLS", [f.name for f in CfwHook().list_firewalls("my-fw-1")])'
echo "LEADS $(cat standalone.pid) $(ps -o pgid= -p "$(cat standalone.pid)")"
"""


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux script for a pseudo-terminal")
def test_the_local_airflow_page_runs_as_written(user: tuple[Path, dict[str, str]]) -> None:
    folder, env = user
    emulator_port, api_port = str(free_port()), free_port()
    code, out = in_a_terminal(first_step(), folder, env, 30)
    assert code == 0, out
    try_folder = folder / "cfw-try"
    for path in FILES.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            target = try_folder / path.relative_to(FILES)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    env_sh = try_folder / "env.sh"
    env_sh.write_text(
        env_sh.read_text().replace(DOCUMENTED_EMULATOR_PORT, emulator_port)
        + f"export AIRFLOW__API__PORT={api_port} AIRFLOW__API__BASE_URL=http://localhost:{api_port}\n"
    )
    started = steps("emulator", "airflow", "run")
    assert f"--port {DOCUMENTED_EMULATOR_PORT} " in started
    session = started.replace(DOCUMENTED_EMULATOR_PORT, emulator_port) + BETWEEN_STEPS + steps("stop")

    # Steps 2 to 5 in one shell, as typed into one terminal (the page's folder, after step 1's cd).
    code, out = in_a_terminal(session, try_folder, env, 700)
    log = try_folder / "standalone.log"
    assert code == 0, out[-4000:] + (log.read_text()[-3000:] if log.exists() else "")
    assert f"CFW emulator listening on http://127.0.0.1:{emulator_port}" in out
    states = re.findall(r"^my_firewall +(\w+) +(\w+) ", out, re.MULTILINE)
    assert sorted(states) == [
        ("create_firewall", "success"),
        ("delete_firewall", "success"),
        ("use", "success"),
    ], out[-3000:]
    logs = try_folder / "airflow-home" / "logs" / "dag_id=my_firewall" / "run_id=first-try"
    assert "protecting with " in (logs / "task_id=use" / "attempt=1.log").read_text()
    assert "FIREWALLS []" in out  # the teardown deleted it
    leads = re.search(r"^LEADS (\d+) +(\d+)$", out, re.MULTILINE)
    assert leads is not None and leads[1] == leads[2], out[-2000:]

    # Step 5 stopped Airflow and the emulator, and nothing of them stays behind.
    assert log.read_text().rstrip().endswith("standalone | Complete")
    pids = [int((try_folder / f"{name}.pid").read_text()) for name in ("standalone", "emulator")]
    wait_for("every process of Airflow and the emulator to end", lambda: not any(map(group_alive, pids)), 30)
    assert not (folder / "home" / "airflow").exists()  # ~/airflow untouched
