"""The fault matrix fixture, and the check that docs/reliability.md is what this run observed."""

from __future__ import annotations

import os

import pytest

from tests.reliability import PAGE, WRITE_ENV, FaultMatrix

_MATRIX = FaultMatrix()
_EXPECTED_RECORDS: list[int] = [0]


@pytest.fixture
def fault_matrix() -> FaultMatrix:
    return _MATRIX


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _EXPECTED_RECORDS[0] = sum("fault_matrix" in getattr(item, "fixturenames", ()) for item in items)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Only a run that executed every recording test, all passing, knows the whole matrix.
    if session.testsfailed or not _EXPECTED_RECORDS[0] or _MATRIX.records != _EXPECTED_RECORDS[0]:
        return
    page = _MATRIX.render()
    if os.environ.get(WRITE_ENV) == "1":
        PAGE.write_text(page, encoding="utf-8")
        return
    if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != page:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"{PAGE} does not match the fault matrix this run observed: run `make reliability`."
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
