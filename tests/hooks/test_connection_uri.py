"""The URI form of ``AIRFLOW_CONN_*`` as the README and docs/connection.md write it, parsed by Airflow
itself (2.11 and 3), drives real calls against the emulator with an SK that needs percent-encoding."""

from __future__ import annotations

import re
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


def test_underscore_scheme_is_not_the_connection_type(uri_emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the docs warn about: Airflow does not read "huaweicloud_cfw://" as a scheme at all.
    monkeypatch.setenv("AIRFLOW_CONN_CFW_URI", f"huaweicloud_cfw://{AK}:x@/?region={REGION}")
    with pytest.raises(CfwConfigError, match="login"):
        CfwHook("cfw_uri").get_job("f588ce71-e26c-400d-8981-f854355f6849")
    assert uri_emu.stats.total_requests == 0
