"""A request that gets no answer says why (refused, no such host, timed out, TLS), with no secret in it."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_cfw.core.errors import CfwConfigError, CfwConnectionError
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.testing import CfwEmulator
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from tests.conftest import PROJECT, ConnSetter, assert_no_secrets
from tests.servers import CountingProxy, SilentServer

#: A name no resolver is asked about: getaddrinfo is made to fail for it (DNS cannot be reached here).
UNRESOLVABLE = "cfw.cn-nowhere-1.example.invalid"


def errors_of(hook_factory: Callable[[], CfwHook], job_id: str | None = None) -> list[CfwConnectionError]:
    """The CfwConnectionError of the sync path, then of the async path."""
    job = job_id or str(uuid.uuid4())
    found = []
    with pytest.raises(CfwConnectionError) as sync:
        hook_factory().get_job(job)
    found.append(sync.value)
    with pytest.raises(CfwConnectionError) as not_sync:
        asyncio.run(hook_factory().aget_job(job))
    found.append(not_sync.value)
    return found


def test_refused(set_conn: ConnSetter) -> None:
    set_conn(endpoint="http://127.0.0.1:9")  # discard port: nothing listens
    for error in errors_of(lambda: CfwHook(max_retries=0)):
        assert str(error).endswith("failed: Connection refused"), error


def test_name_not_resolved(set_conn: ConnSetter, monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == UNRESOLVABLE:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    set_conn(endpoint=f"http://{UNRESOLVABLE}")
    for error in errors_of(lambda: CfwHook(max_retries=0)):
        assert str(error).endswith("failed: host name not resolved: Name or service not known"), error


def test_timeout_is_applied(set_conn: ConnSetter) -> None:
    with SilentServer() as server:
        set_conn(endpoint=server.url)
        errors = errors_of(lambda: CfwHook(max_retries=1, timeout=0.3))
    for error in errors:
        assert str(error).endswith("failed: timed out after 0.3 s waiting for the answer"), error
        assert error.retryable
    assert server.requests == 4  # 2 tries each, sync and async: each try hung and was given up on


def test_test_connection_says_why(set_conn: ConnSetter) -> None:
    set_conn(endpoint="http://127.0.0.1:9", max_retries=0)
    ok, message = CfwHook().test_connection()
    assert not ok
    assert message.startswith("CfwConnectionError: GET http://127.0.0.1:9/v3/")
    assert message.endswith("failed: Connection refused")


def test_no_secret_in_connection_errors(
    set_conn: ConnSetter, emu: CfwEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy from the environment whose URL carries a password, refusing; password auth, so the
    # IAM password is in play too.
    for name in (
        "no_proxy",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxyuser:Pr0xy-Secret@127.0.0.1:9")
    set_conn(auth="password", max_retries=0)
    errors = errors_of(CfwHook, str(uuid.uuid4()))
    ok, message = CfwHook().test_connection()
    for text in (*map(str, errors), message):
        assert "through proxy 127.0.0.1:9: Connection refused" in text, text
    assert not ok
    assert_no_secrets(*map(str, errors), *map(repr, errors), message, extra=("Pr0xy-Secret", "proxyuser"))
    assert len(emu.stats.log) == 0


def test_proxy_extra_is_used(set_conn: ConnSetter, emu: CfwEmulator) -> None:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Success"])
    with CountingProxy() as proxy:
        set_conn(proxy=proxy.url)
        assert CfwHook().get_job(job_id).status == "Success"
        assert asyncio.run(CfwHook().aget_job(job_id)).status == "Success"
    target = f"GET {emu.url}/v3/{PROJECT}/jobs/{job_id} HTTP/1.1"
    assert proxy.requests == [target, target]
    assert emu.stats.count("cfw.job", 200) == 2


def test_proxy_for_iam_too(set_conn: ConnSetter, emu: CfwEmulator) -> None:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Success"])
    with CountingProxy() as proxy:
        set_conn(proxy=proxy.url, auth="password", project_id="")
        assert asyncio.run(CfwHook().aget_job(job_id)).status == "Success"
    assert [line.split(" ")[0] for line in proxy.requests] == ["POST", "GET"]
    assert len(emu.stats.log) == 2


# -- connection mistakes: named, before any request -------------------------------------------------------


@pytest.mark.parametrize("auth", ["aksk", "password", "token"])
@pytest.mark.parametrize("iam_endpoint", ["emulator", "none"])
def test_an_endpoint_without_region_or_project_is_refused_before_any_request(
    set_conn: ConnSetter, emu: CfwEmulator, auth: str, iam_endpoint: str
) -> None:
    # Before: IAM was asked for a project named '' (or, with no iam_endpoint, the real global IAM, three
    # times). Now the field is named and nothing is sent.
    extra = {"iam_endpoint": emu.url if iam_endpoint == "emulator" else ""}
    if auth == "token":
        set_conn(password="a-ready-iam-token-value", auth_type="token", region="", project_id="", **extra)
    else:
        set_conn(auth=auth, region="", project_id="", **extra)
    expected = (
        "connection 'cfw_default' extra.region: expected a region such as 'cn-north-4' (or a 'project_id') "
        "alongside 'endpoint'"
    )
    job_id = str(uuid.uuid4())
    with pytest.raises(CfwConfigError) as sync:
        CfwHook().get_job(job_id)
    with pytest.raises(CfwConfigError) as not_sync:
        asyncio.run(CfwHook().aget_job(job_id))
    ok, message = CfwHook().test_connection()
    assert not ok
    assert str(sync.value) == str(not_sync.value) == expected
    assert message == f"CfwConfigError: {expected}"
    assert emu.stats.total_requests == 0


def test_an_unknown_extra_key_is_warned_about_once_per_lookup_not_per_poll(
    set_conn: ConnSetter, emu: CfwEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    set_conn(regoin="cn-north-9")
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Running", "Running", "Running", "Success"])

    async def wait() -> list[dict[str, Any]]:
        trigger = CfwJobTrigger(job_id=job_id, project_id=PROJECT, poll_interval=0.01)
        return [event.payload async for event in trigger.run()]

    with caplog.at_level("WARNING", logger="airflow_provider_cfw.core.settings"):
        (event,) = asyncio.run(wait())
        assert event["status"] == "success"
        CfwHook().get_job(job_id)
    assert emu.stats.count("cfw.job", 200) == 5
    warnings = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_cfw.core.settings"]
    # One for the trigger's lookup (four polls), one for the sync hook's.
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("connection 'cfw_default' extra.regoin: not a key this provider reads")
    assert warnings[0].endswith("did you mean 'region'?")
