"""What importing our modules costs where it hurts: the triggerer imports a trigger's module on its event
loop, and every DAG file that builds a sensor (or an operator) imports its module at each parse. Neither may pull
in the hook's transports (aiohttp, requests: about 0.3 s cold, 12 % of a DAG parse)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

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


@pytest.fixture
def fresh_hook_import(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """No hook import done or in flight yet, as in a fresh triggerer; each import thread's start counted."""
    from airflow_provider_cfw.triggers import base as trigger_module

    started: list[object] = []
    real = trigger_module._import_hook_class

    def counted(into: Any) -> None:
        started.append(into)
        real(into)

    monkeypatch.setattr(trigger_module, "_hook_import", None)
    monkeypatch.setattr(trigger_module, "_import_hook_class", counted)
    return started


async def test_triggers_starting_together_share_one_hook_import(fresh_hook_import: list[object]) -> None:
    from airflow_provider_cfw.hooks.cfw import CfwHook
    from airflow_provider_cfw.triggers.base import _hook_class

    classes = await asyncio.gather(*(_hook_class() for _ in range(200)))
    classes.append(await _hook_class())  # and one after it ended
    assert set(classes) == {CfwHook}
    assert len(fresh_hook_import) == 1  # one thread for all of them


async def test_a_failed_hook_import_is_tried_again(
    fresh_hook_import: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_cfw.hooks.cfw import CfwHook
    from airflow_provider_cfw.triggers import base as trigger_module

    # The first import fails (say, a dependency half-installed while the triggerer started)...
    monkeypatch.setattr(trigger_module, "_HOOK_MODULE", "airflow_provider_cfw.hooks.no_such_module")
    for _ in range(2):
        with pytest.raises(ModuleNotFoundError):
            await trigger_module._hook_class()
    # ...and a trigger started after the cause went away gets the hook, instead of the old failure.
    monkeypatch.setattr(trigger_module, "_HOOK_MODULE", "airflow_provider_cfw.hooks.cfw")
    assert await trigger_module._hook_class() is CfwHook
    assert len(fresh_hook_import) == 3
