"""Independent checks of the emulator's signature verification: the spec's vectors A-C with a frozen
clock, and requests signed by Huawei's official SDK signer (test-only dependency)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType

import pytest
import requests

from airflow_provider_cfw.core.http import HttpRequest
from airflow_provider_cfw.testing import CfwEmulator
from airflow_provider_cfw.testing.auth import AuthOk, authenticate

V_AK = "AKIDEXAMPLE0000000000"
V_SK = "SKEXAMPLEsecretKey0123456789abcdefghijkl"
V_PROJECT = "0123456789abcdef0123456789abcdef"
V_JOB = "11111111-2222-3333-4444-555555555555"
V_HOST = "cfw.cn-north-4.myhuaweicloud.com"
V_DATE = "20240101T000000Z"
V_TOKEN = "FAKE-SECURITY-TOKEN"
FROZEN = datetime(2024, 1, 1, tzinfo=UTC).timestamp()


def _authorization(signed_headers: str, signature: str) -> str:
    return f"SDK-HMAC-SHA256 Access={V_AK}, SignedHeaders={signed_headers}, Signature={signature}"


@pytest.fixture
def frozen() -> Iterator[CfwEmulator]:
    with CfwEmulator(clock=lambda: FROZEN) as emu:
        emu.add_aksk(V_AK, V_SK)
        emu.add_job(V_PROJECT, V_JOB, ["Success"])
        yield emu


def _vector_a_headers() -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "huaweicloud-usdk-python/3.0",
        "X-Project-Id": V_PROJECT,
        "X-Sdk-Date": V_DATE,
        "Host": V_HOST,
        "Authorization": _authorization(
            "content-type;host;user-agent;x-project-id;x-sdk-date",
            "ac80dbd9244960b76fad2db1ed67471c7001cf4f7d3b1dc3852d065ea5ed8031",
        ),
    }


def test_vector_a_over_the_wire(frozen: CfwEmulator) -> None:
    url = f"{frozen.url}/v3/{V_PROJECT}/jobs/{V_JOB}"
    response = requests.get(url, headers=_vector_a_headers(), timeout=10)
    assert response.status_code == 200, response.text
    changed = {**_vector_a_headers(), "User-Agent": "huaweicloud-usdk-python/3.1"}
    assert requests.get(url, headers=changed, timeout=10).status_code == 401


def test_vector_c_over_the_wire(frozen: CfwEmulator) -> None:
    frozen.add_aksk(V_AK, V_SK, V_TOKEN)
    headers = {
        **_vector_a_headers(),
        "X-Security-Token": V_TOKEN,
        "Authorization": _authorization(
            "content-type;host;user-agent;x-project-id;x-sdk-date;x-security-token",
            "e385c146ab3b21bec08b8b2a28cfd2099c82f47ba8a3da2ae1c89626b8909478",
        ),
    }
    url = f"{frozen.url}/v3/{V_PROJECT}/jobs/{V_JOB}"
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    headers["X-Security-Token"] = "FAKE-SECURITY-TOKEM"
    assert requests.get(url, headers=headers, timeout=10).status_code == 401


def test_vector_b_through_the_emulators_verify_path(frozen: CfwEmulator) -> None:
    # Vector B is a POST to an API the emulator does not serve, so it goes to the check directly.
    request = HttpRequest(
        "POST",
        f"https://{V_HOST}/v1/{V_PROJECT}/firewalls/list?enterprise_project_id=0&a%20b=x%2Fy~z",
        {
            "Content-Type": "application/json",
            "X-Project-Id": V_PROJECT,
            "X-Sdk-Date": V_DATE,
            "Host": V_HOST,
            "Authorization": _authorization(
                "content-type;host;x-project-id;x-sdk-date",
                "75b720af2a8f91590e1249788b6752de4e60a1405044314fbcd3d14cf23668b0",
            ),
        },
        b'{"offset": 0, "limit": 10}',
    )
    assert isinstance(authenticate(request, frozen.state, V_PROJECT), AuthOk)
    tampered = HttpRequest(request.method, request.url, request.headers, b'{"offset": 1, "limit": 10}')
    assert not isinstance(authenticate(tampered, frozen.state, V_PROJECT), AuthOk)


def test_vectors_are_stale_without_the_frozen_clock() -> None:
    with CfwEmulator() as emu:
        emu.add_aksk(V_AK, V_SK)
        emu.add_job(V_PROJECT, V_JOB, ["Success"])
        response = requests.get(
            f"{emu.url}/v3/{V_PROJECT}/jobs/{V_JOB}", headers=_vector_a_headers(), timeout=10
        )
        assert response.status_code == 401
        assert emu.stats.auth_failures == {"stale_date": 1}


# -- the official SDK's signer ----------------------------------------------------------------------


@pytest.fixture
def sdk(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    # Importing the SDK writes ~/.huaweicloud/application_id: keep it out of the real home.
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("sdk-home")))
    # A locked test dependency: missing, it must fail the suite, not skip the comparison.
    return importlib.import_module("huaweicloudsdkcore.auth.credentials")


def _sdk_signed(
    sdk: ModuleType,
    emu: CfwEmulator,
    path: str,
    query: list[tuple[str, object]],
    *,
    project_id: str | None,
    security_token: str | None = None,
) -> tuple[str, dict[str, str]]:
    from huaweicloudsdkcore.sdk_request import SdkRequest

    creds = sdk.BasicCredentials(V_AK, V_SK, project_id)
    if security_token:
        creds = creds.with_security_token(security_token)
    request = SdkRequest(
        method="GET",
        schema="http",
        host=f"{emu.host}:{emu.port}",
        resource_path=path,
        query_params=query,
        header_params={
            "Content-Type": "application/json",
            "X-Sdk-Date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        },
        body="",
    )
    signed = creds.sign_request(request)
    return f"http://{emu.host}:{emu.port}{signed.uri}", dict(signed.header_params)


@pytest.fixture
def live() -> Iterator[CfwEmulator]:
    with CfwEmulator(lockout_threshold=None) as emu:
        emu.add_aksk(V_AK, V_SK)
        emu.add_job(V_PROJECT, V_JOB, ["Success"])
        yield emu


def _flip(text: str, index: int) -> str:
    char = text[index]
    return text[:index] + ("1" if char != "1" else "2") + text[index + 1 :]


@pytest.mark.sdk
def test_sdk_signed_job_request(sdk: ModuleType, live: CfwEmulator) -> None:
    url, headers = _sdk_signed(sdk, live, f"/v3/{V_PROJECT}/jobs/{V_JOB}", [], project_id=V_PROJECT)
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    # One byte changed, wherever: the path, a signed header, the signature itself.
    assert requests.get(_flip(url, len(url) - 1), headers=headers, timeout=10).status_code == 401
    for name in ("Content-Type", "X-Sdk-Date", "Authorization"):
        changed = {**headers, name: _flip(headers[name], len(headers[name]) - 2)}
        assert requests.get(url, headers=changed, timeout=10).status_code == 401, name
    assert live.stats.signature_failures == 4


@pytest.mark.sdk
def test_sdk_signed_query_and_security_token(sdk: ModuleType, live: CfwEmulator) -> None:
    live.add_aksk(V_AK, V_SK, V_TOKEN)
    url, headers = _sdk_signed(
        sdk, live, "/v3/projects", [("name", "cn-north-4 a/b~c")], project_id=None, security_token=V_TOKEN
    )
    response = requests.get(url, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert requests.get(url.replace("name=cn", "name=co"), headers=headers, timeout=10).status_code == 401
    changed = {**headers, "X-Security-Token": V_TOKEN + "x"}
    assert requests.get(url, headers=changed, timeout=10).status_code == 401
