"""Create and delete a CFW firewall from a DAG, waiting for its job in the worker or on the triggerer.

The operators live in :mod:`~airflow_provider_cfw.operators.create` and
:mod:`~airflow_provider_cfw.operators.delete`; this module keeps the names DAGs import.
"""

from __future__ import annotations

from airflow_provider_cfw.operators.base import JOB_NOT_FOUND_GRACE_SECONDS, OBJECT_NOT_FOUND_CODE
from airflow_provider_cfw.operators.create import CfwCreateFirewallOperator
from airflow_provider_cfw.operators.delete import CfwDeleteFirewallOperator

__all__ = [
    "JOB_NOT_FOUND_GRACE_SECONDS",
    "OBJECT_NOT_FOUND_CODE",
    "CfwCreateFirewallOperator",
    "CfwDeleteFirewallOperator",
]
