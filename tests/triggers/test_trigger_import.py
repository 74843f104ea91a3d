"""What importing our modules costs where it hurts: the triggerer imports a trigger's module on its event
loop, and every DAG file that builds a sensor (or an operator) imports its module at each parse. Neither may pull
in the hook's transports (aiohttp, requests: about 0.3 s cold, 12 % of a DAG parse)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("aiohttp", "requests", "airflow_provider_cfw.hooks.cfw", "airflow_provider_cfw.core.transport")


@pytest.mark.parametrize(
    ("already_loaded", "module"),
    [
        ("airflow.triggers.base", "airflow_provider_cfw.triggers.cfw"),
        ("airflow.providers.common.compat.sdk", "airflow_provider_cfw.sensors.cfw"),
        ("airflow.providers.common.compat.sdk", "airflow_provider_cfw.operators.cfw"),
        ("airflow.providers.common.compat.sdk", "airflow_provider_cfw"),
    ],
)
def test_module_does_not_import_the_transports(already_loaded: str, module: str) -> None:
    code = (
        f"import sys, {already_loaded}\n"
        "before = set(sys.modules)\n"
        f"import {module}\n"
        f"print(sorted(set({HEAVY!r}) & (set(sys.modules) - before)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
