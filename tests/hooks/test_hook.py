"""CfwHook over real HTTP against the emulator: every auth mode, discovery, caching, sync and async."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any

import pytest

from airflow_provider_cfw.core.errors import CfwAuthError, CfwConfigError, CfwJobNotFound
from airflow_provider_cfw.core.models import CfwJobStatus
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.testing import CfwEmulator
from tests.conftest import DOMAIN, PASSWORD, PROJECT, REGION, USER, ConnSetter


def new_job(emu: CfwEmulator, *statuses: str, **kwargs: Any) -> str:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, statuses or ("Success",), **kwargs)
    return job_id


def test_get_job_aksk(emu: CfwEmulator, conn: dict) -> None:
    job_id = new_job(emu, "Running", "Success")
    hook = CfwHook()
    running = hook.get_job(job_id)
    assert running.status is CfwJobStatus.RUNNING and running.end_time is None
    done = hook.get_job(job_id)
    assert done.status is CfwJobStatus.SUCCESS
    assert done.begin_time is not None and done.end_time is not None and done.duration_seconds is not None
    assert done.request_id
    assert emu.stats.count("cfw.job", 200) == 2


@pytest.mark.parametrize(
    "time_format", ["epoch-ms", "epoch-s", "iso-z", "iso-offset", "iso-negative-offset", "gmt-offset"]
)
def test_time_formats_parse_to_the_same_instant(emu: CfwEmulator, conn: dict, time_format: str) -> None:
    job_id = new_job(emu, "Success", time_format=time_format, begin_time=1641370501.0)
    job = CfwHook().get_job(job_id)
    assert job.begin_time is not None and job.begin_time.timestamp() == 1641370501.0


@pytest.mark.parametrize("time_format", ["null-text", "dash"])
def test_unreadable_times_do_not_hide_the_status(emu: CfwEmulator, conn: dict, time_format: str) -> None:
    job_id = new_job(emu, "Success", time_format=time_format)
    for job in (CfwHook().get_job(job_id), asyncio.run(CfwHook().aget_job(job_id))):
        assert job.status is CfwJobStatus.SUCCESS
        assert job.begin_time is None and job.end_time is None
        assert job.raw["begin_time"] == job.raw["end_time"] != ""
    assert len(emu.stats.log) == 2  # read at once, not retried as a malformed answer


async def test_aget_job_aksk(emu: CfwEmulator, conn: dict) -> None:
    job_id = new_job(emu, "Failed")
    job = await CfwHook().aget_job(job_id)
    assert job.status is CfwJobStatus.FAILED


def test_sync_calls_reuse_one_connection(emu: CfwEmulator, conn: dict) -> None:
    job_id = new_job(emu)
    hook = CfwHook()
    for _ in range(20):
        hook.get_job(job_id)
    assert emu.stats.count("cfw.job", 200) == 20
    assert emu.stats.connections_accepted == 1


async def test_async_calls_share_the_loop_pool(emu: CfwEmulator, conn: dict) -> None:
    job_id = new_job(emu)
    hooks = [CfwHook() for _ in range(5)]
    async with hooks[0].async_session():
        for _ in range(4):
            await asyncio.gather(*(h.aget_job(job_id) for h in hooks))
    assert emu.stats.count("cfw.job", 200) == 20
    assert emu.stats.connections_accepted <= 5


def test_project_discovered_once_per_process(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(project_id="")
    job_id = new_job(emu)
    for _ in range(3):
        assert CfwHook().get_job(job_id).status is CfwJobStatus.SUCCESS
    assert emu.stats.count("iam.projects", 200) == 1
    assert CfwHook().client.project_id() == PROJECT


async def test_project_discovery_async(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(project_id="")
    job_id = new_job(emu)
    assert (await CfwHook().aget_job(job_id)).status is CfwJobStatus.SUCCESS
    assert emu.stats.count("iam.projects", 200) == 1


def test_project_discovery_needs_exactly_one_match(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    emu.add_project("f" * 32, name=REGION)  # a second project with the same name
    set_conn(project_id="")
    with pytest.raises(Exception, match=r"extra\.region 'cn-north-4': IAM lists 2 projects of that name"):
        CfwHook().get_job(str(uuid.uuid4()))
    assert emu.stats.count("cfw.job") == 0


def test_project_argument_overrides(emu: CfwEmulator, conn: dict) -> None:
    other = "a" * 32
    emu.add_project(other, name=REGION)
    job_id = str(uuid.uuid4())
    emu.add_job(other, job_id, ["Success"])
    assert CfwHook(project_id=other).get_job(job_id).status is CfwJobStatus.SUCCESS
    assert CfwHook().get_job(job_id, project_id=other).status is CfwJobStatus.SUCCESS
    with pytest.raises(CfwJobNotFound):
        CfwHook().get_job(job_id)


def set_login(monkeypatch: pytest.MonkeyPatch, conn: dict, login: str, conn_id: str = "cfw_default") -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(dict(conn, login=login)))


def test_temporary_credentials(
    emu: CfwEmulator, set_conn: ConnSetter, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.add_aksk("TMPAK", "TMPSK", security_token="STS-TOKEN-1")
    job_id = new_job(emu)
    set_login(
        monkeypatch, set_conn("cfw_tmp", password="TMPSK", security_token="STS-TOKEN-1"), "TMPAK", "cfw_tmp"
    )
    assert CfwHook("cfw_tmp").get_job(job_id).status is CfwJobStatus.SUCCESS
    set_login(
        monkeypatch, set_conn("cfw_tmp", password="TMPSK", security_token="STS-WRONG"), "TMPAK", "cfw_tmp"
    )
    with pytest.raises(CfwAuthError) as info:
        CfwHook("cfw_tmp").get_job(job_id)
    assert info.value.error_code == "APIGW.0301"
    assert "STS-WRONG" not in str(info.value)


def test_wrong_sk_fails_fast_with_one_request(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(password="not-the-secret-key")
    with pytest.raises(CfwAuthError) as info:
        CfwHook().get_job(str(uuid.uuid4()))
    assert info.value.http_status == 401 and info.value.error_code == "APIGW.0301"
    assert info.value.request_id
    # Five AK/SK failures in a row lock the AK: never a second try on a 401.
    assert emu.stats.count("cfw.job") == 1


# ---- password (IAM token) auth --------------------------------------------------------------------


def test_password_auth_one_token_for_50_calls(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(auth="password")
    job_id = new_job(emu)
    for _ in range(50):
        CfwHook().get_job(job_id)
    assert emu.stats.tokens_issued == 1
    assert emu.stats.count("cfw.job", 200) == 50


def test_password_auth_discovers_project_from_token(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(auth="password", project_id="")
    project_id = CfwHook().client.project_id()
    job_id = str(uuid.uuid4())
    emu.add_job(project_id, job_id, ["Success"])
    assert CfwHook().get_job(job_id).status is CfwJobStatus.SUCCESS
    assert emu.stats.tokens_issued == 1
    assert emu.stats.count("iam.projects") == 0


def test_password_auth_threads_share_one_refresh(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(auth="password")
    job_id = new_job(emu)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            CfwHook().get_job(job_id)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert emu.stats.tokens_issued == 1


async def test_password_auth_coroutines_share_one_refresh(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(auth="password")
    job_id = new_job(emu)
    emu.inject("iam.tokens", "latency", delay=0.2)  # keep the first fetch in flight while others ask
    jobs = await asyncio.gather(*(CfwHook().aget_job(job_id) for _ in range(50)))
    assert {job.status for job in jobs} == {CfwJobStatus.SUCCESS}
    assert emu.stats.tokens_issued == 1


def test_wrong_password_never_reuses_a_good_token(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(auth="password")
    job_id = new_job(emu)
    CfwHook().get_job(job_id)
    set_conn(auth="password", password="wrong-password")
    with pytest.raises(CfwAuthError) as info:
        CfwHook().get_job(job_id)
    assert info.value.http_status == 401
    assert emu.stats.count("iam.tokens", 401) == 1


def test_revoked_token_one_refresh_one_retry(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(auth="password")
    job_id = new_job(emu)
    hook = CfwHook()
    hook.get_job(job_id)
    assert emu.revoke_tokens() == 1
    assert hook.get_job(job_id).status is CfwJobStatus.SUCCESS
    assert emu.stats.tokens_issued == 2
    assert emu.stats.count("cfw.job", 401) == 1
    assert emu.stats.count("cfw.job", 200) == 2


async def test_revoked_token_async(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(auth="password")
    job_id = new_job(emu)
    hook = CfwHook()
    await hook.aget_job(job_id)
    emu.revoke_tokens()
    assert (await hook.aget_job(job_id)).status is CfwJobStatus.SUCCESS
    assert emu.stats.tokens_issued == 2


def test_token_expired_at_the_gateway_one_refresh(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(auth="password")
    job_id = new_job(emu)
    hook = CfwHook()
    hook.get_job(job_id)
    # A day passes for the gateway (a suspended laptop, a skewed clock): the cached token is stale there.
    emu.advance_clock(25 * 3600)
    assert hook.get_job(job_id).status is CfwJobStatus.SUCCESS
    assert emu.stats.auth_failures.get("expired_token") == 1
    assert emu.stats.tokens_issued == 2


def test_persistent_401_is_not_a_loop(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(auth="password")
    job_id = new_job(emu)
    emu.inject("cfw.job", "status", status=401, error_code="APIGW.0301", count=10)
    with pytest.raises(CfwAuthError):
        CfwHook().get_job(job_id)
    # First try, one refresh, one retry: no more.
    assert emu.stats.count("cfw.job") == 2
    assert emu.stats.tokens_issued == 2


def test_token_refreshed_before_it_expires(
    set_conn: ConnSetter, emu: CfwEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.add_iam_user(DOMAIN, "short-lived", PASSWORD, project_name=REGION, token_ttl=1.0)
    set_login(monkeypatch, set_conn(auth="password"), "short-lived")
    job_id = new_job(emu)
    CfwHook().get_job(job_id)
    time.sleep(1.0)
    CfwHook().get_job(job_id)
    assert emu.stats.tokens_issued == 2
    # Refreshed ahead of expiry: the gateway never had to refuse a stale token.
    assert emu.stats.count("cfw.job", 401) == 0


def test_static_token_auth(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    token = emu.issue_token(DOMAIN, USER, PROJECT)
    set_conn(auth_type="token", password=token)
    job_id = new_job(emu)
    assert CfwHook().get_job(job_id).status is CfwJobStatus.SUCCESS
    emu.revoke_tokens(token)
    with pytest.raises(CfwAuthError) as info:
        CfwHook().get_job(job_id)
    assert token not in str(info.value)
    assert emu.stats.tokens_issued == 0


async def test_static_token_auth_async(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    token = emu.issue_token(DOMAIN, USER, PROJECT)
    set_conn(auth_type="token", password=token)
    job_id = new_job(emu, "Running", "Success")
    hook = CfwHook()
    assert (await hook.aget_job(job_id)).status is CfwJobStatus.RUNNING
    assert (await hook.aget_job(job_id)).status is CfwJobStatus.SUCCESS
    assert [(e.route, e.auth, e.status) for e in emu.stats.log] == [("cfw.job", "token", 200)] * 2


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_token_mode_discovers_the_project(emu: CfwEmulator, set_conn: ConnSetter, mode: str) -> None:
    token = emu.issue_token(DOMAIN, USER, PROJECT)
    set_conn(auth_type="token", password=token, project_id="")
    job_id = new_job(emu)
    for _ in range(3):
        hook = CfwHook()
        job = hook.get_job(job_id) if mode == "sync" else asyncio.run(hook.aget_job(job_id))
        assert job.status is CfwJobStatus.SUCCESS
    # One lookup, GET /v3/projects?name=<region> with the token, then only job calls.
    assert [(e.route, e.auth, e.status) for e in emu.stats.log] == [("iam.projects", "token", 200)] + [
        ("cfw.job", "token", 200)
    ] * 3
    assert emu.stats.tokens_issued == 0


def test_token_mode_discovery_is_per_token(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    # Two tokens may belong to two accounts: one's project must not serve the other's calls.
    job_id = new_job(emu)
    for conn_id in ("cfw_token_a", "cfw_token_b"):
        set_conn(conn_id, auth_type="token", password=emu.issue_token(DOMAIN, USER, PROJECT), project_id="")
        assert CfwHook(conn_id).get_job(job_id).status is CfwJobStatus.SUCCESS
    assert emu.stats.count("iam.projects", 200) == 2


# ---- validation: nothing is sent ---------------------------------------------------------------------


@pytest.mark.parametrize("job_id", ["../../v3/projects", "a/b", "x?y=1", "", "a b", "j\x00"])
def test_bad_job_id_sends_nothing(emu: CfwEmulator, conn: dict, job_id: str) -> None:
    with pytest.raises(CfwConfigError, match="job_id"):
        CfwHook().get_job(job_id)
    with pytest.raises(CfwConfigError, match="job_id"):
        asyncio.run(CfwHook().aget_job(job_id))
    assert emu.stats.total_requests == 0


def test_bad_project_argument_sends_nothing(emu: CfwEmulator, conn: dict) -> None:
    with pytest.raises(CfwConfigError, match="project_id"):
        CfwHook().get_job(str(uuid.uuid4()), project_id="../x")
    assert emu.stats.total_requests == 0


def test_bad_connection_sends_nothing(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(auth_type="saml")
    with pytest.raises(CfwConfigError, match=r"connection 'cfw_default' extra\.auth_type"):
        CfwHook().get_job(str(uuid.uuid4()))
    assert emu.stats.total_requests == 0


def test_constructor_touches_nothing(emu: CfwEmulator) -> None:
    hook = CfwHook("no_such_connection", region="cn-north-4", max_retries=1)
    assert hook.cfw_conn_id == "no_such_connection"
    assert emu.stats.total_requests == 0


# ---- test_connection ------------------------------------------------------------------------------------


def test_test_connection_ok(emu: CfwEmulator, conn: dict) -> None:
    ok, message = CfwHook().test_connection()
    assert ok, message
    assert PROJECT in message


def test_test_connection_bad_secret(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(password="bad-secret-key")
    ok, message = CfwHook().test_connection()
    assert not ok
    assert "APIGW.0301" in message and "bad-secret-key" not in message


def test_test_connection_never_raises(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    set_conn(region="")
    set_conn(endpoint="", region="")
    ok, message = CfwHook().test_connection()
    assert not ok and "region" in message
    ok, message = CfwHook("missing_conn_id").test_connection()
    assert not ok


def test_ui_field_behaviour() -> None:
    behaviour = CfwHook.get_ui_field_behaviour()
    assert "host" in behaviour["hidden-fields"]
    assert behaviour["relabeling"]["login"].startswith("Access Key")


@pytest.mark.parametrize("job_id", ["abc\n", "abc\r\n", "abc\t"], ids=repr)
def test_job_id_with_a_trailing_blank_sends_nothing(emu: CfwEmulator, conn: dict, job_id: str) -> None:
    new_job(emu)
    with pytest.raises(CfwConfigError, match="job_id"):
        CfwHook().get_job(job_id)
    with pytest.raises(CfwConfigError, match="job_id"):
        asyncio.run(CfwHook().aget_job(job_id))
    with pytest.raises(CfwConfigError, match="project_id"):
        CfwHook().get_job("abc", project_id=PROJECT + "\n")
    assert len(emu.stats.log) == 0


async def test_aclient_never_looks_the_connection_up_on_the_loop(
    emu: CfwEmulator, conn: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.common.compat.sdk import Connection

    job_id = new_job(emu)
    loop_thread = threading.get_ident()
    sync_lookups: list[int] = []
    real = CfwHook.get_connection

    def get_connection(conn_id: str) -> Any:
        sync_lookups.append(threading.get_ident())
        if threading.get_ident() == loop_thread:
            raise AssertionError("the synchronous connection lookup ran on the event loop")
        return real(conn_id)

    monkeypatch.setattr(CfwHook, "get_connection", staticmethod(get_connection))
    assert (await CfwHook().aget_job(job_id)).status is CfwJobStatus.SUCCESS
    if hasattr(Connection, "aextra_dejson"):  # Airflow >= 3.3.2: the async lookup, no sync one at all
        assert sync_lookups == []
    else:  # older: the sync lookup, in a worker thread
        assert sync_lookups and loop_thread not in sync_lookups
