"""The counters and the request log, the connection count under keep-alive, and load."""

from __future__ import annotations

import asyncio
import threading
import time

import aiohttp
import requests

from airflow_provider_cfw.testing import CfwEmulator

from .conftest import AK, PROJECT, get_token, job_url, signed


def test_requests_by_route_and_status(emu: CfwEmulator) -> None:
    signed(job_url(emu)).send()
    signed(job_url(emu, job="nope")).send()
    requests.get(job_url(emu), timeout=10)
    get_token(emu)
    signed(f"{emu.url}/v3/projects", project_id=None).send()
    requests.get(f"{emu.url}/nothing", timeout=10)
    stats = emu.stats
    assert dict(stats.requests["cfw.job"]) == {200: 1, 400: 1, 401: 1}
    assert stats.count("cfw.job") == 3 and stats.count("cfw.job", 401) == 1
    assert stats.count("iam.tokens", 201) == 1 and stats.count("iam.projects", 200) == 1
    assert stats.count("unknown", 404) == 1
    assert stats.count(status=200) == 2 and stats.total_requests == 6
    assert stats.tokens_issued == 1 and stats.signature_failures == 0
    assert stats.auth_failures == {"missing_credentials": 1}


def test_request_log_entries(emu: CfwEmulator) -> None:
    before = time.time()
    response = signed(job_url(emu)).send()
    requests.get(job_url(emu), headers={"X-Auth-Token": get_token(emu)}, timeout=10)
    emu.inject("cfw.job", status=503)
    requests.get(job_url(emu), timeout=10)
    first, token_call, tokens, faulted = (
        emu.stats.log[-4],
        emu.stats.log[-2],
        emu.stats.log[-3],
        emu.stats.log[-1],
    )
    assert (first.method, first.path, first.route, first.auth, first.status) == (
        "GET",
        f"/v3/{PROJECT}/jobs/f588ce71-e26c-400d-8981-f854355f6849",
        "cfw.job",
        "aksk",
        200,
    )
    assert first.request_id == response.headers["X-Request-Id"] and 0 <= first.latency < 1
    assert (tokens.route, tokens.auth, tokens.status) == ("iam.tokens", "password", 201)
    assert (token_call.auth, token_call.status) == ("token", 200)
    assert (faulted.fault, faulted.status) == ("status", 503)
    assert emu.stats.faults_fired == {"status": 1}
    # Who signed it (the AK, from the Authorization header) and when it arrived, in order.
    assert (first.access_key, token_call.access_key, faulted.access_key) == (AK, None, None)
    assert before <= first.at <= tokens.at <= token_call.at <= faulted.at <= time.time()


def test_log_is_bounded() -> None:
    with CfwEmulator(log_limit=3) as emu:
        for _ in range(5):
            requests.get(f"{emu.url}/x", timeout=10)
        stats = emu.stats
        assert len(stats.log) == 3 and stats.count() == 5


def test_connections_counted_under_keep_alive(emu: CfwEmulator) -> None:
    with requests.Session() as session:
        for _ in range(5):
            assert signed(job_url(emu)).send(session).status_code == 200
        assert emu.stats.connections_accepted == 1
        assert emu.stats.connections_open == 1
    for _ in range(3):
        with requests.Session() as session:
            signed(job_url(emu)).send(session)
    deadline = time.monotonic() + 5
    while emu.stats.connections_open and time.monotonic() < deadline:
        time.sleep(0.01)
    stats = emu.stats
    assert stats.connections_accepted == 4 and stats.connections_open == 0


def test_reset_stats(emu: CfwEmulator) -> None:
    signed(job_url(emu)).send()
    get_token(emu)
    signed(job_url(emu), project_id=None).send()
    emu.reset_stats()
    stats = emu.stats
    assert stats.total_requests == 0 and stats.log == ()
    assert stats.connections_accepted == 0 and stats.tokens_issued == 0
    assert stats.signature_failures == 0 and stats.auth_failures == {}


def test_snapshot_is_frozen(emu: CfwEmulator) -> None:
    before = emu.stats
    signed(job_url(emu)).send()
    assert before.total_requests == 0 and emu.stats.total_requests == 1


def test_reset_forgets_the_account(emu: CfwEmulator) -> None:
    emu.inject("cfw.job", status=503)
    emu.set_clock_offset(100)
    emu.reset()
    response = signed(job_url(emu)).send()
    assert response.status_code == 401 and emu.stats.auth_failures == {"unknown_ak": 1}
    assert abs(emu.now() - time.time()) < 5


def test_configuration_from_another_thread_while_serving(emu: CfwEmulator) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def configure() -> None:
        index = 0
        try:
            while not stop.is_set():
                emu.add_job(PROJECT, f"job-{index}", ["Running", "Success"])
                emu.inject("iam.projects", status=503)
                emu.clear_faults()
                index += 1
        except BaseException as err:  # surfaced below
            errors.append(err)

    worker = threading.Thread(target=configure)
    worker.start()
    try:
        with requests.Session() as session:
            statuses = {signed(job_url(emu)).send(session).status_code for _ in range(100)}
    finally:
        stop.set()
        worker.join()
    assert statuses == {200} and not errors


async def test_many_concurrent_keep_alive_clients(emu: CfwEmulator) -> None:
    # 1,000 clients, each on its own connection, each polling three times over keep-alive.
    clients, polls = 1000, 3
    for index in range(clients):
        emu.add_job(PROJECT, f"load-{index}", ["Running", "Running", "Success"])
    emu.reset_stats()
    connector = aiohttp.TCPConnector(limit=0)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as http:

        async def client(index: int) -> list[str]:
            seen = []
            for _ in range(polls):
                sent = signed(job_url(emu, job=f"load-{index}"))
                async with http.get(sent.url, headers=sent.headers) as response:
                    seen.append((await response.json())["data"]["status"])
            return seen

        results = await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    stats = emu.stats
    assert all(r == ["Running", "Running", "Success"] for r in results)
    assert stats.count("cfw.job", 200) == clients * polls
    assert stats.connections_accepted <= clients
    assert elapsed < 30, f"{clients * polls} requests took {elapsed:.1f} s"
