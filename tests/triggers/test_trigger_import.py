"""The triggerer imports a trigger's module on its event loop: ours must stay light."""

from __future__ import annotations

import subprocess
import sys


def test_trigger_module_does_not_import_the_transports() -> None:
    code = (
        "import sys, airflow.triggers.base\n"
        "before = set(sys.modules)\n"
        "import airflow_provider_cfw.triggers.cfw\n"
        "heavy = {'aiohttp', 'requests', 'tenacity', 'airflow_provider_cfw.hooks.cfw'}\n"
        "print(sorted(heavy & (set(sys.modules) - before)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
