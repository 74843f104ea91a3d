"""The connection form's extra fields (``conn-fields``): one-line widgets that say their defaults.

Airflow 3's UI draws a field from its JSON schema: a field that allows several types (string or
boolean) becomes a multi-line JSON box, one type (plus null) a one-line input. The served form itself
is checked against an installed wheel's api-server in tests/e2e/test_wheel_install.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow import __version__ as airflow_version

from airflow_provider_cfw.core.settings import (
    _MAX_RETRIES_LIMIT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    AuthType,
    CfwSettings,
)
from airflow_provider_cfw.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR

#: Airflow 3.3.2's UI (airflow/ui/dist/assets/index-*.js) marks a field required, with an asterisk, by
#: this test of its schema; transcribed here, and checked to be in the installed bundle below.
UI_REQUIRED_RULE = "!!e.schema.type&&(!Array.isArray(e.schema.type)||!e.schema.type.includes(`null`))"


def ui_marks_required(schema: dict) -> bool:
    kind = schema.get("type")
    return bool(kind) and (not isinstance(kind, list) or "null" not in kind)


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


@pytest.mark.skipif(int(airflow_version.split(".")[0]) < 3, reason="Airflow 3's UI")
def test_the_installed_ui_marks_required_fields_by_the_transcribed_rule() -> None:
    import airflow

    [bundle] = (Path(airflow.__file__).parent / "ui" / "dist" / "assets").glob("index-*.js")
    assert UI_REQUIRED_RULE in bundle.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CONN_FIELDS))
def test_no_extra_shows_a_required_asterisk(name: str) -> None:
    # Every extra has a default or is optional (docs/connection.md); none may look required.
    assert not ui_marks_required(CONN_FIELDS[name]["schema"]), name


def test_auth_type_cleared_in_the_form_is_the_default_aksk() -> None:
    assert CONN_FIELDS["auth_type"]["schema"]["default"] == AuthType.AKSK.value
    for cleared in (None, ""):
        settings = CfwSettings.from_connection(
            "cfw_default", login="AK", password="SK", extra={"auth_type": cleared, "region": "cn-north-4"}
        )
        assert settings.auth_type is AuthType.AKSK


@pytest.mark.parametrize("field", sorted(UI_FIELD_BEHAVIOUR["placeholders"]))
def test_placeholders_fit_the_input(field: str) -> None:
    # The login and password inputs showed about 60 characters: the password's 65 were cut off at
    # "(auth_type 'token". Extra is a multi-line box.
    limit = 200 if field == "extra" else 40
    assert len(UI_FIELD_BEHAVIOUR["placeholders"][field]) <= limit
