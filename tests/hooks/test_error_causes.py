"""The messages a new user meets first name the likely cause, over real HTTP against the emulator, on the
sync path, the async path and the Test button, and never carry a credential value (issue 31).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from airflow_provider_cfw.core.causes import BAD_SIGNATURE, UNKNOWN_AK
from airflow_provider_cfw.core.errors import CfwApiError, CfwAuthError
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.testing import CfwEmulator
from tests.conftest import AK, PASSWORD, PROJECT, SK, ConnSetter


def messages(emu: CfwEmulator) -> list[str]:
    """What the sync call, the async call and the Test button say for the connection as it is set."""
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Success"])
    texts = []
    with pytest.raises(CfwApiError) as sync:
        CfwHook().get_job(job_id)
    texts.append(str(sync.value))
    with pytest.raises(CfwApiError) as not_sync:
        asyncio.run(CfwHook().aget_job(job_id))
    texts.append(str(not_sync.value))
    ok, message = CfwHook().test_connection()
    assert not ok
    texts.append(message)
    return texts


def assert_no_credentials(texts: list[str], *values: str) -> None:
    for text in texts:
        for value in values:
            assert value not in text, text


def test_ak_and_sk_swapped_names_the_access_key_as_the_likely_cause(
    emu: CfwEmulator, set_conn: ConnSetter
) -> None:
    set_conn(login=SK, password=AK)
    texts = messages(emu)
    for text in texts:
        assert "APIGW.0301: Incorrect IAM authentication information: ak *** not exist" in text, text
        assert text.endswith(f"Likely cause: {UNKNOWN_AK}"), text
    assert "login holds the AK, not the SK" in UNKNOWN_AK
    assert_no_credentials(texts, AK, SK)
    assert emu.stats.auth_failures["unknown_ak"] == 3


def test_an_unknown_ak_names_the_same_cause(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    # Not swapped, only unknown (a deleted key, another account's): the same advice applies.
    other_ak = "ZZZZOYTTINDUT2QVKYUC"
    set_conn(login=other_ak)
    texts = messages(emu)
    assert all(text.endswith(f"Likely cause: {UNKNOWN_AK}") for text in texts), texts
    assert_no_credentials(texts, other_ak, SK)


def test_a_wrong_sk_names_the_signature_as_the_likely_cause(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    wrong = "Wrong" + SK[5:]
    set_conn(password=wrong)
    texts = messages(emu)
    for text in texts:
        assert "verify aksk signature fail" in text and text.endswith(f"Likely cause: {BAD_SIGNATURE}"), text
    assert_no_credentials(texts, AK, wrong, SK)
    assert emu.stats.auth_failures["bad_signature"] == 3


def test_a_wrong_password_says_401_once(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    wrong = "Wrong-" + PASSWORD
    set_conn(auth="password", password=wrong)
    texts = messages(emu)
    for text in texts:
        assert "HTTP 401: The username or password is wrong." in text, text
        assert "401 401" not in text and "Likely cause" not in text, text
    assert_no_credentials(texts, wrong)
    with pytest.raises(CfwAuthError) as raised:
        CfwHook().get_job(str(uuid.uuid4()))
    assert raised.value.error_code == "401"  # the body's code is kept, only not said twice


def test_a_mistyped_region_with_an_endpoint_is_named_first(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    # With 'endpoint' set any region id is accepted (a private cloud's own), so the typo is found when
    # project discovery asks IAM for a project of that name.
    set_conn(region="cn-nort-4", project_id="")
    texts = messages(emu)
    expected = (
        "extra.region 'cn-nort-4': IAM has no project of that name; 'cn-nort-4' is not a CFW region this "
        "provider knows (did you mean 'cn-north-4'?); fix the region, or set the connection's 'project_id' "
        "extra"
    )
    for text in texts:
        assert expected in text, text
    assert_no_credentials(texts, AK, SK)
    assert emu.stats.count("iam.projects", 200) == 3 and emu.stats.count("cfw.job") == 0


def test_a_known_region_without_a_project_is_not_called_a_typo(
    emu: CfwEmulator, set_conn: ConnSetter
) -> None:
    set_conn(region="cn-east-3", project_id="")
    for text in messages(emu):
        assert "extra.region 'cn-east-3': IAM has no project of that name; fix the region" in text, text
        assert "not a CFW region" not in text


def test_several_projects_of_the_regions_name_ask_for_the_project_id(
    emu: CfwEmulator, set_conn: ConnSetter
) -> None:
    emu.add_project("f" * 32, name="cn-north-4")
    set_conn(project_id="")
    for text in messages(emu):
        assert (
            "extra.region 'cn-north-4': IAM lists 2 projects of that name (sub-projects); "
            "set the connection's 'project_id' extra to the one to use"
        ) in text, text


def test_troubleshooting_quotes_the_causes_as_they_are() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md").read_text()
    assert f"ak *** not exist (request id ...). Likely cause: {UNKNOWN_AK}\n" in page
