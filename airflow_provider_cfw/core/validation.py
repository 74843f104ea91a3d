"""Input checks that run before any request: each failure names the field and what was expected."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from airflow_provider_cfw.core.errors import CfwConfigError

# Always ``fullmatch``: ``$`` also matches before a final newline, so "abc\n" would pass ``match``.
_PROJECT_ID = re.compile(r"[0-9a-fA-F]{32}")
#: A CFW resource id in a URL path (a job's, a firewall's). Dashed (36) or undashed (32) UUIDs are what
#: CFW issues; any plain token of sane length is accepted so that a format change upstream does not break
#: users, but nothing that could reshape the URL.
RESOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_REGION = re.compile(r"[a-z]{2,}(-[a-z0-9]+)+")


def show_value(value: object) -> str:
    """A bad value as an error message shows it: its ``repr``, cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_job_id(value: object, field: str = "job_id") -> str:
    if not isinstance(value, str) or not RESOURCE_ID.fullmatch(value):
        raise CfwConfigError(
            field,
            "a CFW job id (a UUID such as 'f588ce71-e26c-400d-8981-f854355f6849': letters, digits, "
            "'-' or '_', at most 128 characters)",
            got=show_value(value),
        )
    return value


def validate_project_id(value: object, field: str = "project_id") -> str:
    if not isinstance(value, str) or not _PROJECT_ID.fullmatch(value):
        raise CfwConfigError(
            field, "a Huawei Cloud project id (32 hexadecimal characters)", got=show_value(value)
        )
    return value


def validate_region(value: object, field: str = "region") -> str:
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        raise CfwConfigError(field, "a Huawei Cloud region id such as 'cn-north-4'", got=show_value(value))
    return value


def validate_endpoint(value: object, field: str) -> str:
    """An http(s) base URL with a host and no query, fragment or credentials; returned without a trailing /."""
    expected = "an http(s) base URL such as 'https://cfw.cn-north-4.myhuaweicloud.com'"
    if not isinstance(value, str):
        raise CfwConfigError(field, expected, got=show_value(value))
    # Surrounding blanks from a paste are forgiven; one inside would be dropped by urlsplit but sent.
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value.strip()):
        raise CfwConfigError(field, expected + " without spaces or control characters", got=None)
    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise CfwConfigError(field, expected, got=show_value(value)) from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        # Never echo a URL that may carry user:password@.
        shown = "a URL with credentials in it" if parts.username or parts.password else show_value(value)
        raise CfwConfigError(field, expected, got=shown)
    return value.strip().rstrip("/")
