"""The connection form's extra fields (``conn-fields``): one-line widgets that say their defaults.

Airflow 3's UI draws a field from its JSON schema: a field that allows several types (string or
boolean) becomes a multi-line JSON box, one type (plus null) a one-line input. The served form itself
is checked against an installed wheel's api-server in tests/e2e/test_wheel_install.py.
"""

from __future__ import annotations

import pytest

from airflow_provider_cfw.core.settings import _MAX_RETRIES_LIMIT, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from airflow_provider_cfw.get_provider_info import CONN_FIELDS


@pytest.mark.parametrize("name", sorted(CONN_FIELDS))
def test_every_extra_is_a_one_line_field(name: str) -> None:
    kind = CONN_FIELDS[name]["schema"]["type"]
    types = [kind] if isinstance(kind, str) else [t for t in kind if t != "null"]
    assert len(types) == 1, f"{name}: {kind} is drawn as a multi-line JSON box"


def test_verify_is_a_text_field_that_names_its_default() -> None:
    verify = CONN_FIELDS["verify"]
    assert verify["label"] == "TLS verification"
    assert verify["schema"]["type"] == ["string", "null"]
    assert "true (the default)" in verify["description"]


def test_timeout_and_max_retries_show_the_defaults_the_hook_applies() -> None:
    connect, read = DEFAULT_TIMEOUT
    assert f"{connect:g} s to connect, {read:g} s to read" in CONN_FIELDS["timeout"]["description"]
    retries = CONN_FIELDS["max_retries"]
    assert f"default {DEFAULT_MAX_RETRIES} (0-{_MAX_RETRIES_LIMIT})" in retries["description"]
    assert (retries["schema"]["minimum"], retries["schema"]["maximum"]) == (0, _MAX_RETRIES_LIMIT)
