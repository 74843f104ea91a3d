"""The signer against the spec's vectors A-C and, on generated requests, the official SDK's signer."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import random
import string
from datetime import UTC, datetime

import pytest

from airflow_provider_cfw.core.http import HttpRequest, encode_query, rfc3986_encode
from airflow_provider_cfw.core.signing import (
    AkSkCredentials,
    canonical_query,
    canonical_request,
    parse_authorization,
    request_signer,
    sign_request,
    signable_header_names,
    string_to_sign,
    verify_request,
)

AK = "AKIDEXAMPLE0000000000"
SK = "SKEXAMPLEsecretKey0123456789abcdefghijkl"
PROJECT = "0123456789abcdef0123456789abcdef"
HOST = "cfw.cn-north-4.myhuaweicloud.com"
DATE = "20240101T000000Z"
JOB_PATH = f"/v3/{PROJECT}/jobs/11111111-2222-3333-4444-555555555555"


def _vector_a(**extra_headers: str) -> HttpRequest:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "huaweicloud-usdk-python/3.0",
        "X-Sdk-Date": DATE,
    }
    headers.update(extra_headers)
    return HttpRequest("GET", f"https://{HOST}{JOB_PATH}", headers)


def _job_request() -> HttpRequest:
    return HttpRequest("GET", f"https://{HOST}{JOB_PATH}", {"Content-Type": "application/json"})


def test_vector_a() -> None:
    signed = sign_request(_vector_a(), AkSkCredentials(AK, SK), project_id=PROJECT)
    names = parse_authorization(signed.headers["Authorization"]).signed_headers
    to_sign = string_to_sign(canonical_request(signed, names), DATE)
    # The spec's "string-to-sign hash": the canonical request's digest, the last line of the string to sign.
    assert (
        to_sign
        == "SDK-HMAC-SHA256\n20240101T000000Z\n39cfb5dc5c174c4cb3f098ffb538928f27c0a8dbac71c060fa2daeb4381d4ae3"
    )
    assert signed.headers["Authorization"] == (
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date, "
        "Signature=ac80dbd9244960b76fad2db1ed67471c7001cf4f7d3b1dc3852d065ea5ed8031"
    )


def test_the_same_request_signed_again_later_carries_the_new_time() -> None:
    # A trigger signs one request on every poll with one signer: what it works out once must leave the date
    # to each signing.
    request = _job_request()
    credentials = AkSkCredentials(AK, SK, "FAKE-SECURITY-TOKEN")
    signer = request_signer(request, credentials, project_id=PROJECT)
    first = signer.sign(datetime(2024, 1, 1, tzinfo=UTC))
    later = signer.sign(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert (
        first.headers
        == sign_request(
            request, credentials, project_id=PROJECT, now=datetime(2024, 1, 1, tzinfo=UTC)
        ).headers
    )
    assert first.headers["X-Sdk-Date"] == "20240101T000000Z"
    assert later.headers["X-Sdk-Date"] == "20240102T030405Z"
    assert first.headers["Authorization"] != later.headers["Authorization"]
    for signed in (first, later):
        parsed = parse_authorization(signed.headers["Authorization"])
        assert verify_request(signed, parsed, SK)
        # The signature of the canonical request built afresh from what is sent, not from the cache.
        expected = hmac.new(
            SK.encode(),
            string_to_sign(
                canonical_request(signed, parsed.signed_headers), signed.headers["X-Sdk-Date"]
            ).encode(),
            hashlib.sha256,
        ).hexdigest()
        assert parsed.signature == expected
    assert request.headers == {"Content-Type": "application/json"}  # not modified
    # A signer lives as long as a wait: nothing secret in its repr (the canonical request and the headers
    # hold the security token).
    assert SK not in repr(signer) and "FAKE-SECURITY-TOKEN" not in repr(signer)


def test_an_sk_is_keyed_once_however_many_requests_it_signs(monkeypatch: pytest.MonkeyPatch) -> None:
    # A trigger signs on every poll: the SK's HMAC is set up once and copied, not set up for each request.
    keyed: list[bytes] = []
    real_new = hmac.new

    def counting_new(key: bytes, *args: object, **kwargs: object) -> hmac.HMAC:
        keyed.append(key)
        return real_new(key, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hmac, "new", counting_new)
    sk, other_sk = f"{SK}-{random.random()}", f"{SK}-other-{random.random()}"
    for second in range(20):
        now = datetime(2024, 1, 1, 0, 0, second, tzinfo=UTC)
        for key in (sk, other_sk):
            signed = sign_request(_job_request(), AkSkCredentials(AK, key), project_id=PROJECT, now=now)
            parsed = parse_authorization(signed.headers["Authorization"])
            assert verify_request(signed, parsed, key)
            assert not verify_request(signed, parsed, other_sk if key == sk else sk)
    assert sorted(keyed) == sorted([sk.encode(), other_sk.encode()])


def test_vector_b() -> None:
    query = encode_query({"enterprise_project_id": "0", "a b": "x/y~z"})
    assert query == "a%20b=x%2Fy~z&enterprise_project_id=0"
    body = b'{"offset": 0, "limit": 10}'
    assert (
        hashlib.sha256(body).hexdigest() == "57f4b10664c7a4641404100e0054e700d157fc43a78535f989635acc7d213095"
    )
    request = HttpRequest(
        "POST",
        f"https://{HOST}/v1/{PROJECT}/firewalls/list?{query}",
        {"Content-Type": "application/json", "X-Sdk-Date": DATE},
        body,
    )
    signed = sign_request(request, AkSkCredentials(AK, SK), project_id=PROJECT)
    assert signed.headers["Authorization"].endswith(
        "SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        "Signature=75b720af2a8f91590e1249788b6752de4e60a1405044314fbcd3d14cf23668b0"
    )


def test_vector_c_security_token() -> None:
    signed = sign_request(_vector_a(), AkSkCredentials(AK, SK, "FAKE-SECURITY-TOKEN"), project_id=PROJECT)
    assert signed.headers["X-Security-Token"] == "FAKE-SECURITY-TOKEN"
    assert signed.headers["Authorization"].endswith(
        "SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date;x-security-token, "
        "Signature=e385c146ab3b21bec08b8b2a28cfd2099c82f47ba8a3da2ae1c89626b8909478"
    )


def test_non_json_content_type_is_unsigned_payload() -> None:
    request = HttpRequest(
        "PUT", f"https://{HOST}/x", {"Content-Type": "text/plain", "X-Sdk-Date": DATE}, b"abc"
    )
    signed = sign_request(request, AkSkCredentials(AK, SK))
    assert signed.headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert canonical_request(signed, signable_header_names(signed)).endswith("\nUNSIGNED-PAYLOAD")
    empty = sign_request(HttpRequest("PUT", request.url, request.headers), AkSkCredentials(AK, SK))
    # The SDK hashes an empty body as empty even when the payload is marked unsigned.
    assert canonical_request(empty, signable_header_names(empty)).endswith(hashlib.sha256(b"").hexdigest())


def test_headers_with_underscore_are_not_signed() -> None:
    signed = sign_request(_vector_a(X_Custom="1"), AkSkCredentials(AK, SK), project_id=PROJECT)
    assert "x_custom" not in parse_authorization(signed.headers["Authorization"]).signed_headers


def test_verify_round_trip_and_tamper() -> None:
    signed = sign_request(_vector_a(), AkSkCredentials(AK, SK), project_id=PROJECT)
    parsed = parse_authorization(signed.headers["Authorization"])
    assert verify_request(signed, parsed, SK)
    assert not verify_request(signed, parsed, SK + "x")
    tampered = HttpRequest(signed.method, signed.url.replace("5555", "5556"), signed.headers)
    assert not verify_request(tampered, parsed, SK)


def test_canonical_query_decodes_and_sorts() -> None:
    assert canonical_query("b=2&a=x%2Fy&a=%20") == "a=%20&a=x%2Fy&b=2"


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("Job-1_a.b~c", "Job-1_a.b~c"),  # unreserved: as it is
        ("", ""),
        ("a b/c", "a%20b%2Fc"),
        ("x+y*z", "x%2By%2Az"),
        ("caf\u00e9", "caf%C3%A9"),  # a letter, but not an ASCII one
        ("\u0663", "%D9%A3"),  # a digit, but not an ASCII one
        ("id\n", "id%0A"),  # a regex's $ would let a final newline through
    ],
)
def test_rfc3986_encode_leaves_only_unreserved_characters(value: str, encoded: str) -> None:
    assert rfc3986_encode(value) == encoded


# ---- cross-check against huaweicloudsdkcore's signer (test-only dependency) --------------------

_SEGMENT_CHARS = string.ascii_letters + string.digits + "-_.~ @:+!$'()*,;=&%"


def _random_requests(count: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        segments = ["".join(rng.choice(_SEGMENT_CHARS) for _ in range(rng.randint(1, 12))) for _ in range(3)]
        query = [
            (
                "".join(rng.choice(string.ascii_lowercase + " _") for _ in range(rng.randint(1, 6))),
                str(rng.random()),
            )
            for _ in range(rng.randint(0, 3))
        ]
        headers = {
            "Content-Type": rng.choice(["application/json", "application/json;charset=UTF-8", "text/plain"])
        }
        if rng.random() < 0.5:
            headers["X-Custom-Header"] = f"  value {rng.randint(0, 9)}  "
        body = rng.choice(
            [b"", b'{"a": 1}', "".join(rng.choice(string.printable) for _ in range(20)).encode()]
        )
        cases.append(
            {
                "method": rng.choice(["GET", "POST", "DELETE", "PUT"]),
                "path": "/v3/" + "/".join(segments),
                "query": query,
                "headers": headers,
                "body": body,
                "token": rng.choice([None, "TEMP-TOKEN-" + str(rng.randint(0, 99))]),
                "project": rng.choice([None, PROJECT]),
            }
        )
    return cases


@pytest.mark.sdk
@pytest.mark.parametrize(
    "case", _random_requests(40, seed=7), ids=lambda c: str(c["method"]) + str(c["path"])[:20]
)
def test_matches_official_sdk_signer(case: dict, sdk_home: None) -> None:
    from urllib.parse import quote

    # A locked test dependency: missing, it must fail the suite, not skip the comparison.
    credentials_mod = importlib.import_module("huaweicloudsdkcore.auth.credentials")
    from huaweicloudsdkcore.sdk_request import SdkRequest

    encoded_path = "/".join(quote(part, safe="~") for part in case["path"].split("/"))
    headers = dict(case["headers"], **{"X-Sdk-Date": DATE})
    sdk_request = SdkRequest(
        method=case["method"],
        schema="https",
        host=HOST,
        resource_path=encoded_path,
        query_params=list(case["query"]),
        header_params=dict(headers),
        body=case["body"],
    )
    credentials = credentials_mod.BasicCredentials(AK, SK, case["project"])
    if case["token"]:
        credentials = credentials.with_security_token(case["token"])
    credentials.sign_request(sdk_request)

    query = encode_query(dict(_group(case["query"])))
    url = f"https://{HOST}{encoded_path}" + (f"?{query}" if query else "")
    ours = sign_request(
        HttpRequest(case["method"], url, headers, case["body"]),
        AkSkCredentials(AK, SK, case["token"]),
        project_id=case["project"],
    )
    assert ours.headers["Authorization"] == sdk_request.header_params["Authorization"]
    # What we send is what the SDK sends.
    assert url.removeprefix(f"https://{HOST}") == sdk_request.uri


def _group(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return grouped
