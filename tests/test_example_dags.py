"""DAG integrity: every example DAG imports cleanly, offline, and follows the house conventions; the
docs quote the examples' ``# [START ...]``/``# [END ...]`` blocks verbatim.

``python -m tests.test_example_dags --write`` refreshes the quoted blocks in docs/examples.md.
"""

from __future__ import annotations

import contextlib
import re
import socket
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.listeners import TaskListener, listeners

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = ROOT / "example_dags"
E2E_DAGS = ROOT / "tests" / "e2e" / "dags"
DOCS = ROOT / "docs" / "examples.md"
EXAMPLE_FILES = sorted(EXAMPLE_DAGS.glob("*.py"))

MARKER = re.compile(r"^\s*# \[(START|END) (\w+)\]\s*$")
# In the docs: <!-- include example_dags/FILE.py NAME --> then a ```python fence.
INCLUDE = re.compile(r"<!-- include (\S+) (\w+) -->\n```python\n(.*?)```\n", re.DOTALL)


#: The param each example takes from the run's conf (the job examples: the job id).
RUN_INPUT = {"example_cfw_firewall_lifecycle": "name"}


class NetworkAccessError(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any connection or DNS lookup while the DAGs are parsed fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkAccessError(f"network access while parsing DAGs: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield


def _dagbag(folder: Path) -> Any:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2.x, where the bundled examples must be left out explicitly
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

        return DagBag(dag_folder=str(folder), include_examples=False)
    return DagBag(dag_folder=str(folder))


@pytest.fixture(scope="module")
def example_bag() -> Any:
    return _dagbag(EXAMPLE_DAGS)


def test_there_are_example_dags() -> None:
    names = {p.name for p in EXAMPLE_FILES}
    assert {
        "example_cfw_job_sensor.py",
        "example_cfw_job_sensor_deferrable.py",
        "example_cfw_hook.py",
        "example_cfw_firewall_lifecycle.py",
    } <= names


def _airflow_major() -> int:
    from airflow import __version__

    return int(__version__.split(".")[0])


@pytest.mark.parametrize("folder", [EXAMPLE_DAGS, E2E_DAGS], ids=["example_dags", "e2e_dags"])
def test_dags_import_without_errors_or_network(folder: Path, no_network: None) -> None:
    if folder == E2E_DAGS and _airflow_major() < 3:
        pytest.skip("the e2e DAGs run only on the Airflow 3 stack of tests/e2e")
    # Parsed as the e2e stack parses them, without listeners (load_examples off): Airflow refuses
    # end_from_trigger=True, which e2e_cfw_worker_free sets, when listeners are installed.
    with contextlib.nullcontext() if folder == EXAMPLE_DAGS else listeners():
        bag = _dagbag(folder)
    assert bag.import_errors == {}
    assert bag.dags, f"no DAG found in {folder}"


def test_airflow_refuses_end_from_trigger_with_listeners_but_not_the_auto_default(no_network: None) -> None:
    """What docs/sensor.md says of listeners, from Airflow's own DAG bag: ``end_from_trigger=True``
    is refused, the default (auto, ``None``) is not."""
    if _airflow_major() < 3:
        pytest.skip("the e2e DAGs run only on the Airflow 3 stack of tests/e2e")
    with listeners(TaskListener()):
        bag = _dagbag(E2E_DAGS)
    errors = {Path(path).name: text for path, text in bag.import_errors.items()}
    refused = errors.pop("e2e_cfw_worker_free.py")  # builds end_from_trigger=True
    assert "Listeners are not supported with end_from_trigger=True" in refused
    assert errors == {}
    assert "e2e_cfw_deferrable" in bag.dags  # its sensor takes the default
    # The race file leaves its end_from_trigger=True DAGs out where listeners are installed: the
    # listeners path of the race measurement runs its default-argument DAG there.
    race = {dag_id for dag_id in bag.dags if dag_id.startswith("e2e_cfw_race_")}
    assert race == {"e2e_cfw_race_worker", "e2e_cfw_race_default", "e2e_cfw_race_firewall"}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_dag_conventions(path: Path, example_bag: Any) -> None:
    source = path.read_text(encoding="utf-8")
    assert "from __future__ import annotations" in source
    match = re.search(r'^DAG_ID = "(example_\w+)"$', source, re.MULTILINE)
    assert match, f'{path.name}: no DAG_ID = "example_..." line'
    assert match.group(1) == path.stem, "the DAG id is the file's name"
    dag = example_bag.dags[match.group(1)]
    assert type(dag.timetable).__name__ == "NullTimetable", "schedule=None: runs only when triggered"
    assert dag.catchup is False
    assert "example" in dag.tags
    run_input = RUN_INPUT.get(dag.dag_id, "job_id")
    assert run_input in dag.params, f"the {run_input} comes from params / dag_run.conf"
    # A task returning a dict says whether it means one XCom or one per key; Airflow's inference from a
    # dict annotation pushes one per key, which no example wants.
    assert [t.task_id for t in dag.tasks if getattr(t, "multiple_outputs", False)] == []
    # Credentials only through the connection: nothing that looks like an AK or an SK in the file.
    assert not re.search(r"(?i)\b(ak|sk|access_key|secret_key|password)\s*=", source)


def test_lifecycle_example_cleans_up_whatever_happens(example_bag: Any) -> None:
    dag = example_bag.dags["example_cfw_firewall_lifecycle"]
    create, use, delete = (dag.get_task(t) for t in ("create_firewall", "use_firewall", "delete_firewall"))
    assert type(create).__name__ == "CfwCreateFirewallOperator" and create.deferrable is True
    assert create.if_exists == "reuse" and create.retries > 0
    assert type(delete).__name__ == "CfwDeleteFirewallOperator"
    # Setup and teardown: the delete runs whatever the work did, and the run's state is the work's.
    assert create.is_setup and delete.is_teardown and not use.is_setup and not use.is_teardown
    assert delete.trigger_rule == "all_done_setup_success"
    assert use.upstream_task_ids == {"create_firewall"}
    assert delete.upstream_task_ids == {"use_firewall", "create_firewall"}
    # By the create's name: the delete needs nothing from the create's XCom.
    assert delete.name == create.name and delete.firewall_id is None


def markers(path: Path) -> dict[str, str]:
    """``{name: dedented text between # [START name] and # [END name]}``; checks that they pair up."""
    blocks: dict[str, str] = {}
    open_name: str | None = None
    lines: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        found = MARKER.match(line)
        if found is None:
            if open_name is not None:
                lines.append(line)
            continue
        kind, name = found.groups()
        if kind == "START":
            assert open_name is None, f"{path.name}:{number}: START {name} inside {open_name}"
            assert name not in blocks, f"{path.name}:{number}: {name} used twice"
            open_name, lines = name, []
        else:
            assert open_name == name, f"{path.name}:{number}: END {name} does not close {open_name}"
            blocks[name] = textwrap.dedent("\n".join(lines)).strip("\n") + "\n"
            open_name = None
    assert open_name is None, f"{path.name}: START {open_name} never ends"
    return blocks


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_markers_pair_up_and_follow_the_naming(path: Path) -> None:
    blocks = markers(path)
    assert blocks, f"{path.name} has no # [START howto_...] block for the docs"
    assert all(name.startswith("howto_") for name in blocks)


def expected_docs(text: str) -> str:
    def quote(match: re.Match[str]) -> str:
        relative, name = match.group(1), match.group(2)
        block = markers(ROOT / relative)[name]
        return f"<!-- include {relative} {name} -->\n```python\n{block}```\n"

    return INCLUDE.sub(quote, text)


def test_docs_quote_every_block_verbatim() -> None:
    text = DOCS.read_text(encoding="utf-8")
    included = {(m.group(1), m.group(2)) for m in INCLUDE.finditer(text)}
    every = {(f"example_dags/{p.name}", name) for p in EXAMPLE_FILES for name in markers(p)}
    assert every <= included, f"blocks missing from docs/examples.md: {sorted(every - included)}"
    assert text == expected_docs(text), (
        "docs/examples.md is stale: run python -m tests.test_example_dags --write"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        DOCS.write_text(expected_docs(DOCS.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        sys.exit("usage: python -m tests.test_example_dags --write")
