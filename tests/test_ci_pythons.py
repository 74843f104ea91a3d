"""CI's two legs run on two Pythons: the main leg (Airflow 3.3) on 3.12, what Airflow's official images
run, and the Airflow 2.11 leg on 3.11. The Makefile finds both; the classifiers and the README name
exactly these; and this suite runs on the one its leg is meant to use."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from airflow import __version__ as airflow_version

ROOT = Path(__file__).resolve().parents[1]


def _version(python: str) -> tuple[int, int]:
    assert python, "the Makefile found no interpreter for a leg"
    out = subprocess.run(
        [python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True, check=True
    )
    major, minor = out.stdout.split()
    return int(major), int(minor)


def _legs() -> tuple[tuple[int, int], tuple[int, int]]:
    """The Python versions of the Makefile's main leg and Airflow 2.11 leg, as make resolves them here."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "PYTHON2")}
    out = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "--eval",
            "cfw-legs: ; @echo '$(PYTHON)|$(PYTHON2)'",
            "cfw-legs",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    main, airflow2 = out.stdout.strip().split("|")
    return _version(main), _version(airflow2)


def test_the_legs_run_python_3_12_and_3_11_and_this_suite_runs_on_its_legs() -> None:
    main, airflow2 = _legs()
    assert (main, airflow2) == ((3, 12), (3, 11))
    this_leg = main if int(airflow_version.split(".")[0]) >= 3 else airflow2
    assert sys.version_info[:2] == this_leg


def test_the_classifiers_and_the_readme_name_the_pythons_ci_runs() -> None:
    main, airflow2 = (f"{m}.{n}" for m, n in _legs())
    classifiers = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["classifiers"]
    named = {
        c.rsplit(" :: ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert named == {main, airflow2}
    readme = (ROOT / "README.md").read_text()
    assert f"Airflow **3.3** (3.3.2) on Python **{main}**" in readme
    assert f"Airflow **2.11** (2.11.2) on Python **{airflow2}**" in readme
