"""Waits that start together share one connection lookup; an edit reaches new waits within the TTL, and
an ``AIRFLOW_CONN_*`` variable's change at once. Lookups are counted where the hook asks Airflow."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import airflow_provider_cfw.hooks.cfw as hook_module
from airflow_provider_cfw.core.models import CfwJobStatus
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.hooks.connection_cache import (
    ASYNC_CONNECTIONS,
    AsyncConnectionCache,
    ConnectionFields,
)
from airflow_provider_cfw.testing import CfwEmulator
from tests.conftest import PROJECT, SK, ConnSetter

N_HOOKS = 200


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every connection id the hook asked Airflow for (the real lookup still runs)."""
    asked: list[str] = []
    real = hook_module.get_async_connection

    async def counting(conn_id: str, **kwargs: Any) -> Any:
        asked.append(conn_id)
        return await real(conn_id, **kwargs)

    monkeypatch.setattr(hook_module, "get_async_connection", counting)
    return asked


@pytest.mark.parametrize("first_alone", [True, False], ids=["one-first", "all-at-once"])
async def test_hooks_starting_together_share_one_lookup(
    emu: CfwEmulator, set_conn: ConnSetter, lookups: list[str], first_alone: bool
) -> None:
    set_conn()
    job_id = f"shared-lookup-{first_alone}"
    emu.add_job(PROJECT, job_id, statuses=["Success"] * N_HOOKS)
    if first_alone:
        await CfwHook().aclient()  # the first wait looks it up, the rest find the answer ...
    # ... or, as at a triggerer's start, all miss the cold cache at once and share the lookup in flight.
    jobs = await asyncio.gather(*(CfwHook().aget_job(job_id) for _ in range(N_HOOKS)))
    assert {job.status for job in jobs} == {CfwJobStatus.SUCCESS}
    assert lookups == ["cfw_default"]
    assert emu.stats.count("cfw.job", 200) == N_HOOKS


async def test_a_failed_lookup_fails_its_sharers_and_is_not_kept() -> None:
    cache = AsyncConnectionCache()
    calls: list[int] = []
    release = asyncio.Event()

    async def failing() -> ConnectionFields:
        calls.append(1)
        await release.wait()
        raise LookupError("The conn_id `not_in_env` isn't defined")

    waiters = [asyncio.ensure_future(cache.get("not_in_env", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert [type(r) for r in results] == [LookupError] * 3
    assert calls == [1]

    async def found() -> ConnectionFields:
        return ConnectionFields("a", SK, {})

    assert (await cache.get("not_in_env", found)).login == "a"


async def test_a_cancelled_wait_does_not_cancel_the_shared_lookup() -> None:
    cache = AsyncConnectionCache()
    release = asyncio.Event()

    async def slow() -> ConnectionFields:
        await release.wait()
        return ConnectionFields("a", SK, {})

    first = asyncio.ensure_future(cache.get("not_in_env", slow))
    second = asyncio.ensure_future(cache.get("not_in_env", slow))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    release.set()
    assert (await second).login == "a"
    assert first.cancelled()


async def test_waits_on_one_lookup_share_its_validated_settings(
    set_conn: ConnSetter, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn()
    built: list[str] = []
    real = CfwHook._settings

    def counting(self: CfwHook, *args: Any) -> Any:
        built.append(self.cfw_conn_id)
        return real(self, *args)

    monkeypatch.setattr(CfwHook, "_settings", counting)
    clients = [await CfwHook().aclient() for _ in range(N_HOOKS)]
    assert len({id(client.settings) for client in clients}) == 1
    assert len({id(client) for client in clients}) == N_HOOKS  # each hook keeps its own client
    assert built == ["cfw_default"]
    # Other overrides are other settings, from the same lookup.
    assert (await CfwHook(region="cn-north-1").aclient()).settings.region == "cn-north-1"
    assert len(built) == 2
    set_conn(max_retries=1)  # a new lookup: validated afresh
    assert (await CfwHook().aclient()).settings.max_retries == 1
    assert len(built) == 3


async def test_a_changed_environment_connection_is_used_at_once(
    emu: CfwEmulator, set_conn: ConnSetter, lookups: list[str]
) -> None:
    set_conn()
    assert (await CfwHook().aclient()).settings.max_retries == 3
    set_conn(max_retries=1)  # the same connection id, redefined
    assert (await CfwHook().aclient()).settings.max_retries == 1
    assert lookups == ["cfw_default", "cfw_default"]


async def test_an_answer_is_reused_for_the_ttl_only() -> None:
    now = [1000.0]
    cache = AsyncConnectionCache(ttl=30, clock=lambda: now[0])
    answers = iter([ConnectionFields("a", SK, {}), ConnectionFields("b", SK, {})])

    async def lookup() -> ConnectionFields:
        return next(answers)

    assert (await cache.get("not_in_env", lookup)).login == "a"
    now[0] += 29
    assert (await cache.get("not_in_env", lookup)).login == "a"
    now[0] += 2
    assert (await cache.get("not_in_env", lookup)).login == "b"


def test_no_secret_in_the_cached_fields_repr() -> None:
    fields = ConnectionFields("AK", SK, {"security_token": "tok-secret"})
    assert SK not in repr(fields) and "tok-secret" not in repr(fields)
    assert SK not in json.dumps(repr(ASYNC_CONNECTIONS.__dict__))
