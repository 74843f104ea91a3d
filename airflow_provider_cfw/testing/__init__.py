"""A local Huawei Cloud CFW + IAM emulator for tests, shipped with the provider (like ``moto`` for AWS).

The emulator imports nothing from Airflow or from the provider's hooks: it runs as a plain CLI
(``python -m airflow_provider_cfw.testing``) and as the ``cfw_emulator`` pytest fixture. (Only
``airflow_env``, the throwaway Airflow a project's DAG tests may ask for, imports Airflow, and only
once a fixture needs it.) The names
below load on first use: pytest imports this package for the plugin in every run, and the emulator
(aiohttp's server) is only needed once a fixture runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_cfw.testing.config import apply_config, load_config
    from airflow_provider_cfw.testing.emulator import CfwEmulator
    from airflow_provider_cfw.testing.faults import FAULT_KINDS, ROUTES, Fault, FaultKind
    from airflow_provider_cfw.testing.jobs import TIME_FORMATS, ScriptedJob, TimeFormat
    from airflow_provider_cfw.testing.stats import EmulatorStats, RequestLogEntry

_EXPORTS = {
    "apply_config": "airflow_provider_cfw.testing.config",
    "load_config": "airflow_provider_cfw.testing.config",
    "CfwEmulator": "airflow_provider_cfw.testing.emulator",
    "FAULT_KINDS": "airflow_provider_cfw.testing.faults",
    "ROUTES": "airflow_provider_cfw.testing.faults",
    "Fault": "airflow_provider_cfw.testing.faults",
    "FaultKind": "airflow_provider_cfw.testing.faults",
    "TIME_FORMATS": "airflow_provider_cfw.testing.jobs",
    "ScriptedJob": "airflow_provider_cfw.testing.jobs",
    "TimeFormat": "airflow_provider_cfw.testing.jobs",
    "EmulatorStats": "airflow_provider_cfw.testing.stats",
    "RequestLogEntry": "airflow_provider_cfw.testing.stats",
}

__all__ = [
    "FAULT_KINDS",
    "ROUTES",
    "TIME_FORMATS",
    "CfwEmulator",
    "EmulatorStats",
    "Fault",
    "FaultKind",
    "RequestLogEntry",
    "ScriptedJob",
    "TimeFormat",
    "apply_config",
    "load_config",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
