"""The JSON configuration file of the command line (and of anyone who prefers data to code).

Schema (every key optional)::

    {
      "token_ttl": 86400,
      "firewall_job_seconds": 180,
      "lockout_threshold": 5,
      "aksk": [{"ak": "...", "sk": "...", "security_token": null, "expires_at": null}],
      "projects": [{"id": "<32 hex>", "name": "cn-north-4"}],
      "iam_users": [{"domain_name": "...", "user_name": "...", "password": "...",
                     "project_name": "cn-north-4", "token_ttl": null}],
      "jobs": [{"project_id": "...", "job_id": "...", "statuses": ["Running", "Success"],
                "time_format": "epoch-ms", "null_end_time": false}],
      "faults": [{"route": "cfw.job", "kind": "status", "status": 429, "count": 2}],
      "rate_limit": {"calls": 50, "period": 1, "retry_after": null, "scope": "account", "routes": ["*"]}
    }

Time-scripted statuses are lists of pairs: ``[["Running", 5], ["Success", null]]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_cfw.testing.emulator import CfwEmulator

#: Constructor settings a config file may carry, and the top-level lists it may declare.
EMULATOR_SETTINGS = ("token_ttl", "lockout_threshold", "lockout_seconds", "firewall_job_seconds")
_SECTIONS = ("aksk", "projects", "iam_users", "jobs", "faults")
#: The keys of ``rate_limit`` (the arguments of ``CfwEmulator.set_rate_limit``).
_RATE_LIMIT_KEYS = ("calls", "period", "retry_after", "scope", "routes")
#: The keys each entry of a list must have (the arguments of the call it maps onto with no default).
_REQUIRED = {
    "aksk": ("ak", "sk"),
    "projects": ("id",),
    "iam_users": ("domain_name", "user_name", "password"),
    "jobs": ("project_id", "job_id"),
    "faults": (),
}


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and check a config file; raises ``ValueError`` naming the problem."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(config, dict):
        raise ValueError(f"{path}: the top level must be a JSON object")
    unknown = set(config) - set(EMULATOR_SETTINGS) - set(_SECTIONS) - {"rate_limit"}
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    for section in _SECTIONS:
        entries = config.get(section, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValueError(f"{path}: {section!r} must be a list of objects")
        for index, entry in enumerate(entries):
            missing = [key for key in _REQUIRED[section] if key not in entry]
            if missing:
                raise ValueError(
                    f"{path}: {section}[{index}] {json.dumps(entry)}: missing required key {missing[0]!r}"
                )
    limit = config.get("rate_limit")
    if limit is not None:
        if not isinstance(limit, dict) or "calls" not in limit:
            raise ValueError(f"{path}: 'rate_limit' must be an object with at least 'calls'")
        wrong = set(limit) - set(_RATE_LIMIT_KEYS)
        if wrong:
            raise ValueError(
                f"{path}: rate_limit: unknown key(s) {', '.join(sorted(wrong))}; "
                f"expected {', '.join(_RATE_LIMIT_KEYS)}"
            )
    return config


def emulator_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a config that goes to the ``CfwEmulator`` constructor."""
    return {key: config[key] for key in EMULATOR_SETTINGS if key in config}


def apply_config(emulator: CfwEmulator, config: Mapping[str, Any]) -> None:
    """Declare the config's keys, projects, users, jobs and faults on a (running or not) emulator."""
    try:
        for entry in config.get("aksk", []):
            emulator.add_aksk(
                entry["ak"], entry["sk"], entry.get("security_token"), expires_at=entry.get("expires_at")
            )
        for entry in config.get("projects", []):
            emulator.add_project(
                entry["id"], entry.get("name", "cn-north-4"), domain_id=entry.get("domain_id")
            )
        for entry in config.get("iam_users", []):
            emulator.add_iam_user(
                entry["domain_name"],
                entry["user_name"],
                entry["password"],
                entry.get("project_name", "cn-north-4"),
                token_ttl=entry.get("token_ttl"),
            )
        for entry in config.get("jobs", []):
            statuses = entry.get("statuses", ["Success"])
            emulator.add_job(
                entry["project_id"],
                entry["job_id"],
                [s if isinstance(s, str) else tuple(s) for s in statuses],
                time_format=entry.get("time_format", "epoch-ms"),
                begin_time=entry.get("begin_time"),
                null_end_time=entry.get("null_end_time", False),
            )
        for entry in config.get("faults", []):
            params = dict(entry)
            emulator.inject(params.pop("route", "*"), params.pop("kind", "status"), **params)
        limit = config.get("rate_limit")
        if limit is not None:
            params = dict(limit)
            if "routes" in params:
                params["routes"] = tuple(params["routes"])
            emulator.set_rate_limit(params.pop("calls"), **params)
    except KeyError as err:
        raise ValueError(f"config: missing required key {err.args[0]!r}") from err
    except TypeError as err:
        raise ValueError(f"config: {err}") from err
