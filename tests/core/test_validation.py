"""Every validator refuses an id with trailing blanks: ``$`` also matches before a final newline."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airflow_provider_cfw.core.errors import CfwConfigError
from airflow_provider_cfw.core.validation import (
    validate_endpoint,
    validate_job_id,
    validate_project_id,
    validate_region,
)

TRAILING = ["\n", "\r\n", "\t", " "]
VALID: list[tuple[Callable[..., str], str]] = [
    (validate_job_id, "f588ce71-e26c-400d-8981-f854355f6849"),
    (validate_job_id, "abc"),
    (validate_project_id, "0123456789abcdef0123456789abcdef"),
    (validate_region, "cn-north-4"),
]


@pytest.mark.parametrize("suffix", TRAILING, ids=repr)
@pytest.mark.parametrize(("validate", "value"), VALID, ids=lambda v: getattr(v, "__name__", v))
def test_trailing_blank_is_refused(validate: Callable[..., str], value: str, suffix: str) -> None:
    assert validate(value, "field") == value
    with pytest.raises(CfwConfigError, match=r"^field: expected"):
        validate(value + suffix, "field")
    with pytest.raises(CfwConfigError):
        validate(suffix + value, "field")


@pytest.mark.parametrize("suffix", TRAILING, ids=repr)
def test_endpoint_forgives_surrounding_blanks_but_returns_none(suffix: str) -> None:
    # A pasted URL keeps its newline; what is returned (and later sent) must not.
    assert validate_endpoint("https://cfw.example.com/" + suffix, "endpoint") == "https://cfw.example.com"


@pytest.mark.parametrize("inner", ["\n", "\r\n", "\t", " "], ids=repr)
def test_endpoint_with_an_inner_blank_is_refused(inner: str) -> None:
    # urlsplit silently drops \t\r\n, so the check would pass while the raw value still carries them.
    with pytest.raises(CfwConfigError, match="without spaces or control characters"):
        validate_endpoint(f"https://cfw.exa{inner}mple.com", "endpoint")
