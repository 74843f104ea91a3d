"""Every Makefile target that imports Airflow runs it in a throwaway AIRFLOW_HOME, removed afterwards, and
`make docs` prints no Airflow log lines (issue 31).

Without its own home, anything that imports Airflow creates ``~/airflow/airflow.cfg`` on the developer's
machine. The targets are run for real with stand-in ``pytest`` and ``sphinx-build`` scripts in a fake
environment (``VENV=...``), which record the home they were given; ``make -n test`` shows every pytest
leg of the whole suite; and ``make docs`` is run once for real.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="needs make")

#: Stands in for pytest and sphinx-build: records AIRFLOW_HOME, writes into it as Airflow would, and
#: exits with FAKE_RC (3 instead when its arguments hold FAKE_FAIL_ON).
RECORDER = """#!/bin/sh
echo "$AIRFLOW_HOME" >> "$RECORD"
test -d "$AIRFLOW_HOME" && touch "$AIRFLOW_HOME/airflow.cfg"
test -n "$RECORD_SIGIGN" && grep SigIgn /proc/$$/status >> "$RECORD_SIGIGN"
case "$*" in *"${FAKE_FAIL_ON:-never matches}"*) exit 3;; esac
exit "${FAKE_RC:-0}"
"""


def fake_venv(path: Path) -> Path:
    (path / "bin").mkdir(parents=True)
    for tool in ("pytest", "sphinx-build"):
        script = path / "bin" / tool
        script.write_text(RECORDER)
        script.chmod(0o755)
    (path / ".installed").touch()
    return path


def make(*args: str, tmp: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    venv, venv2, venv3 = tmp / "venv", tmp / "venv2", tmp / "venv3"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MAKE"))}
    return subprocess.run(
        [
            *(MAKE or "make", "--no-print-directory", *args),
            *(f"VENV={venv}", f"VENV2={venv2}", f"VENV_PROD={venv3}"),
            *(f"-o{venv}/.installed", f"-o{venv2}/.installed", f"-o{venv3}/.installed"),
        ],
        cwd=ROOT,
        env={**base, "TMPDIR": str(tmp / "tmpdir"), "RECORD": str(tmp / "record"), **(env or {})},
        capture_output=True,
        text=True,
        # make starts as from a terminal, whatever started this test (see the side-by-side test).
        preexec_fn=lambda: [signal.signal(sig, signal.SIG_DFL) for sig in (signal.SIGINT, signal.SIGQUIT)],
        timeout=600,
        check=False,
    )


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    fake_venv(tmp_path / "venv")
    fake_venv(tmp_path / "venv2")
    fake_venv(tmp_path / "venv3")
    (tmp_path / "tmpdir").mkdir()
    return tmp_path


@pytest.mark.parametrize("target", ["unit", "e2e", "reliability", "test-airflow2", "docs"])
@pytest.mark.parametrize("rc", [0, 3])
def test_the_target_runs_in_a_throwaway_airflow_home_it_removes(target: str, rc: int, tmp: Path) -> None:
    out = make(target, f"DOCS_OUT={tmp / 'site'}", tmp=tmp, env={"FAKE_RC": str(rc)})
    assert (out.returncode == 0) == (rc == 0), out.stdout + out.stderr  # the tool's failure is make's
    [home] = (tmp / "record").read_text().split()
    assert Path(home).parent == tmp / "tmpdir"  # a new temporary folder, not ~/airflow...
    assert list((tmp / "tmpdir").iterdir()) == []  # ...removed afterwards, with what Airflow wrote


def test_every_pytest_leg_of_make_test_has_its_own_airflow_home(tmp: Path) -> None:
    out = make("-n", "test", tmp=tmp)
    assert out.returncode == 0, out.stderr
    legs = [line for line in out.stdout.splitlines() if "/bin/pytest" in line]
    # The main leg's unit and end-to-end halves (run side by side), the 2.11 leg, the 2.11 stack, the HA
    # stack and the production stack.
    assert len(legs) == 6, out.stdout
    for line in legs:
        assert line.startswith("home=$(mktemp -d) && trap 'rm -rf \"$home\"' EXIT && AIRFLOW_HOME=$home "), (
            line
        )


@pytest.mark.parametrize(
    ("failing", "legs_run"),
    # The first pair of legs runs to its end; a failure there, or in a later leg, stops `make test`.
    [
        (None, 6),
        ("-m e2e", 2),
        ("not e2e", 2),
        ("test_e2e_airflow2.py", 4),
        ("test_e2e_ha.py", 5),
        ("test_e2e_production.py", 6),
    ],
)
def test_make_test_fails_when_any_leg_fails_even_one_run_beside_another(
    failing: str | None, legs_run: int, tmp: Path
) -> None:
    # The legs that run side by side (e2e beside unit): a failure in the background half must fail
    # `make test` as surely as one in the foreground.
    out = make(
        "test",
        *("-o", "lint", "-o", "typecheck", "-o", "docs", "-o", "dist"),
        *("-o", "postgres-server", "-o", "redis-server"),
        tmp=tmp,
        env={"FAKE_FAIL_ON": failing} if failing else None,
    )
    assert (out.returncode == 0) == (failing is None), out.stdout + out.stderr
    assert len((tmp / "record").read_text().split()) == legs_run, out.stdout
    assert list((tmp / "tmpdir").iterdir()) == []  # every home and the background half's log removed


def test_a_leg_run_beside_another_hears_ctrl_c(tmp: Path) -> None:
    # A shell runs a background job with SIGINT and SIGQUIT ignored, and the ignoring survives exec:
    # a Python started so never raises KeyboardInterrupt, and `airflow standalone` in the local-airflow
    # page's test never stopped on the page's SIGINT (the CI run hung there). Every leg, background
    # ones included, must start with both at their defaults.
    sigign = tmp / "sigign"
    out = make(
        "test",
        *("-o", "lint", "-o", "typecheck", "-o", "docs", "-o", "dist"),
        *("-o", "postgres-server", "-o", "redis-server"),
        tmp=tmp,
        env={"RECORD_SIGIGN": str(sigign)},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    masks = [int(line.split()[1], 16) for line in sigign.read_text().splitlines()]
    assert len(masks) == 6
    ignored = 1 << (signal.SIGINT - 1) | 1 << (signal.SIGQUIT - 1)
    assert [mask & ignored for mask in masks] == [0] * 6, [hex(m) for m in masks]
    assert list((tmp / "tmpdir").iterdir()) == []  # every home and the background half's log removed


@pytest.mark.skipif(not (Path(sys.prefix) / ".installed").exists(), reason="needs the Makefile's own venv")
def test_make_docs_is_quiet_and_leaves_no_airflow_home(tmp_path: Path) -> None:
    (tmp_path / "tmpdir").mkdir()
    out = subprocess.run(
        [
            *(MAKE or "make", "--no-print-directory", "docs", f"DOCS_OUT={tmp_path / 'site'}"),
            *(f"VENV={sys.prefix}", f"-o{sys.prefix}/.installed"),
        ],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MAKE"))},
            "TMPDIR": str(tmp_path / "tmpdir"),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert (tmp_path / "site" / "html" / "index.html").is_file()
    printed = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    # Only make's own echo of the commands and the last line: no "INFO airflow..." from the import.
    assert [line for line in printed if "INFO" in line] == [], printed
    assert list((tmp_path / "tmpdir").iterdir()) == []
