"""A local Huawei Cloud CFW + IAM emulator for tests, shipped with the provider (like ``moto`` for AWS).

Imports nothing from Airflow or from the provider's hooks: it runs as a plain CLI
(``python -m airflow_provider_cfw.testing``) and as the ``cfw_emulator`` pytest fixture.
"""

from __future__ import annotations

from airflow_provider_cfw.testing.config import apply_config, load_config
from airflow_provider_cfw.testing.emulator import CfwEmulator
from airflow_provider_cfw.testing.faults import FAULT_KINDS, ROUTES, Fault, FaultKind
from airflow_provider_cfw.testing.jobs import TIME_FORMATS, ScriptedJob, TimeFormat
from airflow_provider_cfw.testing.stats import EmulatorStats, RequestLogEntry

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
