"""The URI form of ``AIRFLOW_CONN_*`` as the README and docs/connection.md write it, parsed by Airflow
itself (2.11 and 3), drives real calls against the emulator with an SK that needs percent-encoding."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_cfw.core.errors import CfwConfigError
from airflow_provider_cfw.hooks.cfw import CfwHook
from tests.conftest import AK, PROJECT, REGION

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = re.compile(r"AIRFLOW_CONN_CFW_DEFAULT='(huaweicloud-cfw://[^']+)'")
# An SK with every character that means something in a URI: '/' ends the host part, '+' and '%' are
# decoded, '=' and '&' split the query.
SK = "Vz/Qm+9kL=pR%2Fx7&tY0aB1cD2eF3gH4iJ5kL6mN"


def documented_uris() -> list[tuple[str, str]]:
    found = []
    for name in ("README.md", "docs/connection.md"):
        uris = DOCUMENTED.findall((ROOT / name).read_text(encoding="utf-8"))
        assert len(uris) == 1, f"{name}: one AIRFLOW_CONN_CFW_DEFAULT example in the URI form"
        found.append((name, uris[0]))
    return found


def filled(uri: str, emu: Any) -> str:
    """The documented example with its placeholders filled in, pointed at the emulator."""
    for placeholder, value in {
        "<AK>": quote(AK, safe=""),
        "<SK, percent-encoded>": quote(SK, safe=""),
        "<32 hex>": PROJECT,
    }.items():
        uri = uri.replace(placeholder, value)
    assert "<" not in uri, f"a placeholder the test does not know: {uri}"
    endpoint = quote(emu.url, safe="")
    return f"{uri}&endpoint={endpoint}&iam_endpoint={endpoint}&max_retries=0"


@pytest.fixture
def uri_emu(emu: Any) -> Any:
    emu.add_aksk(AK, SK)  # replaces the conftest SK: only the percent-decoded SK signs right
    return emu


@pytest.mark.parametrize(("doc", "uri"), documented_uris(), ids=["README", "connection.md"])
def test_documented_uri_drives_a_signed_call(
    doc: str, uri: str, uri_emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CFW_URI", filled(uri, uri_emu))
    job_id = "f588ce71-e26c-400d-8981-f854355f6849"
    uri_emu.add_job(PROJECT, job_id, statuses=["Success"])
    hook = CfwHook("cfw_uri")
    assert hook.get_job(job_id).status.value == "Success"
    assert hook.settings.region == REGION and hook.settings.max_retries == 0
    assert uri_emu.stats.count("cfw.job", 200) == 1
    assert uri_emu.stats.count("cfw.job", 401) == 0


async def test_uri_connection_on_the_async_path(uri_emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The triggerer looks the connection up asynchronously: the same URI must parse the same way.
    (_doc, uri), _ = documented_uris()
    monkeypatch.setenv("AIRFLOW_CONN_CFW_URI", filled(uri, uri_emu))
    job_id = "0f6b7a2e-52a4-4d0c-9a53-7b1c2f9e3d11"
    uri_emu.add_job(PROJECT, job_id, statuses=["Running"])
    hook = CfwHook("cfw_uri")
    async with hook.async_session():
        assert (await hook.aget_job(job_id)).status.value == "Running"
    assert uri_emu.stats.count("cfw.job", 200) == 1


def test_underscore_scheme_is_named_as_the_cause(uri_emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Airflow does not read "huaweicloud_cfw://" as a scheme at all: no type, no login. The error says
    # so, on both paths and in the Test button's answer, before any request, without the SK it swallowed.
    sk = quote(SK, safe="")
    monkeypatch.setenv("AIRFLOW_CONN_CFW_URI", f"huaweicloud_cfw://{AK}:{sk}@/?region={REGION}")
    job_id = "f588ce71-e26c-400d-8981-f854355f6849"
    with pytest.raises(CfwConfigError) as sync:
        CfwHook("cfw_uri").get_job(job_id)
    with pytest.raises(CfwConfigError) as not_sync:
        asyncio.run(CfwHook("cfw_uri").aget_job(job_id))
    ok, message = CfwHook("cfw_uri").test_connection()
    assert not ok
    for text in (str(sync.value), str(not_sync.value), message):
        assert "connection 'cfw_uri' URI scheme: expected 'huaweicloud-cfw://' spelled with a hyphen" in text
        assert "login" in text
        assert SK not in text and sk not in text and AK not in text
    assert sync.value.field == "connection 'cfw_uri' URI scheme"
    assert uri_emu.stats.total_requests == 0


def troubleshooting_entry() -> str:
    page = (ROOT / "docs/troubleshooting.md").read_text(encoding="utf-8")
    start = page.index("### The conn_id `cfw_default` isn't defined")
    return page[start : page.index("\n## ", start)]


def test_unencoded_slash_gives_the_message_troubleshooting_explains(
    uri_emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An SK with a raw '/': Airflow cannot parse the URI and reports the connection as not defined.
    monkeypatch.setenv("AIRFLOW_CONN_CFW_DEFAULT", f"huaweicloud-cfw://{AK}:{SK}@/?region={REGION}")
    with pytest.raises(Exception, match=r"The conn_id `cfw_default` isn't defined") as info:
        CfwHook().get_job("f588ce71-e26c-400d-8981-f854355f6849")
    # What a user searches troubleshooting.md for is the message they got.
    assert "The conn_id `cfw_default` isn't defined" in str(info.value)
    assert "isn't defined" in troubleshooting_entry()
    assert uri_emu.stats.total_requests == 0


def test_troubleshootings_fix_for_isnt_defined_works(uri_emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The entry's command, run as written on the SK, gives the encoded value; the URI with it works.
    entry = troubleshooting_entry()
    command = re.search(r"```bash\n(python3 -c .+)\n```", entry)
    assert command, "troubleshooting.md: the percent-encoding command"
    encoded = subprocess.run(
        ["bash", "-c", command.group(1)], env={**os.environ, "SK": SK}, capture_output=True, text=True,
        check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    assert encoded == quote(SK, safe="") and "/" not in encoded
    endpoint = quote(uri_emu.url, safe="")
    monkeypatch.setenv(
        "AIRFLOW_CONN_CFW_DEFAULT",
        f"huaweicloud-cfw://{AK}:{encoded}@/?region={REGION}&project_id={PROJECT}"
        f"&endpoint={endpoint}&iam_endpoint={endpoint}",
    )
    job_id = "f588ce71-e26c-400d-8981-f854355f6849"
    uri_emu.add_job(PROJECT, job_id, statuses=["Success"])
    assert CfwHook().get_job(job_id).status.value == "Success"
    assert asyncio.run(CfwHook().aget_job(job_id)).status.value == "Success"
    assert uri_emu.stats.count("cfw.job", 200) == 2 and uri_emu.stats.count("cfw.job", 401) == 0
