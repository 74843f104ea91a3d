"""The house rules, read from the source: imports run one way, no class stubs another's members, and
each kind of wait polls in one loop per transport (docs/architecture.md draws the picture)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "airflow_provider_cfw"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _walk_outside_type_checking(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, wherever it is (functions too: a lazy import is an import), but under
    ``if TYPE_CHECKING:``, which never runs."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not _type_checking_block(child):
                stack.append(child)


def imports_of(path: Path, prefixes: tuple[str, ...]) -> set[str]:
    """The modules under ``prefixes`` that ``path`` imports, resolved to modules (not names)."""
    found: set[str] = set()
    for node in _walk_outside_type_checking(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from pkg import module`` imports the module; ``from module import name`` the module.
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name.startswith(prefixes):
                found.add(name)
    return found


def package_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in python_files(PACKAGE)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {t for t in imports_of(path, ("airflow_provider_cfw",)) if t in modules}
        graph[name] = targets - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_circles() -> None:
    assert cycles(package_graph()) == []


def test_the_circle_check_sees_lazy_imports() -> None:
    # The check itself: a function-level import back into a module that imports it is a circle.
    graph = package_graph()
    graph["airflow_provider_cfw.core.calls"].add("airflow_provider_cfw.core.client")
    assert cycles(graph), "a circle through core.calls -> core.client -> core.calls was not found"


@pytest.mark.parametrize(
    ("room", "may_not_import"),
    [
        # The core is Airflow-free: the emulator and plain scripts use it without Airflow.
        (
            "airflow_provider_cfw.core",
            ("airflow.", "airflow_provider_cfw.hooks", "airflow_provider_cfw.triggers"),
        ),
        # The emulator checks signatures with the provider's signer, and nothing of Airflow's waits.
        (
            "airflow_provider_cfw.testing",
            (
                "airflow_provider_cfw.hooks",
                "airflow_provider_cfw.sensors",
                "airflow_provider_cfw.triggers",
                "airflow_provider_cfw.operators",
            ),
        ),
        # Triggers reach the hook only through the one import off the event loop (triggers/base.py).
        ("airflow_provider_cfw.triggers", ("airflow_provider_cfw.hooks", "airflow_provider_cfw.operators")),
        ("airflow_provider_cfw.hooks", ("airflow_provider_cfw.triggers", "airflow_provider_cfw.sensors")),
    ],
)
def test_imports_run_one_way(room: str, may_not_import: tuple[str, ...]) -> None:
    wrong = {}
    for path in python_files(PACKAGE):
        name = module_name(path)
        if name == room or name.startswith(room + "."):
            bad = sorted(
                imports_of(path, ("airflow", "airflow_provider_cfw")) & set(_matching(path, may_not_import))
            )
            if bad:
                wrong[name] = bad
    assert wrong == {}


def _matching(path: Path, prefixes: tuple[str, ...]) -> set[str]:
    names = imports_of(path, ("airflow", "airflow_provider_cfw"))
    return {
        n
        for n in names
        if any(n == p.rstrip(".") or n.startswith(p if p.endswith(".") else p + ".") for p in prefixes)
    }


def test_nothing_imports_the_testing_package_but_itself() -> None:
    wrong = {
        module_name(path)
        for path in python_files(PACKAGE)
        if not module_name(path).startswith("airflow_provider_cfw.testing")
        and any(
            t.startswith("airflow_provider_cfw.testing") for t in imports_of(path, ("airflow_provider_cfw",))
        )
    }
    assert wrong == set()


def test_benchmarks_never_import_the_tests() -> None:
    """One direction only: tests may exercise benchmarks/ (its smoke tests), never the reverse."""
    wrong = {str(p.relative_to(ROOT)) for p in python_files(ROOT / "benchmarks") if imports_of(p, ("tests",))}
    assert wrong == set()


def test_no_class_stubs_members_under_type_checking() -> None:
    """A class that declares another class's members for the type checker is a private contract kept
    in step by hand (the old firewall-calls mixin)."""
    stubbed = []
    for path in python_files(PACKAGE):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(_type_checking_block(child) for child in node.body):
                stubbed.append(f"{module_name(path)}.{node.name}")
    assert stubbed == []


def sleeping_loops(path: Path) -> set[str]:
    """The functions of ``path`` that hold a ``while`` loop which sleeps: a poll or retry loop."""
    found: set[str] = set()
    for func in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for loop in ast.walk(func):
            if isinstance(loop, ast.While) and any(
                isinstance(call, ast.Call) and ast.unparse(call.func).split(".")[-1] in ("sleep", "_sleep")
                for call in ast.walk(loop)
            ):
                found.add(func.name)
    return found


def test_one_poll_loop_per_transport() -> None:
    """Every wait, a job's or a firewall's, for the sensor, the operators or the triggers, polls in
    the hook's sync loop or the trigger base's async loop; the client's two loops retry one call, and
    the rate limiter's waits for one call's turn."""
    loops = {
        f"{module_name(path)}.{func}"
        for path in python_files(PACKAGE)
        if not module_name(path).startswith("airflow_provider_cfw.testing")
        for func in sleeping_loops(path)
    }
    assert loops == {
        "airflow_provider_cfw.hooks.cfw.wait",  # sync poll loop
        "airflow_provider_cfw.triggers.base._poll",  # async poll loop
        "airflow_provider_cfw.core.client._run",  # sync retries of one call
        "airflow_provider_cfw.core.client._arun",  # async retries of one call
        "airflow_provider_cfw.core.rate_limit.wait_turn",  # one call's wait for its turn under the API limit
    }
