"""TLS settings against the emulator served over HTTPS with a throwaway CA."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_cfw.core.errors import CfwConfigError, CfwConnectionError
from airflow_provider_cfw.core.models import CfwJobStatus
from airflow_provider_cfw.hooks.cfw import CfwHook
from airflow_provider_cfw.testing import CfwEmulator
from benchmarks.tls import write_tls_files
from tests.conftest import AK, PROJECT, SK, ConnSetter
from tests.servers import CountingProxy


def _write_ca_and_cert(directory: Path) -> tuple[Path, Path, Path]:
    files = write_tls_files(directory)
    return files.ca, files.cert, files.key


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[CfwEmulator, Path]]:
    ca, cert, key = _write_ca_and_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with CfwEmulator(ssl_context=context) as emulator:
        emulator.add_aksk(AK, SK)
        yield emulator, ca


@pytest.fixture
def emu(tls: tuple[CfwEmulator, Path]) -> CfwEmulator:
    # set_conn points the connection at this fixture's emulator.
    return tls[0]


def test_ca_bundle_sync_and_async(tls: tuple[CfwEmulator, Path], set_conn: ConnSetter) -> None:
    emu, ca = tls
    assert emu.url.startswith("https://")
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Success"])
    set_conn(verify=str(ca))
    assert CfwHook().get_job(job_id).status is CfwJobStatus.SUCCESS
    assert asyncio.run(CfwHook().aget_job(job_id)).status is CfwJobStatus.SUCCESS


def test_untrusted_certificate_is_refused(tls: tuple[CfwEmulator, Path], set_conn: ConnSetter) -> None:
    emu, _ = tls
    set_conn()  # verify defaults to true: the system CAs do not know the test CA
    why = r"failed: TLS certificate verification failed \(unable to get local issuer certificate\)$"
    with pytest.raises(CfwConnectionError, match=why):
        CfwHook(max_retries=0).get_job(str(uuid.uuid4()))
    with pytest.raises(CfwConnectionError, match=why):
        asyncio.run(CfwHook(max_retries=0).aget_job(str(uuid.uuid4())))
    assert emu.stats.total_requests == 0


def test_https_through_a_proxy_tunnel(tls: tuple[CfwEmulator, Path], set_conn: ConnSetter) -> None:
    emu, ca = tls
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Success"])
    with CountingProxy() as proxy:
        set_conn(verify=str(ca), proxy=proxy.url)
        assert CfwHook().get_job(job_id).status is CfwJobStatus.SUCCESS
        assert asyncio.run(CfwHook().aget_job(job_id)).status is CfwJobStatus.SUCCESS
    host = emu.url.removeprefix("https://")
    assert [line.rsplit(" ", 1)[0] for line in proxy.requests] == [f"CONNECT {host}"] * 2


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false(tls: tuple[CfwEmulator, Path], set_conn: ConnSetter) -> None:
    emu, _ = tls
    job_id = str(uuid.uuid4())
    emu.add_job(PROJECT, job_id, ["Running"])
    set_conn(verify="false")
    assert CfwHook().get_job(job_id).status is CfwJobStatus.RUNNING
    assert asyncio.run(CfwHook().aget_job(job_id)).status is CfwJobStatus.RUNNING


def test_missing_ca_bundle(tls: tuple[CfwEmulator, Path], set_conn: ConnSetter, tmp_path: Path) -> None:
    set_conn(verify=str(tmp_path / "nope.pem"))
    with pytest.raises(CfwConfigError, match=r"extra\.verify"):
        CfwHook().get_job(str(uuid.uuid4()))
    with pytest.raises(CfwConfigError, match=r"extra\.verify"):
        asyncio.run(CfwHook().aget_job(str(uuid.uuid4())))
