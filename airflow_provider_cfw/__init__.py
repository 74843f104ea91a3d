"""Apache Airflow provider for Huawei Cloud Firewall (CFW): firewalls and their asynchronous jobs.

The public names are importable from here; they load lazily so that importing the package (as
Airflow's providers manager does) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from airflow_provider_cfw.get_provider_info import __version__

#: Every public name, and the one module that defines it.
_EXPORTS = {
    "CfwHook": "airflow_provider_cfw.hooks.cfw",
    "CfwJobSensor": "airflow_provider_cfw.sensors.cfw",
    "CfwCreateFirewallOperator": "airflow_provider_cfw.operators.cfw",
    "CfwDeleteFirewallOperator": "airflow_provider_cfw.operators.cfw",
    "CfwFirewall": "airflow_provider_cfw.core.firewalls",
    "CfwJobTrigger": "airflow_provider_cfw.triggers.cfw",
    "CfwFirewallTrigger": "airflow_provider_cfw.triggers.firewall",
    "CfwFirewallCreationTrigger": "airflow_provider_cfw.triggers.creation",
    "CfwJob": "airflow_provider_cfw.core.models",
    "CfwJobStatus": "airflow_provider_cfw.core.models",
    "CfwError": "airflow_provider_cfw.core.errors",
    "CfwConfigError": "airflow_provider_cfw.core.errors",
    "CfwConnectionError": "airflow_provider_cfw.core.errors",
    "CfwApiError": "airflow_provider_cfw.core.errors",
    "CfwAuthError": "airflow_provider_cfw.core.errors",
    "CfwJobNotFound": "airflow_provider_cfw.core.errors",
    "CfwResponseError": "airflow_provider_cfw.core.errors",
    "CfwThrottled": "airflow_provider_cfw.core.errors",
    "CfwWaitTimeout": "airflow_provider_cfw.core.waits",
    "CfwFirewallNameConflict": "airflow_provider_cfw.core.waits",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
