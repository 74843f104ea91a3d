"""Every fault kind over real sockets, queued or seeded, per route."""

from __future__ import annotations

import http.client
import time

import aiohttp
import pytest
import requests

from airflow_provider_cfw.testing import CfwEmulator

from .conftest import get_token, job_url, signed, token_body


def poll(emu: CfwEmulator) -> requests.Response:
    return signed(job_url(emu)).send()


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "APIGW.0308"), (500, "CFW.00100001"), (503, "APIGW.0201"), (504, "APIGW.0201")],
)
def test_status_faults_have_gateway_bodies(emu: CfwEmulator, status: int, code: str) -> None:
    emu.inject("cfw.job", "status", status=status)
    response = poll(emu)
    assert response.status_code == status
    body = response.json()
    assert body["error_code"] == code and body["error_msg"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert ("Retry-After" in response.headers) == (status == 429)
    assert poll(emu).status_code == 200  # count defaults to 1


def test_throttling_retry_after_can_be_set(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", status=429, retry_after="5")
    assert poll(emu).headers["Retry-After"] == "5"


def test_502_is_an_html_page(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", status=502)
    response = poll(emu)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<title>502 Bad Gateway</title>" in response.text


def test_any_status_and_error_code(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", status=400, error_code="CFW.00109004", error_msg="Please retry later.")
    body = poll(emu).json()
    assert body["error_code"] == "CFW.00109004" and body["error_msg"] == "Please retry later."


def test_raw_body_override(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", status=503, body=b"upstream down", content_type="text/plain")
    response = poll(emu)
    assert response.status_code == 503 and response.text == "upstream down"


def test_iam_status_faults_are_keystone_style_except_throttling(emu: CfwEmulator) -> None:
    emu.inject("iam.tokens", status=500)
    emu.inject("iam.tokens", status=429)
    url = f"{emu.url}/v3/auth/tokens"
    first = requests.post(url, json=token_body(), timeout=10)
    assert first.status_code == 500 and first.json()["error"]["code"] == 500
    second = requests.post(url, json=token_body(), timeout=10)
    assert second.status_code == 429 and second.json()["error_code"] == "APIGW.0308"
    assert requests.post(url, json=token_body(), timeout=10).status_code == 201


def test_queue_of_n_then_normal_and_faults_do_not_consume_polls(emu: CfwEmulator) -> None:
    fault = emu.inject("cfw.job", status=503, count=3)
    assert [poll(emu).status_code for _ in range(4)] == [503, 503, 503, 200]
    assert fault.fired == 3 and fault.exhausted
    assert emu.faults.pending == []
    assert poll(emu).json()["data"]["status"] == "Success"  # Running was the 4th request's


def test_route_filter(emu: CfwEmulator) -> None:
    emu.inject("iam.projects", status=503)
    assert poll(emu).status_code == 200
    assert signed(f"{emu.url}/v3/projects", project_id=None).send().status_code == 503


def test_wildcard_route(emu: CfwEmulator) -> None:
    emu.inject("*", status=504, count=2)
    assert poll(emu).status_code == 504
    assert requests.post(f"{emu.url}/v3/auth/tokens", json=token_body(), timeout=10).status_code == 504


def test_probability_faults_are_reproducible_with_a_seed(emu: CfwEmulator) -> None:
    def pattern() -> list[int]:
        emu.clear_faults()
        emu.inject("cfw.job", status=503, probability=0.5, seed=42)
        return [poll(emu).status_code for _ in range(20)]

    first, second = pattern(), pattern()
    assert first == second
    assert 3 <= first.count(503) <= 17


def test_probability_with_a_count_cap(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", status=503, probability=1.0, count=2)
    assert [poll(emu).status_code for _ in range(3)] == [503, 503, 200]


def test_latency_then_normal_answer(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", "latency", delay=0.3)
    started = time.perf_counter()
    response = poll(emu)
    assert response.status_code == 200 and time.perf_counter() - started >= 0.3
    assert emu.stats.log[-1].fault == "latency" and emu.stats.log[-1].latency >= 0.3
    assert response.json()["data"]["status"] == "Running"  # latency passes through to the job


def test_slow_error(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", status=504, delay=0.2)
    started = time.perf_counter()
    assert poll(emu).status_code == 504 and time.perf_counter() - started >= 0.2


def test_client_timeout_on_latency(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", "latency", delay=2.0)
    sent = signed(job_url(emu))
    with pytest.raises(requests.Timeout):
        requests.get(sent.url, headers=sent.headers, timeout=0.2)


def test_connection_reset_before_the_response(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", "reset")
    with pytest.raises(requests.ConnectionError) as caught:
        poll(emu)
    assert isinstance(caught.value.__context__ or caught.value, Exception)
    assert "reset" in str(caught.value).lower() or "aborted" in str(caught.value).lower()
    assert emu.stats.count("cfw.job", 0) == 1
    assert poll(emu).status_code == 200


async def test_connection_reset_seen_by_aiohttp(emu: CfwEmulator) -> None:
    # aiohttp silently retries an idempotent request once when its connection drops: two resets.
    emu.inject("cfw.job", "reset", count=2)
    sent = signed(job_url(emu))
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(sent.url, headers=sent.headers)
    assert emu.stats.count("cfw.job", 0) == 2


def test_response_cut_off_mid_body(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", "truncate")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        poll(emu)
    # Raw view: the headers promise more than arrives.
    emu.inject("cfw.job", "truncate")
    connection = http.client.HTTPConnection(emu.host, emu.port, timeout=5)
    sent = signed(job_url(emu))
    connection.request("GET", sent.url, headers=sent.headers)
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("X-Request-Id")
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    connection.close()


async def test_truncation_seen_by_aiohttp(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", "truncate")
    sent = signed(job_url(emu))
    async with aiohttp.ClientSession() as http, http.get(sent.url, headers=sent.headers) as response:
        assert response.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()


def test_malformed_json(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", "malformed_json")
    response = poll(emu)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        response.json()


def test_body_without_data(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", "no_data")
    response = poll(emu)
    assert response.status_code == 200 and "data" not in response.json()


def test_unknown_status_string(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", "unknown_status")
    emu.inject("cfw.job", "unknown_status", status_text="Pending")
    assert poll(emu).json()["data"]["status"] == "Queued"
    assert poll(emu).json()["data"]["status"] == "Pending"


def test_faults_fire_before_authentication(emu: CfwEmulator) -> None:
    # The gateway throttles before it authenticates: even an unsigned request sees the 429.
    emu.inject("cfw.job", status=429)
    assert requests.get(job_url(emu), timeout=10).status_code == 429


def test_iam_reset_and_token_still_works_after(emu: CfwEmulator) -> None:
    emu.inject("iam.tokens", "reset")
    with pytest.raises(requests.ConnectionError):
        get_token(emu)
    assert get_token(emu)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "explode"}, "unknown fault kind"),
        ({"route": "cfw.nothing"}, "unknown route"),
        ({"kind": "status"}, "needs status"),
        ({"kind": "latency", "delay": -1}, "negative"),
        ({"kind": "status", "status": 503, "count": 0}, "at least 1"),
        ({"kind": "status", "status": 503, "probability": 2}, "between 0 and 1"),
    ],
)
def test_bad_fault_specs_are_refused(emu: CfwEmulator, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        emu.inject(**kwargs)  # type: ignore[arg-type]


def test_bare_status_has_no_code_and_no_retry_after(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", "bare_status", status=429)
    response = requests.get(job_url(emu), timeout=10)
    assert response.status_code == 429 and response.text == "429 Too Many Requests"
    assert "Retry-After" not in response.headers and response.headers["X-Request-Id"]
