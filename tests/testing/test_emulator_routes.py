"""Every route over real sockets: CFW List Job Status, IAM tokens and IAM projects."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import requests

from airflow_provider_cfw.testing import CfwEmulator

from .conftest import (
    DOMAIN,
    JOB,
    OTHER_PROJECT,
    PASSWORD,
    PROJECT,
    REGION,
    USER,
    get_token,
    job_url,
    signed,
    token_body,
)

REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def poll(emu: CfwEmulator, job: str = JOB, project: str = PROJECT) -> requests.Response:
    return signed(job_url(emu, project, job), project_id=project).send()


def test_job_statuses_follow_the_poll_script_and_the_last_repeats(emu: CfwEmulator) -> None:
    emu.add_job(PROJECT, "job-a", statuses=["Running", "Running", "Success"])
    seen = [poll(emu, "job-a").json()["data"] for _ in range(4)]
    assert [d["status"] for d in seen] == ["Running", "Running", "Success", "Success"]
    assert "end_time" not in seen[0]  # a Running job has no end_time
    assert isinstance(seen[0]["begin_time"], int)  # epoch ms by default, as in Huawei's examples
    assert seen[2]["end_time"] == seen[3]["end_time"] >= seen[2]["begin_time"]
    assert seen[0]["id"] == "job-a"


def test_failed_job_reports_an_end_time(emu: CfwEmulator) -> None:
    emu.add_job(PROJECT, "job-f", statuses=["Failed"])
    data = poll(emu, "job-f").json()["data"]
    assert data["status"] == "Failed" and isinstance(data["end_time"], int)


def test_time_scripted_job_follows_the_emulator_clock(emu: CfwEmulator) -> None:
    emu.add_job(PROJECT, "job-t", statuses=[("Running", 5.0), ("Success", None)], begin_time=emu.now())
    assert poll(emu, "job-t").json()["data"]["status"] == "Running"
    emu.advance_clock(6.0)
    data = poll(emu, "job-t").json()["data"]
    assert data["status"] == "Success"
    assert data["end_time"] - data["begin_time"] == 5000


@pytest.mark.parametrize(
    ("time_format", "pattern"),
    [
        ("iso-z", r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"),
        ("iso-offset", r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0800$"),
    ],
)
def test_iso_time_formats(emu: CfwEmulator, time_format: str, pattern: str) -> None:
    begin = datetime(2024, 1, 5, 8, 15, 1, tzinfo=UTC).timestamp()
    emu.add_job(PROJECT, "job-iso", statuses=["Success"], time_format=time_format, begin_time=begin)
    data = poll(emu, "job-iso").json()["data"]
    assert re.match(pattern, data["begin_time"]) and re.match(pattern, data["end_time"])
    expected = "2024-01-05T08:15:01Z" if time_format == "iso-z" else "2024-01-05T16:15:01+0800"
    assert data["begin_time"] == expected


def test_null_end_time_option(emu: CfwEmulator) -> None:
    emu.add_job(PROJECT, "job-n", statuses=["Running"], null_end_time=True)
    data = poll(emu, "job-n").json()["data"]
    assert "end_time" in data and data["end_time"] is None


def test_unknown_job_is_cfw_00200005(emu: CfwEmulator) -> None:
    response = poll(emu, "11111111-2222-3333-4444-555555555555")
    assert response.status_code == 400
    assert response.json() == {"error_code": "CFW.00200005", "error_msg": "object does not exist"}
    assert REQUEST_ID.match(response.headers["X-Request-Id"])


def test_add_job_creates_an_unknown_project(emu: CfwEmulator) -> None:
    new_project = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    emu.add_job(new_project, "job-p", statuses=["Success"])
    assert poll(emu, "job-p", new_project).json()["data"]["status"] == "Success"


def test_unknown_api_and_wrong_method_get_the_gateway_404(emu: CfwEmulator) -> None:
    for response in (
        requests.get(f"{emu.url}/v1/{PROJECT}/firewalls", timeout=10),
        requests.post(job_url(emu), timeout=10),
    ):
        assert response.status_code == 404
        body = response.json()
        assert body["error_code"] == "APIGW.0101"
        assert body["request_id"] == response.headers["X-Request-Id"]


def test_token_by_project_name(emu: CfwEmulator) -> None:
    response = requests.post(f"{emu.url}/v3/auth/tokens?nocatalog=true", json=token_body(), timeout=10)
    assert response.status_code == 201
    token = response.json()["token"]
    assert response.headers["X-Subject-Token"].startswith("MII")
    assert token["project"] == {"id": PROJECT, "name": REGION, "domain": token["user"]["domain"]}
    assert token["user"]["name"] == USER and token["user"]["domain"]["name"] == DOMAIN
    assert token["methods"] == ["password"] and "catalog" not in token
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", token["expires_at"])
    expires = datetime.strptime(token["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(expires.timestamp() - emu.now() - 86400) < 5
    assert REQUEST_ID.match(response.headers["X-Request-Id"])


def test_token_by_project_id_with_catalog(emu: CfwEmulator) -> None:
    body = token_body(project_name=None, project_id=OTHER_PROJECT)
    response = requests.post(f"{emu.url}/v3/auth/tokens", json=body, timeout=10)
    assert response.status_code == 201
    assert response.json()["token"]["project"]["id"] == OTHER_PROJECT
    assert response.json()["token"]["catalog"] == []


def test_unscoped_token_has_no_project_and_cannot_call_cfw(emu: CfwEmulator) -> None:
    response = requests.post(f"{emu.url}/v3/auth/tokens", json=token_body(project_name=None), timeout=10)
    assert response.status_code == 201 and "project" not in response.json()["token"]
    job = requests.get(
        job_url(emu), headers={"X-Auth-Token": response.headers["X-Subject-Token"]}, timeout=10
    )
    assert job.status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (token_body(password="wrong"), 401, "The username or password is wrong."),
        (token_body(user="nobody"), 401, "The username or password is wrong."),
        (token_body(project_name="xx-nowhere-1"), 401, None),
        ({"auth": {}}, 400, None),
        ({"auth": {"identity": {"methods": ["token"], "password": {}}}}, 400, None),
    ],
)
def test_token_refusals_are_keystone_style(
    emu: CfwEmulator, body: dict[str, object], status: int, message: str | None
) -> None:
    response = requests.post(f"{emu.url}/v3/auth/tokens", json=body, timeout=10)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status and error["title"] in ("Unauthorized", "Bad Request")
    if message:
        assert error["message"] == message
    assert "X-Subject-Token" not in response.headers
    assert REQUEST_ID.match(response.headers["X-Request-Id"])


def test_malformed_token_request_body(emu: CfwEmulator) -> None:
    response = requests.post(f"{emu.url}/v3/auth/tokens", data=b"{not json", timeout=10)
    assert response.status_code == 400 and response.json()["error"]["code"] == 400


def test_token_calls_cfw_and_per_user_ttl(emu: CfwEmulator) -> None:
    token = get_token(emu)
    response = requests.get(job_url(emu), headers={"X-Auth-Token": token}, timeout=10)
    assert response.status_code == 200 and response.json()["data"]["status"] == "Running"
    emu.add_iam_user(DOMAIN, "short", PASSWORD, REGION, token_ttl=60)
    short = requests.post(f"{emu.url}/v3/auth/tokens", json=token_body(user="short"), timeout=10).json()
    expires = datetime.strptime(short["token"]["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(expires.timestamp() - emu.now() - 60) < 5


def test_token_ttl_setting(emu: CfwEmulator) -> None:
    emu.token_ttl = 1.0
    token = get_token(emu)
    emu.advance_clock(1.5)
    response = requests.get(job_url(emu), headers={"X-Auth-Token": token}, timeout=10)
    assert response.status_code == 401
    assert token in emu.issued_tokens


def test_projects_by_name_signed_without_project_id(emu: CfwEmulator) -> None:
    response = signed(f"{emu.url}/v3/projects?name={REGION}", project_id=None).send()
    assert response.status_code == 200, response.text
    projects = response.json()["projects"]
    assert [(p["id"], p["name"]) for p in projects] == [(PROJECT, REGION)]
    assert {"domain_id", "enabled", "links"} <= set(projects[0])


def test_projects_lists_every_match_and_all_without_name(emu: CfwEmulator) -> None:
    emu.add_project("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", REGION)
    twice = signed(f"{emu.url}/v3/projects?name={REGION}", project_id=None).send().json()["projects"]
    assert len(twice) == 2
    none = signed(f"{emu.url}/v3/projects?name=xx-nowhere-1", project_id=None).send().json()["projects"]
    assert none == []
    everything = signed(f"{emu.url}/v3/projects", project_id=None).send().json()["projects"]
    assert {p["id"] for p in everything} >= {PROJECT, OTHER_PROJECT}


def test_projects_accepts_a_token_and_refuses_no_auth(emu: CfwEmulator) -> None:
    token = get_token(emu)
    by_token = requests.get(
        f"{emu.url}/v3/projects?name={REGION}", headers={"X-Auth-Token": token}, timeout=10
    )
    assert by_token.status_code == 200 and by_token.json()["projects"][0]["id"] == PROJECT
    anonymous = requests.get(f"{emu.url}/v3/projects?name={REGION}", timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error_code"] == "APIGW.0301"


def test_user_project_placeholder_never_shadows_a_declared_project() -> None:
    # add_iam_user first (as the trigger tests do), add_project second: the token is for the latter.
    with CfwEmulator() as emu:
        emu.add_iam_user(DOMAIN, USER, PASSWORD, project_name=REGION)
        placeholder = get_token(emu)
        emu.add_project(PROJECT, REGION)
        response = requests.post(f"{emu.url}/v3/auth/tokens", json=token_body(), timeout=10)
        assert response.json()["token"]["project"]["id"] == PROJECT
        assert placeholder != response.headers["X-Subject-Token"]


def test_job_created_project_wins_over_the_user_placeholder() -> None:
    with CfwEmulator() as emu:
        emu.add_iam_user(DOMAIN, USER, PASSWORD, project_name=REGION)
        emu.add_job(PROJECT, JOB, ["Success"])
        token = get_token(emu)
        response = requests.get(job_url(emu), headers={"X-Auth-Token": token}, timeout=10)
        assert response.status_code == 200


def test_issue_token_helper(emu: CfwEmulator) -> None:
    token = emu.issue_token(DOMAIN, USER, PROJECT)
    assert requests.get(job_url(emu), headers={"X-Auth-Token": token}, timeout=10).status_code == 200


def test_token_with_domain_by_id(emu: CfwEmulator) -> None:
    domain_id = requests.post(f"{emu.url}/v3/auth/tokens", json=token_body(), timeout=10).json()["token"][
        "user"
    ]["domain"]["id"]
    body = token_body()
    body["auth"]["identity"]["password"]["user"]["domain"] = {"id": domain_id}  # type: ignore[index]
    assert requests.post(f"{emu.url}/v3/auth/tokens", json=body, timeout=10).status_code == 201
    body["auth"]["identity"]["password"]["user"]["domain"] = {"id": "0" * 32}  # type: ignore[index]
    assert requests.post(f"{emu.url}/v3/auth/tokens", json=body, timeout=10).status_code == 401


def test_head_is_not_an_api(emu: CfwEmulator) -> None:
    assert requests.head(job_url(emu), timeout=10).status_code == 404
    assert signed(job_url(emu)).send().json()["data"]["status"] == "Running"  # HEAD did not advance it
