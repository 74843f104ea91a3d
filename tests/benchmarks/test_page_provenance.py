"""docs/performance.md says which code and which command made it, and names no folder of the machine
that ran it (a checkout, a temporary file)."""

from __future__ import annotations

import re
from pathlib import Path

from benchmarks.__main__ import public_args
from benchmarks.report import environment

PAGE = Path(__file__).resolve().parents[2] / "docs" / "performance.md"
LOCAL_PATH = re.compile(r"(?<![\w.<])/(work|tmp|home|root|Users|var|opt)/")


def test_the_provenance_lines_name_the_commit_not_the_checkout(tmp_path: Path) -> None:
    lines = environment("python -m benchmarks", str(tmp_path))
    assert str(tmp_path) not in lines
    assert re.search(r"airflow-provider-cfw at `[^`]+`\.", lines)


def test_the_command_line_hides_local_paths() -> None:
    given = ["--repeat", "5", "--provider-src", "/work/wt/bench", "--json=/tmp/lb2/full.json", "--write-docs"]
    assert public_args(given) == [
        "--repeat",
        "5",
        "--provider-src",
        "<path>",
        "--json=<path>",
        "--write-docs",
    ]


def test_the_published_page_names_no_local_path() -> None:
    run = PAGE.read_text().split("\n## The run\n", 1)[1].split("\n### ", 1)[0]
    assert "- Command: `" in run
    assert not LOCAL_PATH.search(run), LOCAL_PATH.search(run)
