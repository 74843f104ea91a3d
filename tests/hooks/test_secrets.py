"""No secret (SK, password, IAM token, security token) in logs, exception messages or reprs."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import redact

from airflow_provider_cfw.core.errors import CfwAuthError, CfwError
from airflow_provider_cfw.core.iam import TOKENS
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.testing import CfwEmulator
from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from tests.conftest import AK, PASSWORD, PROJECT, SECRETS, SK, USER, ConnSetter


async def test_secrets_scan_of_debug_logs_and_errors(
    emu: CfwEmulator, set_conn: ConnSetter, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Running", "Success"])
    emu.inject("cfw.job", "status", status=429, retry_after="0", count=1)
    emu.inject("iam.tokens", "status", status=500, count=1)
    messages: list[str] = []
    caplog.set_level(logging.DEBUG)

    set_conn(security_token="STS-SECRET-TOKEN-42")
    emu.add_aksk("QTWAOYTTINDUT2QVKYUC", "unused", security_token=None)
    hook = CfwHook()
    messages.append(repr(hook.settings))
    with pytest.raises(CfwError) as info:
        hook.get_job(job_id)  # the security token is unknown to the emulator: 401
    messages.append(str(info.value))

    set_conn(auth="password")
    hook = CfwHook()
    hook.get_job(job_id)
    await CfwHook().aget_job(job_id)
    emu.revoke_tokens()
    hook.get_job(job_id)
    tokens = [t.value for t in (TOKENS.get(i) for i in list(TOKENS._tokens)) if t is not None]
    assert tokens, "a token was cached"
    messages.append(repr(hook.settings))
    messages.append(repr(hook.client))

    set_conn(auth="password", password="Wrong-" + PASSWORD)
    with pytest.raises(CfwError) as info:
        CfwHook().get_job(job_id)
    messages.append(str(info.value))
    ok, message = CfwHook().test_connection()
    assert not ok
    messages.append(message)

    text = caplog.text + "\n".join(messages)
    for secret in (*SECRETS, "STS-SECRET-TOKEN-42", "Wrong-" + PASSWORD, *tokens):
        assert secret not in text
    # Derived secrets were handed to Airflow's masker.
    for token in tokens:
        assert redact(token) != token


# -- a credential in the wrong field, echoed back by the server ------------------------------------------


def chain_text(error: BaseException) -> str:
    """str and repr of the error and of everything it chains, and its text fields."""
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        parts += [str(current), repr(current), repr(vars(current))]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def everything_raised(hook_factory: Any, job_id: str) -> tuple[list[CfwError], str]:
    """The sync error, the async error, and the Test button's message, for one connection."""
    errors = []
    with pytest.raises(CfwError) as sync:
        hook_factory().get_job(job_id)
    errors.append(sync.value)
    with pytest.raises(CfwError) as not_sync:
        asyncio.run(hook_factory().aget_job(job_id))
    errors.append(not_sync.value)
    ok, message = hook_factory().test_connection()
    assert not ok
    return errors, message


