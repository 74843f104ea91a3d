"""The ``pytest11`` plugin loads in every pytest run where the provider is installed: it must stay cheap.

Counted in a fresh interpreter (so nothing this test session imported first can hide an import): the
modules that importing the plugin adds once pytest itself is loaded, as in a real run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

PLUGIN = "airflow_provider_cfw.testing.pytest_plugin"

_COUNT_IMPORTS = f"""
import json, sys
import pytest
before = set(sys.modules)
import {PLUGIN}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _modules_added_by(code: str, cwd: Path) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout)


def test_the_entry_point_names_the_plugin_module() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("cfw_emulator") == PLUGIN


def test_loading_the_plugin_imports_four_modules_and_no_server(tmp_path: Path) -> None:
    added = _modules_added_by(_COUNT_IMPORTS, tmp_path)
    assert added == [
        "airflow_provider_cfw",
        "airflow_provider_cfw.get_provider_info",
        "airflow_provider_cfw.testing",
        PLUGIN,
    ]
    assert not {"aiohttp", "aiohttp.web", "airflow_provider_cfw.testing.emulator"} & set(added)
