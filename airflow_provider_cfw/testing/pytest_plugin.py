"""pytest fixtures, registered through the ``pytest11`` entry point: ``cfw_emulator`` and friends.

pytest loads this module in every run wherever the provider is installed, the user's unrelated test
suites included, so it imports only pytest: the emulator (and aiohttp's server) load when a fixture
first runs. It changes nothing in the environment unless the project asks: with ``cfw_dags_folder``
set (ini option, or ``--cfw-dags-folder``), the session runs on a throwaway Airflow (see
:mod:`airflow_provider_cfw.testing.airflow_env`), ``cfw_airflow_db`` gives it a fresh database and
``cfw_load_dag`` parses a DAG from its folder afresh for each ``dag.test()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_provider_cfw.testing.airflow_env import ThrowawayAirflow
    from airflow_provider_cfw.testing.emulator import CfwEmulator

_THROWAWAY: pytest.StashKey[ThrowawayAirflow | None] = pytest.StashKey()
_INI = "cfw_dags_folder"


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = (
        "Run this session on a throwaway Airflow (a temporary AIRFLOW_HOME and SQLite metadata "
        "database) with [core] dags_folder set to this folder; your own Airflow is never touched."
    )
    parser.addini(_INI, f"{help_text} Relative to the configuration file.", default="")
    parser.getgroup("cfw_emulator").addoption(
        "--cfw-dags-folder",
        dest="cfw_dags_folder",
        default=None,
        help=f"{help_text} Overrides the ini option.",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # The first hook after the command line and the ini file are read, and before any conftest.py is
    # imported: Airflow reads its settings once, when it is first imported, so they must be set here.
    option = early_config.known_args_namespace.cfw_dags_folder
    ini = early_config.getini(_INI)
    early_config.stash[_THROWAWAY] = None
    if not option and not ini:
        return
    from airflow_provider_cfw.testing.airflow_env import ThrowawayAirflow, ThrowawayAirflowError

    if option:
        folder, named = early_config.invocation_params.dir / option, "--cfw-dags-folder"
    else:
        base = early_config.inipath.parent if early_config.inipath else early_config.rootpath
        folder, named = base / ini, f"{_INI} in {early_config.inipath or 'the ini file'}"
    try:
        early_config.stash[_THROWAWAY] = ThrowawayAirflow.start(Path(folder).resolve(), named)
    except ThrowawayAirflowError as err:
        raise pytest.UsageError(str(err)) from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "cfw_rate_limit(calls, period=1.0, retry_after=None, scope='account', routes=('*',)): the "
        "cfw_emulator fixture throttles like Huawei's API gateway (CfwEmulator.set_rate_limit)",
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    env = config.stash.get(_THROWAWAY, None)
    if env is not None:
        env.restore()


@pytest.fixture(scope="session")
def cfw_airflow_db(pytestconfig: pytest.Config) -> None:
    """A fresh Airflow metadata database for ``dag.test()``: the session's throwaway one, reset once.

    Refuses (the test errors, nothing is reset) unless the session asked for a throwaway Airflow with
    ``cfw_dags_folder``, and unless Airflow, as imported, uses that throwaway database.
    """
    from airflow_provider_cfw.testing.airflow_env import ThrowawayAirflowError, reset_database

    try:
        reset_database(pytestconfig.stash.get(_THROWAWAY, None))
    except ThrowawayAirflowError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture
def cfw_load_dag(pytestconfig: pytest.Config, cfw_airflow_db: None) -> Callable[[str], Any]:
    """``load(dag_id)``: the DAG parsed afresh from ``cfw_dags_folder``, on the fresh database.

    Call it once per ``dag.test()``: a DAG object run twice in one process carries the first run's
    ``conf`` into the second run's params (see :mod:`airflow_provider_cfw.testing.dag_loader`).
    """
    from airflow_provider_cfw.testing.dag_loader import DagNotFoundError, load_dag

    throwaway = pytestconfig.stash.get(_THROWAWAY, None)
    assert throwaway is not None  # cfw_airflow_db has refused otherwise

    def load(dag_id: str) -> Any:
        try:
            return load_dag(throwaway.dags_folder, dag_id)
        except DagNotFoundError as err:
            pytest.fail(str(err), pytrace=False)

    return load


@pytest.fixture
def cfw_emulator(request: pytest.FixtureRequest) -> Iterator[CfwEmulator]:
    """A fresh, running emulator for one test (background thread; about a millisecond to start).

    Its firewall jobs take a second, not the emulator's realistic default: tests want them done.
    ``@pytest.mark.cfw_rate_limit(50)`` on the test gives it the account-wide API rate limit of
    :meth:`CfwEmulator.set_rate_limit` (here 50 calls a second) from the start.
    """
    from airflow_provider_cfw.testing.emulator import CfwEmulator
    from airflow_provider_cfw.testing.firewalls import FAST_FIREWALL_JOB_SECONDS

    with CfwEmulator(firewall_job_seconds=FAST_FIREWALL_JOB_SECONDS) as emulator:
        marker = request.node.get_closest_marker("cfw_rate_limit")
        if marker is not None:
            emulator.set_rate_limit(*marker.args, **marker.kwargs)
        yield emulator


@pytest.fixture(scope="session")
def cfw_emulator_session() -> Iterator[CfwEmulator]:
    """One emulator for the whole session: cheaper for many tests, but they share its state.

    Call ``emulator.reset()`` where a test needs a clean account. Firewall jobs take a second, as in
    ``cfw_emulator``, and again after a reset.
    """
    from airflow_provider_cfw.testing.emulator import CfwEmulator
    from airflow_provider_cfw.testing.firewalls import FAST_FIREWALL_JOB_SECONDS

    with CfwEmulator(firewall_job_seconds=FAST_FIREWALL_JOB_SECONDS) as emulator:
        yield emulator
