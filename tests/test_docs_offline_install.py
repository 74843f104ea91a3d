"""The README's install without Airflow's constraints file: the repository's lock file stands in for it.

What is checked here, without a network: the commands use requirements.lock as constraints, name the
Airflow it pins, and the lock is a plain list of pins pip accepts as constraints. (The fresh-clone
trial of issue 31 ran the commands against the package index.)
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def install_blocks() -> list[str]:
    section = (ROOT / "README.md").read_text().split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.DOTALL)


def locked(name: str) -> str:
    match = re.search(rf"^{re.escape(name)}==(\S+)$", (ROOT / "requirements.lock").read_text(), re.MULTILINE)
    assert match, f"requirements.lock does not pin {name}"
    return match.group(1)


def test_the_tested_install_comes_first_and_the_lock_file_way_second() -> None:
    tested, offline = install_blocks()[:2]
    assert "requirements.lock" not in tested
    commands = offline.strip().splitlines()
    assert commands == [
        f'python -m pip install "apache-airflow=={locked("apache-airflow")}" -c requirements.lock',
        "python -m pip install dist/airflow_provider_cfw-*.whl -c requirements.lock",
    ]


def test_the_lock_file_is_a_plain_constraints_file() -> None:
    # pip refuses editable requirements, URLs and options in a constraints file.
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            assert re.fullmatch(r"[A-Za-z0-9._-]+(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!_-]+( ; .+)?", text), (
                line
            )
    assert locked("apache-airflow") in (ROOT / "README.md").read_text().split("## Install", 1)[0]
