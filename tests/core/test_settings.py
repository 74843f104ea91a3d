"""Connection validation: every bad field named, nothing sent, no secret echoed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_cfw.core.errors import CfwConfigError
from airflow_provider_cfw.core.settings import DEFAULT_TIMEOUT, AuthType, CfwSettings
from airflow_provider_cfw.core.validation import validate_job_id, validate_project_id
from airflow_provider_cfw.get_provider_info import CONN_FIELDS

PROJECT = "0123456789abcdef0123456789abcdef"
SK = "sk-very-secret-value-123"


def settings(login: str | None = "AK", password: str | None = SK, **extra: Any) -> CfwSettings:
    return CfwSettings.from_connection("cfw_test", login=login, password=password, extra=extra)


def test_max_calls_per_second_is_unset_by_default_and_read_from_text() -> None:
    assert settings(region="cn-north-4").max_calls_per_second is None
    assert settings(region="cn-north-4", max_calls_per_second="").max_calls_per_second is None
    assert settings(region="cn-north-4", max_calls_per_second="12.5").max_calls_per_second == 12.5


def test_aksk_defaults() -> None:
    s = settings(region="cn-north-4")
    assert s.auth_type is AuthType.AKSK
    assert s.endpoint == "https://cfw.cn-north-4.myhuaweicloud.com"
    assert s.iam_endpoint == "https://iam.cn-north-4.myhuaweicloud.com"
    assert s.timeout == DEFAULT_TIMEOUT and s.max_retries == 3 and s.verify is True
    assert SK not in repr(s)


def test_eu_region_domain() -> None:
    s = settings(region="eu-west-101")
    assert s.endpoint == "https://cfw.eu-west-101.myhuaweicloud.eu"
    assert s.iam_endpoint == "https://iam.eu-west-101.myhuaweicloud.eu"


@pytest.mark.parametrize(
    "region", ["af-north-1", "ap-southeast-5", "cn-north-11", "cn-south-4", "cn-southwest-3"]
)
def test_regions_without_their_own_iam_use_the_global_one(region: str) -> None:
    s = settings(region=region)
    assert s.endpoint == f"https://cfw.{region}.myhuaweicloud.com"
    assert s.iam_endpoint == "https://iam.myhuaweicloud.com"


def test_unknown_region_is_refused_before_any_request() -> None:
    with pytest.raises(CfwConfigError) as info:
        settings(region="cn-nort-4")
    message = str(info.value)
    assert info.value.field == "connection 'cfw_test' extra.region"
    assert "'cn-nort-4'" in message and "cn-north-4" in message and "'endpoint' extra" in message


def test_unknown_region_as_a_hook_argument_is_named_so() -> None:
    with pytest.raises(CfwConfigError) as info:
        CfwSettings.from_connection("c", login="AK", password=SK, extra={}, region="xx-newplace-9")
    assert info.value.field == "region"


def test_new_region_works_with_an_endpoint_extra() -> None:
    s = settings(region="xx-newplace-9", endpoint="https://cfw.xx-newplace-9.example.com/")
    assert s.endpoint == "https://cfw.xx-newplace-9.example.com"
    assert s.iam_endpoint == "https://iam.myhuaweicloud.com"


def test_existing_huaweicloud_style_connection() -> None:
    # login AK, password SK, extras region/project_id: what the `huaweicloud` type stores.
    s = settings(region="cn-north-4", project_id=PROJECT)
    assert s.aksk is not None and s.aksk.ak == "AK" and s.project_id == PROJECT


def test_overrides_win() -> None:
    s = CfwSettings.from_connection(
        "c", login="AK", password=SK, extra={"region": "cn-north-4", "max_retries": 5}, region="ap-southeast-1",
        max_retries=0, timeout=5,
    )  # fmt: skip
    assert s.region == "ap-southeast-1" and s.max_retries == 0 and s.timeout == (5.0, 5.0)


def test_verify_values(tmp_path: Any) -> None:
    assert settings(region="cn-north-4", verify="false").verify is False
    assert settings(region="cn-north-4", verify=False).verify is False
    bundle = tmp_path / "ca.pem"
    assert settings(region="cn-north-4", verify=str(bundle)).verify == str(bundle)


@pytest.mark.parametrize(
    ("kwargs", "field", "expected"),
    [
        ({"auth_type": "kerberos", "region": "cn-north-4"}, "extra.auth_type", "one of 'aksk'"),
        ({}, "region", "a region"),
        ({"region": "CN North 4"}, "extra.region", "region id"),
        ({"region": "cn-north-4", "project_id": "abc"}, "extra.project_id", "32 hexadecimal"),
        ({"endpoint": "ftp://x"}, "extra.endpoint", "http(s) base URL"),
        ({"endpoint": "https://cfw.example.com/?a=1"}, "extra.endpoint", "http(s) base URL"),
        ({"region": "cn-north-4", "iam_endpoint": "nope"}, "extra.iam_endpoint", "http(s) base URL"),
        ({"region": "cn-north-4", "timeout": "soon"}, "extra.timeout", "greater than 0"),
        ({"region": "cn-north-4", "timeout": 0}, "extra.timeout", "greater than 0"),
        ({"region": "cn-north-4", "max_retries": -1}, "extra.max_retries", "whole number"),
        ({"region": "cn-north-4", "max_retries": "many"}, "extra.max_retries", "whole number"),
        ({"region": "cn-north-4", "retry_backoff": -1}, "extra.retry_backoff", "at least 0"),
        ({"region": "cn-north-4", "max_calls_per_second": 0}, "extra.max_calls_per_second", "greater than 0"),
        ({"region": "cn-north-4", "max_calls_per_second": "fast"}, "extra.max_calls_per_second", "a number"),
        ({"region": "cn-north-4", "max_calls_per_second": True}, "extra.max_calls_per_second", "a number"),
        ({"region": "cn-north-4", "login": None}, "login", "Access Key"),
        ({"region": "cn-north-4", "password": ""}, "password", "Secret Key"),
        ({"region": "cn-north-4", "auth_type": "password"}, "extra.domain_name", "account name"),
        # An endpoint but neither region nor project id: every auth type would ask IAM for a project
        # named '' (at the global IAM when no iam_endpoint is set).
        *(
            (
                {"auth_type": auth, "domain_name": "d", "endpoint": "https://cfw.example.com"},
                "extra.region",
                "a region such as 'cn-north-4' (or a 'project_id') alongside 'endpoint'",
            )
            for auth in ("aksk", "password", "token")
        ),
        ({"region": "cn-north-4", "security_token": "tok\n"}, "extra.security_token", "control characters"),
        ({"region": "cn-north-4", "security_token": 5}, "extra.security_token", "a string"),
    ],
)
def test_bad_connection_fields(kwargs: dict[str, Any], field: str, expected: str) -> None:
    login = kwargs.pop("login", "AK")
    password = kwargs.pop("password", SK)
    with pytest.raises(CfwConfigError) as info:
        settings(login, password, **kwargs)
    assert field in info.value.field
    assert "cfw_test" in str(info.value)
    assert expected in str(info.value)
    assert SK not in str(info.value)


def test_endpoint_with_credentials_is_not_echoed() -> None:
    with pytest.raises(CfwConfigError) as info:
        settings(endpoint="https://user:hunter2@cfw.example.com")
    assert "hunter2" not in str(info.value)


def test_secrets_listed_for_masking() -> None:
    s = settings(region="cn-north-4", security_token="STS-TOKEN")
    assert set(s.secrets) == {SK, "STS-TOKEN"}  # a 2-character login is no credential
    assert "STS-TOKEN" not in repr(s)


@pytest.mark.parametrize("auth_type", ["aksk", "password"])
def test_a_login_long_enough_to_be_a_credential_is_a_secret_too(auth_type: str) -> None:
    # AK and SK swapped (login holds the SK), or a password typed into the user name: the login's value
    # is scrubbed and masked like the password's, and kept out of the repr.
    swapped = CfwSettings.from_connection(
        "c", login=SK, password="QTWAOYTTINDUT2QVKYUC", extra={"region": "cn-north-4", "auth_type": auth_type,
        "domain_name": "acme"},
    )  # fmt: skip
    assert set(swapped.secrets) == {SK, "QTWAOYTTINDUT2QVKYUC"}
    assert SK not in repr(swapped) and "QTWAOYTTINDUT2QVKYUC" not in repr(swapped)
    short = CfwSettings.from_connection(
        "c",
        login="admin",
        password=SK,
        extra={"region": "cn-north-4", "auth_type": auth_type, "domain_name": "d"},
    )
    assert short.secrets == (SK,)


def test_an_unknown_extra_key_is_warned_about_with_the_closest_known_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="airflow_provider_cfw.core.settings"):
        s = settings(region="cn-north-4", regoin="cn-north-9", endpont="https://x.example.com", zzz="1")
    assert s.region == "cn-north-4"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert lines[0].startswith("connection 'cfw_test' extra.endpont: not a key this provider reads, ignored")
    assert lines[0].endswith("did you mean 'endpoint'?")
    assert lines[1].startswith("connection 'cfw_test' extra.regoin:") and lines[1].endswith("'region'?")
    assert "expected one of auth_type, region, project_id" in lines[2] and "did you mean" not in lines[2]


def documented_extras() -> set[str]:
    page = (Path(__file__).resolve().parents[2] / "docs/connection.md").read_text(encoding="utf-8")
    table = page[page.index("| extra | default | meaning |") : page.index("Every field is checked")]
    return set(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE))


def test_documented_and_form_extras_are_not_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    # What docs/connection.md lists and what the connection form saves: no warning for any of them.
    keys = documented_extras() | set(CONN_FIELDS)
    assert len(keys) == 13, keys
    extra = {key: "" for key in keys} | {"region": "cn-north-4"}
    with caplog.at_level("WARNING", logger="airflow_provider_cfw.core.settings"):
        settings(**extra)
    assert caplog.records == []


@pytest.mark.parametrize(
    "job_id",
    ["", "../x", "a/b", "a?b", "a#b", "a%2Fb", "a b", "a\nb", "x" * 129, None, 5, ".."],
)
def test_unsafe_job_ids(job_id: object) -> None:
    with pytest.raises(CfwConfigError, match="job_id: expected a CFW job id"):
        validate_job_id(job_id)


@pytest.mark.parametrize(
    "job_id", ["f588ce71-e26c-400d-8981-f854355f6849", "f588ce71e26c400d8981f854355f6849"]
)
def test_safe_job_ids(job_id: str) -> None:
    assert validate_job_id(job_id) == job_id


def test_project_id_checked() -> None:
    with pytest.raises(CfwConfigError, match="project_id: expected a Huawei Cloud project id"):
        validate_project_id("../../etc")


def test_proxies_come_from_the_extra_else_the_environment_resolved_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    cfw, iam = "https://cfw.cn-north-4.myhuaweicloud.com", "https://iam.cn-north-4.myhuaweicloud.com"
    assert settings(region="cn-north-4").proxy_for(cfw + "/v3/x") is None

    monkeypatch.setenv("https_proxy", "http://envproxy:3128")
    monkeypatch.setenv("no_proxy", "iam.cn-north-4.myhuaweicloud.com")
    s = settings(region="cn-north-4")
    # Resolved when the settings were built: later changes to the environment do not reach requests.
    monkeypatch.setenv("https_proxy", "http://other:1")
    assert s.proxy_for(cfw + "/v3/p/jobs/j") == "http://envproxy:3128"
    assert s.proxy_for(iam + "/v3/projects") is None  # no_proxy

    explicit = settings(region="cn-north-4", proxy="http://corp-proxy:8080")
    assert explicit.proxy_for(cfw + "/v3/p/jobs/j") == "http://corp-proxy:8080"
    assert explicit.proxy_for(iam + "/v3/projects") == "http://corp-proxy:8080"


def test_token_mode_needs_no_project_id() -> None:
    s = settings(password="a-token", region="cn-north-4", auth_type="token")
    assert s.auth_type is AuthType.TOKEN and s.project_id is None
    assert "a-token" not in repr(s)


@pytest.mark.parametrize(("login", "is_secret"), [("a" * 7, False), ("a" * 8, True)], ids=["7", "8"])
@pytest.mark.parametrize("auth_type", ["aksk", "password"])
def test_a_login_is_a_secret_from_8_characters_on(auth_type: str, login: str, is_secret: bool) -> None:
    # Huawei's password policy asks for 8 characters: a shorter login is a plain user name.
    s = CfwSettings.from_connection(
        "c",
        login=login,
        password=SK,
        extra={"region": "cn-north-4", "auth_type": auth_type, "domain_name": "d"},
    )
    assert (login in s.secrets) is is_secret
