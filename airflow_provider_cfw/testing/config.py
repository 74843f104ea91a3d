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
      "rate_limit": {"calls": 50, "period": 1, "retry_after": null, "scope": "account", "routes": ["*"]},
      "firewall_jobs": {"statuses": [["Running", 30], ["Success", null]], "deletes": null},
      "firewall_list_lag": 0,
      "list_deleted_firewalls": false
    }

Time-scripted statuses are lists of pairs: ``[["Running", 5], ["Success", null]]``. The last three
keys are the firewall settings of the Python API: ``script_firewall_jobs(statuses, deletes)`` (how the
jobs of creates and deletes go), ``firewall_list_lag`` and ``list_deleted_firewalls``.
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
#: How the emulator's firewalls behave: ``script_firewall_jobs``'s arguments and two attributes.
_FIREWALL_SETTINGS = ("firewall_jobs", "firewall_list_lag", "list_deleted_firewalls")
_FIREWALL_JOBS_KEYS = ("statuses", "deletes")
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
    unknown = set(config) - set(EMULATOR_SETTINGS) - set(_SECTIONS) - {"rate_limit"} - set(_FIREWALL_SETTINGS)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    _check_firewall_settings(path, config)
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


def _check_firewall_settings(path: str | Path, config: Mapping[str, Any]) -> None:
    jobs = config.get("firewall_jobs")
    if jobs is not None:
        if not isinstance(jobs, dict) or not isinstance(jobs.get("statuses"), list):
            raise ValueError(
                f"{path}: 'firewall_jobs' must be an object with a 'statuses' list "
                '(e.g. {"statuses": [["Running", 30], ["Success", null]]})'
            )
        unknown = set(jobs) - set(_FIREWALL_JOBS_KEYS)
        if unknown:
            raise ValueError(f"{path}: firewall_jobs: unknown key(s) {', '.join(sorted(unknown))}")
        if jobs.get("deletes") is not None and not isinstance(jobs["deletes"], list):
            raise ValueError(f"{path}: firewall_jobs: 'deletes' must be a list of statuses or null")
    lag = config.get("firewall_list_lag", 0)
    if isinstance(lag, bool) or not isinstance(lag, int | float) or lag < 0:
        raise ValueError(f"{path}: 'firewall_list_lag' must be a number of seconds, at least 0")
    if not isinstance(config.get("list_deleted_firewalls", False), bool):
        raise ValueError(f"{path}: 'list_deleted_firewalls' must be true or false")


def _script(statuses: list[Any]) -> list[Any]:
    """A status script from JSON: time-scripted steps arrive as lists, the emulator takes pairs."""
    return [s if isinstance(s, str) else tuple(s) for s in statuses]


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
            emulator.add_job(
                entry["project_id"],
                entry["job_id"],
                _script(entry.get("statuses", ["Success"])),
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
        firewall_jobs = config.get("firewall_jobs")
        if firewall_jobs is not None:
            deletes = firewall_jobs.get("deletes")
            try:
                emulator.script_firewall_jobs(
                    _script(firewall_jobs["statuses"]), None if deletes is None else _script(deletes)
                )
            except ValueError as err:
                raise ValueError(f"config: firewall_jobs: {err}") from err
        if "firewall_list_lag" in config:
            emulator.firewall_list_lag = config["firewall_list_lag"]
        if "list_deleted_firewalls" in config:
            emulator.list_deleted_firewalls = config["list_deleted_firewalls"]
    except KeyError as err:
        raise ValueError(f"config: missing required key {err.args[0]!r}") from err
    except TypeError as err:
        raise ValueError(f"config: {err}") from err
