"""The hook's firewall calls and general ``request`` over real HTTP, sync and async: what a create may
retry (never what may have reached CFW), paging, and the signed bodies the emulator checks."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from airflow_provider_cfw.core.errors import CfwApiError, CfwConfigError, CfwConnectionError, CfwResponseError
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.testing import CfwEmulator
from tests.conftest import PROJECT
from tests.servers import SilentServer

PRO = {"version": "Professional"}


def sent(emu: CfwEmulator, route: str) -> int:
    return sum(emu.stats.requests.get(route, {}).values())


def create(hook: CfwHook, name: str = "fw-a") -> Any:
    return hook.create_firewall(name=name, flavor=PRO)


async def acreate(hook: CfwHook, name: str = "fw-a") -> Any:
    async with hook.async_session():
        return await hook.acreate_firewall(name=name, flavor=PRO)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def do_create(mode: str, name: str = "fw-a") -> Any:
    hook = CfwHook()
    return create(hook, name) if mode == "sync" else asyncio.run(acreate(hook, name))


# -- a create is never resent after a failure that may have reached CFW ------------------------------

MAY_HAVE_ARRIVED = [
    ("lost_answer", {}),
    ("reset", {}),
    ("status", {"status": 502}),
    ("status", {"status": 504}),
    ("status", {"status": 500}),
    ("status", {"status": 503, "error_code": "APIGW.0201"}),
    ("truncate", {}),
    ("malformed_json", {}),
]


@pytest.mark.parametrize(("kind", "params"), MAY_HAVE_ARRIVED, ids=str)
def test_create_is_not_resent_after_a_failure_that_may_have_arrived(
    emu: CfwEmulator, conn: Any, mode: str, kind: str, params: dict[str, Any]
) -> None:
    emu.inject("cfw.firewall.create", kind, **params)
    with pytest.raises((CfwConnectionError, CfwApiError)):
        do_create(mode)
    assert sent(emu, "cfw.firewall.create") == 1


def test_lost_answer_leaves_exactly_the_one_firewall(emu: CfwEmulator, conn: Any, mode: str) -> None:
    emu.inject("cfw.firewall.create", "lost_answer")
    with pytest.raises(CfwConnectionError) as info:
        do_create(mode)
    assert info.value.request_sent is True
    assert emu.firewalls_created == 1 and len(emu.list_firewalls("fw-a")) == 1


def test_a_read_timeout_is_not_taken_for_never_sent(set_conn: Any, mode: str) -> None:
    # A server that takes the create and never answers: the request arrived, and CFW may be carrying it
    # out. A read timeout must not count as "provably never sent", or the create is sent again.
    with SilentServer() as server:
        set_conn(endpoint=server.url, max_retries=2, timeout=0.3)
        with pytest.raises(CfwConnectionError) as info:
            do_create(mode)
    assert str(info.value).endswith("failed: timed out after 0.3 s waiting for the answer")
    assert info.value.request_sent is True
    assert server.requests == 1


SURELY_NOT_ARRIVED = [
    {"status": 429, "retry_after": "0"},
    {"status": 503, "error_code": "APIGW.0308", "retry_after": "0"},
    {"status": 400, "error_code": "CFW.00109004"},
]


@pytest.mark.parametrize("params", SURELY_NOT_ARRIVED, ids=str)
def test_create_is_retried_after_throttling(
    emu: CfwEmulator, conn: Any, mode: str, params: dict[str, Any]
) -> None:
    emu.inject("cfw.firewall.create", "status", **params)
    created = do_create(mode)
    assert created.job_id and sent(emu, "cfw.firewall.create") == 2
    assert emu.firewalls_created == 1


def test_idempotent_calls_still_ride_out_a_502(emu: CfwEmulator, conn: Any) -> None:
    hook = CfwHook()
    firewall_id = create(hook).job_id and hook.list_firewalls("fw-a")[0].id
    emu.inject("cfw.firewall.delete", "status", status=502)
    emu.inject("cfw.firewall.list", "reset")
    assert hook.delete_firewall(firewall_id).job_id
    assert sent(emu, "cfw.firewall.delete") == 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_known_not_to_have_arrived(set_conn: Any, mode: str) -> None:
    set_conn(endpoint=f"http://127.0.0.1:{_closed_port()}", max_retries=0)
    with pytest.raises(CfwConnectionError) as info:
        do_create(mode)
    assert info.value.request_sent is False


def test_connection_refused_is_retried_for_a_create(
    set_conn: Any, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens: every attempt is refused, and the policy grants a create its two retries
    # (counted by the retry log lines, since no server sees the attempts).
    set_conn(endpoint=f"http://127.0.0.1:{_closed_port()}", max_retries=2)
    with (
        caplog.at_level("WARNING", logger="airflow_provider_cfw.core.retry"),
        pytest.raises(CfwConnectionError),
    ):
        do_create(mode)
    assert caplog.text.count("CFW call failed") == 2


# -- paging ------------------------------------------------------------------------------------------


def test_list_follows_the_pages(emu: CfwEmulator, conn: Any, mode: str) -> None:
    hook = CfwHook()
    names = [f"web-{i}" for i in range(5)]
    for name in names:
        create(hook, name)
    emu.reset_stats()
    if mode == "sync":
        firewalls = hook.list_firewalls("web-", page_size=2)
    else:

        async def listing() -> Any:
            async with hook.async_session():
                return await hook.alist_firewalls("web-", page_size=2)

        firewalls = asyncio.run(listing())
    assert [f.name for f in firewalls] == names
    assert sent(emu, "cfw.firewall.list") == 3
    assert all(f.status == 0 for f in firewalls)


def test_list_stops_at_an_empty_page(emu: CfwEmulator, conn: Any) -> None:
    # A server whose total overstates what it returns must not be paged for ever.
    emu.inject("cfw.firewall.list", "status", status=200, body=b'{"data": {"total": 50, "records": []}}')
    assert CfwHook().list_firewalls() == []
    assert sent(emu, "cfw.firewall.list") == 1


def test_list_refuses_bad_arguments_before_any_request(emu: CfwEmulator, conn: Any) -> None:
    hook = CfwHook()
    for kwargs, field in (
        ({"page_size": 0}, "limit"),
        ({"page_size": 2000}, "limit"),
        ({"key_word": 3}, "key_word"),
    ):
        with pytest.raises(CfwConfigError, match=rf"^{field}:"):
            hook.list_firewalls(**kwargs)
    assert emu.stats.requests == {}


# -- request: any call -------------------------------------------------------------------------------


def test_request_signs_a_post_body_and_returns_the_json(emu: CfwEmulator, conn: Any, mode: str) -> None:
    hook = CfwHook()
    create(hook, "fw-x")
    body = {"key_word": "fw-x", "limit": 10, "offset": 0}
    if mode == "sync":
        answer = hook.request("POST", "/v1/{project_id}/firewalls/list", json=body)
    else:

        async def call() -> Any:
            async with hook.async_session():
                return await hook.arequest("POST", "/v1/{project_id}/firewalls/list", json=body)

        answer = asyncio.run(call())
    assert [r["fw_instance_name"] for r in answer["data"]["records"]] == ["fw-x"]
    assert emu.stats.signature_failures == 0


def test_request_with_query_and_an_explicit_project(emu: CfwEmulator, conn: Any) -> None:
    job = emu.add_job(PROJECT, "job-1", ["Success"])
    answer = CfwHook().request("GET", f"/v3/{PROJECT}/jobs/job-1", params={"x": "a b"}, project_id=PROJECT)
    assert answer["data"]["status"] == "Success" and job.polls == 1


def test_request_errors_are_classified(emu: CfwEmulator, conn: Any) -> None:
    with pytest.raises(CfwApiError) as info:
        CfwHook().request("DELETE", "/v2/{project_id}/firewall/no-such-firewall")
    assert info.value.error_code == "CFW.00200005"


def test_post_request_is_not_resent_after_a_502_unless_declared_idempotent(
    emu: CfwEmulator, conn: Any
) -> None:
    hook = CfwHook()
    emu.inject("cfw.firewall.list", "status", status=502, count=2)
    with pytest.raises(CfwApiError):
        hook.request("POST", "/v1/{project_id}/firewalls/list", json={"limit": 1, "offset": 0})
    assert sent(emu, "cfw.firewall.list") == 1
    hook.request("POST", "/v1/{project_id}/firewalls/list", json={"limit": 1, "offset": 0}, idempotent=True)
    assert sent(emu, "cfw.firewall.list") == 3


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "v1/{project_id}/x", "path"),
        ("GET", "/v1/{project_id}/x?limit=1", "path"),
        ("GET", "/v1/../v3/x", "path"),
        ("GET", "/v1/{project}/x", "path"),
        ("GET", "/v1/a b", "path"),
        ("GET", "https://evil.example/v1", "path"),
        ("TRACE", "/v1/{project_id}/x", "method"),
    ],
)
def test_request_refuses_bad_method_or_path_before_any_request(
    emu: CfwEmulator, conn: Any, method: str, path: str, field: str
) -> None:
    with pytest.raises(CfwConfigError, match=rf"^{field}: expected"):
        CfwHook().request(method, path)
    assert emu.stats.requests == {}


def test_request_refuses_a_body_that_is_not_json_before_any_request(emu: CfwEmulator, conn: Any) -> None:
    with pytest.raises(CfwConfigError, match=r"^json: expected"):
        CfwHook().request("POST", "/v1/{project_id}/firewalls/list", json={"when": object()})
    assert emu.stats.requests == {}


def test_a_2xx_create_answer_without_ids_is_a_response_error_and_not_resent(
    emu: CfwEmulator, conn: Any
) -> None:
    emu.inject("cfw.firewall.create", "status", status=200, body=b'{"data": {}}')
    with pytest.raises(CfwResponseError):
        create(CfwHook())
    assert sent(emu, "cfw.firewall.create") == 1


# -- X-Client-Token ----------------------------------------------------------------------------------

TOKEN = "5f0c3f6c2b1e4d7a9c8b7a6f5e4d3c2b"


def create_with_token(mode: str, token: str | None, name: str = "fw-a") -> Any:
    hook = CfwHook()
    if mode == "sync":
        return hook.create_firewall(name=name, flavor=PRO, client_token=token)

    async def go() -> Any:
        async with hook.async_session():
            return await hook.acreate_firewall(name=name, flavor=PRO, client_token=token)

    return asyncio.run(go())


def test_a_create_resent_with_its_client_token_after_a_502_creates_nothing_more(
    emu: CfwEmulator, conn: Any, mode: str
) -> None:
    # The create is carried out, its answer lost behind a 502; the caller sends it again, same token.
    emu.inject("cfw.firewall.create", "lost_answer", status=502)
    with pytest.raises(CfwApiError) as info:
        create_with_token(mode, TOKEN)
    assert info.value.http_status == 502
    assert sent(emu, "cfw.firewall.create") == 1  # the hook itself did not resend it
    again = create_with_token(mode, TOKEN)
    [firewall] = emu.list_firewalls("fw-a")
    assert again.job_id == (firewall.create_job.job_id if firewall.create_job else None)
    assert emu.firewalls_created == 1 and emu.repeated_client_tokens == 1
    # Without the token the same resend orders a second firewall: the header is what protects.
    create_with_token(mode, None)
    assert emu.firewalls_created == 2


def test_a_bad_client_token_is_refused_before_any_request(emu: CfwEmulator, set_conn: Any, mode: str) -> None:
    # No project in the connection: a request (project discovery) would come before the create's own.
    set_conn(project_id=None)
    with pytest.raises(CfwConfigError, match=r"^client_token: expected a 32-character UUID"):
        create_with_token(mode, "not-a-uuid")
    assert sum(sum(v.values()) for v in emu.stats.requests.values()) == 0
