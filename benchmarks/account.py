"""The benchmark's fake account: the same on the emulator's side and in every client's connection."""

from __future__ import annotations

import json
from typing import Any

AK = "BENCHAK0000000000000"
SK = "bench-secret-key-not-a-real-one-0000000000"
DOMAIN = "bench-domain"
USER = "bench-user"
PASSWORD = "bench-password-not-real"  # noqa: S105 - the emulator's fake user
PROJECT = "0123456789abcdef0123456789abcdef"
REGION = "cn-north-4"
CONN_ID = "cfw_default"


def connection_uri_env(url: str, auth: str, cafile: str | None) -> dict[str, str]:
    """``AIRFLOW_CONN_CFW_DEFAULT`` for the provider's client process, pointing at the emulator."""
    extra: dict[str, Any] = {"region": REGION, "project_id": PROJECT, "endpoint": url, "iam_endpoint": url}
    if cafile is not None:
        extra["verify"] = cafile
    conn: dict[str, Any]
    if auth == "password":
        conn = {"conn_type": "huaweicloud_cfw", "login": USER, "password": PASSWORD}
        extra.update(auth_type="password", domain_name=DOMAIN)
    elif auth == "aksk":
        conn = {"conn_type": "huaweicloud_cfw", "login": AK, "password": SK}
    else:
        raise ValueError(f"auth must be 'aksk' or 'password', got {auth!r}")
    conn["extra"] = extra
    return {f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(conn)}
