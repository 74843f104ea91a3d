"""No secret (SK, password, IAM token, security token) in logs, exception messages or reprs."""

from __future__ import annotations

import logging
import uuid

import pytest
from airflow.providers.common.compat.sdk import redact

from airflow_provider_cfw.core.errors import CfwError
from airflow_provider_cfw.core.iam import TOKENS
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.testing import CfwEmulator
from tests.conftest import PASSWORD, PROJECT, SECRETS, ConnSetter


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
