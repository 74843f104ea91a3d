"""pytest fixtures, registered through the ``pytest11`` entry point: ``cfw_emulator`` and friends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_cfw.testing.emulator import CfwEmulator


@pytest.fixture
def cfw_emulator() -> Iterator[CfwEmulator]:
    """A fresh, running emulator for one test (background thread; about a millisecond to start)."""
    with CfwEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def cfw_emulator_session() -> Iterator[CfwEmulator]:
    """One emulator for the whole session: cheaper for many tests, but they share its state.

    Call ``emulator.reset()`` where a test needs a clean account.
    """
    with CfwEmulator() as emulator:
        yield emulator
