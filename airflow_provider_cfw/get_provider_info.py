"""Provider metadata for Airflow's providers manager. Import-cheap on purpose: no Airflow imports."""

from __future__ import annotations

from typing import Any

PACKAGE_NAME = "airflow-provider-cfw"
__version__ = "0.1.0"

#: Shared by the hook's ``get_ui_field_behaviour`` (older Airflow) and ``conn-fields`` (Airflow 3.2+).
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "host"],
    "relabeling": {
        "login": "Access Key (AK) / IAM user name",
        "password": "Secret Key (SK) / password / token",
    },
    # Short enough to show whole in the form's input (the password's 65 characters were cut off).
    "placeholders": {
        "login": "AK, or IAM user name (password auth)",
        "password": "SK, password, or IAM token",
        "extra": '{"region": "cn-north-4", "auth_type": "aksk"}',
    },
}

CONN_FIELDS: dict[str, Any] = {
    # Every type allows null: Airflow 3's UI marks a field whose type does not as required (*).
    "auth_type": {
        "label": "Auth type",
        "schema": {"type": ["string", "null"], "enum": ["aksk", "password", "token"], "default": "aksk"},
        "description": "aksk: sign with AK/SK; password: IAM user token; token: a ready IAM token",
    },
    "region": {"label": "Region", "schema": {"type": ["string", "null"]}, "description": "e.g. cn-north-4"},
    "project_id": {
        "label": "Project ID",
        "schema": {"type": ["string", "null"]},
        "description": "32 hex characters; discovered from the region when empty",
    },
    "domain_name": {
        "label": "Account (domain) name",
        "schema": {"type": ["string", "null"]},
        "description": "password auth only",
    },
    "security_token": {
        "label": "Security token",
        "schema": {"type": ["string", "null"], "format": "password"},
        "description": "for temporary AK/SK",
    },
    "endpoint": {
        "label": "CFW endpoint",
        "schema": {"type": ["string", "null"]},
        "description": "overrides https://cfw.{region}.myhuaweicloud.com",
    },
    "iam_endpoint": {
        "label": "IAM endpoint",
        "schema": {"type": ["string", "null"]},
        "description": "overrides https://iam.{region}.myhuaweicloud.com",
    },
    # One type (and null) per field: the UI draws a field of several types as a multi-line JSON box.
    "verify": {
        "label": "TLS verification",
        "schema": {"type": ["string", "null"]},
        "description": "true (the default), false, or the path of a CA bundle",
    },
    "proxy": {
        "label": "HTTPS proxy",
        "schema": {"type": ["string", "null"]},
        "description": "default: the https_proxy / no_proxy environment variables",
    },
    "timeout": {
        "label": "Timeout (s)",
        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "description": "default: 60 s to connect, 120 s to read; a number sets both",
    },
    "max_retries": {
        "label": "Max retries",
        "schema": {"type": ["integer", "null"], "minimum": 0, "maximum": 20},
        "description": "retries of transient failures after the first try; default 3 (0-20)",
    },
    "max_calls_per_second": {
        "label": "Max calls per second",
        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "description": "cap on this credential's API calls per process; default: learnt from throttling",
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE_NAME,
        "name": "Huawei Cloud Firewall (CFW)",
        "description": "Create and delete Huawei Cloud Firewall (CFW) firewalls and wait for their jobs.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Huawei Cloud Firewall (CFW)",
                "external-doc-url": "https://support.huaweicloud.com/intl/en-us/api-cfw/ListJob.html",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Huawei Cloud Firewall (CFW)",
                "python-modules": ["airflow_provider_cfw.hooks.cfw"],
            }
        ],
        "operators": [
            {
                "integration-name": "Huawei Cloud Firewall (CFW)",
                "python-modules": ["airflow_provider_cfw.operators.cfw"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Huawei Cloud Firewall (CFW)",
                "python-modules": ["airflow_provider_cfw.sensors.cfw"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Huawei Cloud Firewall (CFW)",
                "python-modules": [
                    "airflow_provider_cfw.triggers.cfw",
                    "airflow_provider_cfw.triggers.firewall",
                    "airflow_provider_cfw.triggers.creation",
                ],
            }
        ],
        # Airflow registers these defaults, so `airflow config list` and the UI's configuration page
        # show the section; the value is read where a task defers (version_compat).
        "config": {
            "cfw": {
                "description": "Huawei Cloud Firewall (CFW) provider.",
                "options": {
                    "scheduler_hold_margin": {
                        "description": (
                            "Seconds added to [workers] min_heartbeat_interval and [scheduler] "
                            "scheduler_idle_sleep_time to hold a trigger's event that resumes a task on a "
                            "worker, so that the scheduler has taken in the deferring try's end first. "
                            "Raise it where the scheduler's loop runs slow (docs: troubleshooting)."
                        ),
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "10",
                        "default": "4",
                    }
                },
            }
        },
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_cfw.hooks.cfw.CfwHook",
                "hook-name": "Huawei Cloud Firewall (CFW)",
                "connection-type": "huaweicloud_cfw",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
