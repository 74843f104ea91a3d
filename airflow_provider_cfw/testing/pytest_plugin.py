"""pytest fixtures, registered through the ``pytest11`` entry point: ``cfw_emulator`` and friends.

pytest loads this module in every run wherever the provider is installed, the user's unrelated test
suites included, so it imports only pytest: the emulator (and aiohttp's server) load when a fixture
first runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_cfw.testing.emulator import CfwEmulator


@pytest.fixture
def cfw_emulator() -> Iterator[CfwEmulator]:
    """A fresh, running emulator for one test (background thread; about a millisecond to start)."""
    from airflow_provider_cfw.testing.emulator import CfwEmulator

    with CfwEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def cfw_emulator_session() -> Iterator[CfwEmulator]:
    """One emulator for the whole session: cheaper for many tests, but they share its state.

    Call ``emulator.reset()`` where a test needs a clean account.
    """
    from airflow_provider_cfw.testing.emulator import CfwEmulator

    with CfwEmulator() as emulator:
        yield emulator