async def trigger_event(job_id: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("project_id", PROJECT)
    trigger = CfwJobTrigger(job_id=job_id, poll_interval=0.01, **kwargs)
    (event,) = [event.payload async for event in trigger.run()]
    return event


def test_ak_and_sk_swapped_never_show_the_sk(
    emu: CfwEmulator, set_conn: ConnSetter, caplog: pytest.LogCaptureFixture
) -> None:
    # login holds the SK, password the AK: the gateway answers "ak <the SK> not exist".
    caplog.set_level(logging.DEBUG)
    set_conn(login=SK, password=AK)
    job_id = str(uuid.uuid4())
    errors, message = everything_raised(CfwHook, job_id)
    event = asyncio.run(trigger_event(job_id))
    texts = [chain_text(e) for e in errors] + [message, json.dumps(event), caplog.text]
    for text in texts[:4]:
        # The echo arrived, scrubbed: the test would see the SK if it were not.
        assert "Incorrect IAM authentication information: ak *** not exist" in text, text
    assert event["status"] == "error" and event["error_code"] == "APIGW.0301"
    for text in texts:
        assert SK not in text and AK not in text
    assert emu.stats.auth_failures.get("unknown_ak", 0) >= 4


def test_the_password_typed_into_the_login_field_never_shows(
    emu: CfwEmulator, set_conn: ConnSetter, caplog: pytest.LogCaptureFixture
) -> None:
    # Password auth, the password typed into login (the user name): IAM echoes the user name it was
    # sent, first in a 500 (retried, so logged), then in the final 401.
    typed = "Typed-Pa55word-9c41"
    caplog.set_level(logging.DEBUG)
    set_conn(auth="password", login=typed, project_id="")
    job_id = str(uuid.uuid4())
    echo = f"The user {typed} does not exist in domain acme."
    for _ in range(3):  # sync, async, Test button
        emu.inject("iam.tokens", "status", status=500, error_msg=echo)
        emu.inject("iam.tokens", "status", status=401, error_code="IAM.0004", error_msg=echo)
    errors, message = everything_raised(CfwHook, job_id)
    emu.inject("iam.tokens", "status", status=500, error_msg=echo)
    emu.inject("iam.tokens", "status", status=401, error_code="IAM.0004", error_msg=echo)
    event = asyncio.run(trigger_event(job_id, project_id=None))
    texts = [chain_text(e) for e in errors] + [message, json.dumps(event)]
    for text in texts:
        assert "The user *** does not exist in domain acme." in text, text
    assert caplog.text.count("CFW call failed (HTTP 500: The user *** does not exist") == 4
    for text in (*texts, caplog.text):
        assert typed not in text
    assert emu.stats.count("iam.tokens", 500) == 4 and emu.stats.count("iam.tokens", 401) == 4
    # Airflow's own masker has the value too, for whatever else may log it.
    assert redact(typed) != typed


def test_a_chained_cause_is_scrubbed_too(emu: CfwEmulator, set_conn: ConnSetter) -> None:
    # Password auth: a 401 from CFW fetches a new token and tries once more; the second 401 is raised
    # with the first as its context. Both echo the login (the IAM user's name, long enough to count).
    set_conn(auth="password")
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Running"])
    CfwHook().get_job(job_id)  # a token in the cache
    echo = f"user {USER} may not read jobs"
    for mode in ("sync", "async"):
        emu.inject("cfw.job", "status", status=401, error_code="APIGW.0301", error_msg=echo, count=2)
        with pytest.raises(CfwAuthError) as info:
            if mode == "sync":
                CfwHook().get_job(job_id)
            else:
                asyncio.run(CfwHook().aget_job(job_id))
        assert isinstance(info.value.__context__, CfwAuthError), mode
        text = chain_text(info.value)
        assert text.count("user *** may not read jobs") >= 4 and USER not in text, text


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_login_is_given_to_airflows_masker_on_either_path(set_conn: ConnSetter, mode: str) -> None:
    # Airflow masks the password field and the extras, never the login: the hook hands it over (once
    # per process), whichever path looks the connection up first.
    login = f"SK-typed-as-login-{uuid.uuid4().hex}"
    set_conn(login=login)
    if mode == "sync":
        CfwHook().client  # noqa: B018 - the lookup is the point
    else:
        asyncio.run(CfwHook().aclient())
    assert redact(login) != login


def test_an_iam_token_fetched_first_on_the_event_loop_is_masked(
    emu: CfwEmulator, set_conn: ConnSetter
) -> None:
    # A triggerer only ever calls asynchronously: the token it fetches must reach the masker from there
    # (a user of its own, so that no earlier sync call has fetched, and masked, this identity's token).
    user = f"async-only-{uuid.uuid4().hex[:8]}"
    emu.add_iam_user("acme", user, PASSWORD, project_name="cn-north-4")
    set_conn(auth="password", login=user)
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Running"])
    before = set(TOKENS._tokens)
    assert asyncio.run(CfwHook().aget_job(job_id)).status == "Running"
    (identity,) = set(TOKENS._tokens) - before
    token = TOKENS.get(identity)
    assert token is not None and emu.stats.tokens_issued == 1
    assert redact(token.value) != token.value
