"""The gateway's checks: every way an AK/SK signature or an IAM token is refused, and what passes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import requests

from airflow_provider_cfw.core.signing import AkSkCredentials
from airflow_provider_cfw.testing import CfwEmulator

from .conftest import (
    AK,
    CREDS,
    DOMAIN,
    OTHER_PROJECT,
    PROJECT,
    SECURITY_TOKEN,
    SK,
    TEMP_AK,
    TEMP_CREDS,
    TEMP_SK,
    USER,
    Sent,
    get_token,
    job_url,
    signed,
    token_body,
    utcnow,
)

PREFIX = "Incorrect IAM authentication information: "


def assert_refused(response: requests.Response, emu: CfwEmulator, reason: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error_code"] == "APIGW.0301"
    assert body["error_msg"].startswith(PREFIX)
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert emu.stats.log[-1].auth_failure == reason


def test_signed_request_is_accepted(emu: CfwEmulator) -> None:
    response = signed(job_url(emu)).send()
    assert response.status_code == 200
    assert emu.stats.log[-1].auth == "aksk"


def test_temporary_credentials_with_security_token_are_accepted(emu: CfwEmulator) -> None:
    response = signed(job_url(emu), creds=TEMP_CREDS).send()
    assert response.status_code == 200, response.text


def _with_header(sent: Sent, name: str, value: str | None) -> Sent:
    headers = {k: v for k, v in sent.headers.items() if k.lower() != name.lower()}
    if value is not None:
        headers[name] = value
    return Sent(sent.method, sent.url, headers, sent.body)


def _url(sent: Sent, url: str) -> Sent:
    return Sent(sent.method, url, sent.headers, sent.body)


Mutation = Callable[[CfwEmulator], tuple[Sent, str]]

CASES: dict[str, Mutation] = {
    "unknown AK": lambda emu: (
        signed(job_url(emu), creds=AkSkCredentials("NOSUCHAK000000000000", SK)),
        "unknown_ak",
    ),
    "wrong SK": lambda emu: (signed(job_url(emu), creds=AkSkCredentials(AK, SK + "x")), "bad_signature"),
    "tampered signed header": lambda emu: (
        _with_header(signed(job_url(emu)), "User-Agent", "emulator-tests/1.1"),
        "bad_signature",
    ),
    "tampered path": lambda emu: (
        _url(signed(job_url(emu)), job_url(emu).replace("f588", "f589")),
        "bad_signature",
    ),
    "tampered query": lambda emu: (
        _url(signed(job_url(emu) + "?a=1"), job_url(emu) + "?a=2"),
        "bad_signature",
    ),
    "tampered body": lambda emu: (
        Sent("GET", *(lambda s: (s.url, s.headers))(signed(job_url(emu), body=b'{"a":1}')), b'{"a":2}'),
        "bad_signature",
    ),
    "missing X-Project-Id": lambda emu: (signed(job_url(emu), project_id=None), "missing_project_id"),
    "mismatched X-Project-Id": lambda emu: (
        signed(job_url(emu), project_id=OTHER_PROJECT),
        "project_id_mismatch",
    ),
    "unsigned X-Project-Id": lambda emu: (
        _with_header(signed(job_url(emu), project_id=None), "X-Project-Id", PROJECT),
        "missing_project_id",
    ),
    "unknown project": lambda emu: (
        signed(
            job_url(emu, "cccccccccccccccccccccccccccccccc"), project_id="cccccccccccccccccccccccccccccccc"
        ),
        "unknown_project",
    ),
    "stale X-Sdk-Date (past)": lambda emu: (
        signed(job_url(emu), now=utcnow() - timedelta(minutes=16)),
        "stale_date",
    ),
    "stale X-Sdk-Date (future)": lambda emu: (
        signed(job_url(emu), now=utcnow() + timedelta(minutes=16)),
        "stale_date",
    ),
    "missing X-Sdk-Date": lambda emu: (
        _with_header(signed(job_url(emu)), "X-Sdk-Date", None),
        "missing_date",
    ),
    "garbled X-Sdk-Date": lambda emu: (
        _with_header(signed(job_url(emu)), "X-Sdk-Date", "yesterday"),
        "bad_date",
    ),
    "missing X-Security-Token": lambda emu: (
        signed(job_url(emu), creds=AkSkCredentials(TEMP_AK, TEMP_SK)),
        "missing_security_token",
    ),
    "wrong X-Security-Token": lambda emu: (
        signed(job_url(emu), creds=AkSkCredentials(TEMP_AK, TEMP_SK, "FAKE-other-token")),
        "bad_security_token",
    ),
    "security token for a permanent AK": lambda emu: (
        signed(job_url(emu), creds=AkSkCredentials(AK, SK, SECURITY_TOKEN)),
        "bad_security_token",
    ),
    "other algorithm": lambda emu: (
        _with_header(
            signed(job_url(emu)), "Authorization", "SDK-HMAC-SM3 Access=x, SignedHeaders=host, Signature=0"
        ),
        "unsupported_algorithm",
    ),
    "malformed Authorization": lambda emu: (
        _with_header(signed(job_url(emu)), "Authorization", "SDK-HMAC-SHA256 Access=" + AK),
        "malformed_authorization",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_aksk_refusals(emu: CfwEmulator, case: str) -> None:
    sent, reason = CASES[case](emu)
    response = sent.send()
    assert_refused(response, emu, reason)
    stats = emu.stats
    assert stats.signature_failures == 1
    assert stats.auth_failures == {reason: 1}


def test_tampering_an_unsigned_header_is_harmless(emu: CfwEmulator) -> None:
    response = _with_header(signed(job_url(emu)), "X-Unsigned_Header", "anything").send()
    assert response.status_code == 200


def test_sdk_date_within_15_minutes_is_accepted(emu: CfwEmulator) -> None:
    assert signed(job_url(emu), now=utcnow() - timedelta(minutes=14)).send().status_code == 200
    assert signed(job_url(emu), now=utcnow() + timedelta(minutes=14)).send().status_code == 200


def test_emulator_clock_offset_makes_a_fresh_date_stale(emu: CfwEmulator) -> None:
    emu.set_clock_offset(16 * 60)
    assert_refused(signed(job_url(emu)).send(), emu, "stale_date")


def test_expired_temporary_credentials(emu: CfwEmulator) -> None:
    emu.add_aksk(TEMP_AK, TEMP_SK, SECURITY_TOKEN, expires_at=emu.now() - 1)
    assert_refused(signed(job_url(emu), creds=TEMP_CREDS).send(), emu, "expired_ak")


def test_ak_locks_after_five_consecutive_failures() -> None:
    with CfwEmulator(lockout_threshold=5, lockout_seconds=300) as emu:
        emu.add_aksk(AK, SK)
        emu.add_project(PROJECT)
        emu.add_job(PROJECT, "j", ["Success"])
        url = job_url(emu, job="j")
        bad = AkSkCredentials(AK, "wrong")
        assert signed(url, creds=bad).send().status_code == 401
        assert signed(url).send().status_code == 200  # a success resets the count
        for _ in range(5):
            assert_refused(signed(url, creds=bad).send(), emu, "bad_signature")
        assert_refused(signed(url).send(), emu, "ak_locked")  # even the right SK, now
        emu.advance_clock(301)
        # The clock moved 5 min past the client's: sign with the emulator's time.
        assert signed(url, now=datetime.fromtimestamp(emu.now(), UTC)).send().status_code == 200


def test_lockout_can_be_disabled() -> None:
    with CfwEmulator(lockout_threshold=None) as emu:
        emu.add_aksk(AK, SK)
        emu.add_job(PROJECT, "j", ["Success"])
        for _ in range(8):
            assert signed(job_url(emu, job="j"), creds=AkSkCredentials(AK, "no")).send().status_code == 401
        assert signed(job_url(emu, job="j")).send().status_code == 200


def test_no_credentials_at_all(emu: CfwEmulator) -> None:
    response = requests.get(job_url(emu), timeout=10)
    assert_refused(response, emu, "missing_credentials")
    assert response.json()["error_msg"] == PREFIX + "x-auth-token not found"
    assert emu.stats.signature_failures == 0


def _token_call(emu: CfwEmulator, token: str, project: str = PROJECT) -> requests.Response:
    return requests.get(job_url(emu, project), headers={"X-Auth-Token": token}, timeout=10)


def test_valid_token_is_accepted(emu: CfwEmulator) -> None:
    assert _token_call(emu, get_token(emu)).status_code == 200
    assert emu.stats.log[-1].auth == "token"


def test_bad_token(emu: CfwEmulator) -> None:
    assert_refused(_token_call(emu, "MIIEnotatoken"), emu, "invalid_token")


def test_expired_token(emu: CfwEmulator) -> None:
    token = get_token(emu)
    emu.advance_clock(86400 + 1)
    assert_refused(_token_call(emu, token), emu, "expired_token")


def test_short_lived_tokens() -> None:
    with CfwEmulator(token_ttl=2.0) as emu:
        emu.add_iam_user(DOMAIN, USER, "pw")
        emu.add_job(PROJECT, "j", ["Running"])
        response = requests.post(
            f"{emu.url}/v3/auth/tokens", json=token_body(password="pw", project_id=PROJECT), timeout=10
        )
        token = response.headers["X-Subject-Token"]
        assert _token_call(emu, token).status_code == 400  # authenticated; no such job JOB
        emu.advance_clock(2.0)
        assert_refused(_token_call(emu, token), emu, "expired_token")


def test_revoked_tokens(emu: CfwEmulator) -> None:
    first, second = get_token(emu), get_token(emu)
    assert emu.revoke_tokens(first) == 1
    assert_refused(_token_call(emu, first), emu, "revoked_token")
    assert _token_call(emu, second).status_code == 200
    assert emu.revoke_tokens(user_name=USER, domain_name=DOMAIN) == 1
    assert_refused(_token_call(emu, second), emu, "revoked_token")
    assert _token_call(emu, get_token(emu)).status_code == 200  # a new token works
    assert emu.revoke_tokens() == 1


def test_token_for_another_project(emu: CfwEmulator) -> None:
    token = get_token(emu, project_name=None, project_id=OTHER_PROJECT)
    assert_refused(_token_call(emu, token), emu, "token_project_mismatch")


def test_auth_failures_do_not_advance_the_job(emu: CfwEmulator) -> None:
    signed(job_url(emu), creds=CREDS, project_id=OTHER_PROJECT).send()
    assert signed(job_url(emu)).send().json()["data"]["status"] == "Running"
