"""Fixtures and helpers for the emulator's own tests: a configured emulator and signed requests."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import requests

from airflow_provider_cfw.core.http import HttpRequest
from airflow_provider_cfw.core.signing import AkSkCredentials, sign_request
from airflow_provider_cfw.testing import CfwEmulator
from airflow_provider_cfw.testing.firewalls import FAST_FIREWALL_JOB_SECONDS

AK = "EMUTESTAK0000000000A"
SK = "EMUTESTsecretKey0123456789abcdefghijklmn"  # fake
TEMP_AK = "EMUTESTTEMPAK000000B"
TEMP_SK = "EMUTESTtempSecret0123456789abcdefghijklm"  # fake
SECURITY_TOKEN = "FAKE-SECURITY-TOKEN-emulator"
PROJECT = "0123456789abcdef0123456789abcdef"
OTHER_PROJECT = "fedcba9876543210fedcba9876543210"
REGION = "cn-north-4"
DOMAIN = "acme"
USER = "airflow-bot"
PASSWORD = "pw-Secret-7d1e"  # fake
JOB = "f588ce71-e26c-400d-8981-f854355f6849"

CREDS = AkSkCredentials(AK, SK)
TEMP_CREDS = AkSkCredentials(TEMP_AK, TEMP_SK, SECURITY_TOKEN)


@dataclass(frozen=True)
class Sent:
    """A signed request ready for ``requests``: the URL, headers and body exactly as signed."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    def send(self, session: requests.Session | None = None) -> requests.Response:
        http = session or requests
        return http.request(self.method, self.url, headers=self.headers, data=self.body, timeout=10)


def signed(
    url: str,
    *,
    method: str = "GET",
    creds: AkSkCredentials = CREDS,
    project_id: str | None = PROJECT,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    now: datetime | None = None,
) -> Sent:
    base = {"Content-Type": "application/json", "User-Agent": "emulator-tests/1.0", **(headers or {})}
    request = sign_request(HttpRequest(method, url, base, body), creds, project_id=project_id, now=now)
    return Sent(request.method, request.url, dict(request.headers), request.body)


def job_url(emu: CfwEmulator, project: str = PROJECT, job: str = JOB) -> str:
    return f"{emu.url}/v3/{project}/jobs/{job}"


def token_body(
    user: str = USER,
    password: str = PASSWORD,
    *,
    project_name: str | None = REGION,
    project_id: str | None = None,
) -> dict[str, object]:
    identity = {
        "methods": ["password"],
        "password": {"user": {"domain": {"name": DOMAIN}, "name": user, "password": password}},
    }
    auth: dict[str, object] = {"identity": identity}
    if project_id is not None:
        auth["scope"] = {"project": {"id": project_id}}
    elif project_name is not None:
        auth["scope"] = {"project": {"name": project_name}}
    return {"auth": auth}


def get_token(emu: CfwEmulator, **kwargs: str | None) -> str:
    response = requests.post(
        f"{emu.url}/v3/auth/tokens?nocatalog=true", json=token_body(**kwargs), timeout=10
    )
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def emu() -> Iterator[CfwEmulator]:
    # Firewall jobs of a second, as the cfw_emulator fixture's: these tests step the clock past them.
    with CfwEmulator(firewall_job_seconds=FAST_FIREWALL_JOB_SECONDS) as emulator:
        emulator.add_aksk(AK, SK)
        emulator.add_aksk(TEMP_AK, TEMP_SK, SECURITY_TOKEN)
        emulator.add_iam_user(DOMAIN, USER, PASSWORD, project_name=REGION)
        emulator.add_project(PROJECT, REGION)
        emulator.add_project(OTHER_PROJECT, "cn-east-3")
        emulator.add_job(PROJECT, JOB, statuses=["Running", "Success"])
        yield emulator


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http
