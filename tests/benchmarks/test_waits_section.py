"""docs/performance.md's whole-wait section: written by ``python -m tests.e2e.race_bench --write-docs``,
kept as it is when ``make bench`` rewrites the rest of the page."""

from __future__ import annotations

from benchmarks.docs_page import SECTION_END, SECTION_START, current_section, replace_section

PAGE = "# Performance\n\n## The run\n\ntables\n\n## Against issue 12's targets\n\ntargets\n"


def section(text: str) -> str:
    return f"{SECTION_START}\n## Where a wait's cost really is\n\n{text}\n{SECTION_END}"


def test_a_first_section_goes_next_to_the_per_poll_tables() -> None:
    page = replace_section(PAGE, section("a"))
    assert page.index("tables") < page.index(SECTION_START) < page.index("## Against issue 12's targets")
    assert current_section(page) == section("a")


def test_a_new_section_replaces_the_old_one_and_nothing_else() -> None:
    page = replace_section(replace_section(PAGE, section("old")), section("new"))
    assert current_section(page) == section("new")
    assert "old" not in page
    assert page.replace(section("new") + "\n\n", "") == PAGE


def test_a_page_without_the_section_has_none() -> None:
    assert current_section(PAGE) is None


def test_the_checked_in_page_has_the_section() -> None:
    from benchmarks.harness import ROOT

    kept = current_section((ROOT / "docs" / "performance.md").read_text())
    assert kept is not None and "worker task starts per wait" in kept
