"""Property tests: the signer against the official SDK's on 1,000 generated requests.

Methods, paths (unicode, spaces, ``~``, percent-encoded characters, empty segments), repeated query
keys, header sets (including names the SDK leaves unsigned) and bodies. Derandomized: CI sees the
same 1,000 cases every run. The SDK is a locked test dependency, so it is imported, not skipped.
"""

from __future__ import annotations

import importlib
import os
import string
import tempfile
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_cfw.core.http import HttpRequest, encode_query
from airflow_provider_cfw.core.signing import AkSkCredentials, sign_request

AK = "AKIDEXAMPLE0000000000"
SK = "SKEXAMPLEsecretKey0123456789abcdefghijkl"
PROJECT = "0123456789abcdef0123456789abcdef"
HOST = "cfw.cn-north-4.myhuaweicloud.com"
DATE = "20240101T000000Z"
CASES = 1000


def _import_sdk() -> tuple[Any, Any]:
    # Importing the SDK writes ~/.huaweicloud/application_id: keep it out of the real home.
    home = os.environ.get("HOME")
    os.environ["HOME"] = tempfile.mkdtemp(prefix="sdk-home-")
    try:
        credentials = importlib.import_module("huaweicloudsdkcore.auth.credentials")
        request = importlib.import_module("huaweicloudsdkcore.sdk_request")
    finally:
        if home is None:
            del os.environ["HOME"]
        else:
            os.environ["HOME"] = home
    return credentials, request


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="/"), max_size=6)
_PIECES = st.sampled_from(
    [" ", "~", "%", "%20", "%2F", "%41", "%25", "%E4%B8%AD", "中文", "é", "+", "a b", "."]
)
_SEGMENT = st.lists(st.one_of(_TEXT, _PIECES), max_size=4).map("".join)
#: Already on-the-wire paths: unreserved characters and percent-escapes, sent exactly as written.
_WIRE_SEGMENT = st.lists(
    st.one_of(
        st.sampled_from(["%2F", "%20", "%7E", "%41", "%E4%B8%AD"]),
        st.text(string.ascii_letters + "-._~", max_size=4),
    ),
    max_size=4,
).map("".join)


@st.composite
def paths(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        # What the hook does: each raw segment percent-encoded.
        return "/" + "/".join(
            quote(segment, safe="~") for segment in draw(st.lists(_SEGMENT, min_size=1, max_size=4))
        )
    return "/" + "/".join(draw(st.lists(_WIRE_SEGMENT, min_size=1, max_size=4)))


_KEY = st.one_of(
    st.sampled_from(["name", "limit", "offset", "a b", "k~", "中"]), st.text(min_size=1, max_size=4)
)
_QUERY = st.lists(
    st.tuples(_KEY, st.one_of(st.text(max_size=6), st.sampled_from(["", " ", "1", "%41", "a&b=c"]))),
    max_size=5,
)
_HEADER_NAME = st.from_regex(r"X-[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True)
_HEADER_VALUE = st.text(string.ascii_letters + string.digits + " -_.;=/:,", max_size=16)
_HEADERS = st.dictionaries(_HEADER_NAME, _HEADER_VALUE, max_size=4).filter(
    lambda h: len({k.lower() for k in h}) == len(h)
)
_CONTENT_TYPE = st.sampled_from(
    [None, "application/json", "application/json;charset=UTF-8", "text/plain", "application/octet-stream"]
)
_BODY = st.one_of(st.just(b""), st.binary(max_size=48), st.text(max_size=24).map(str.encode))


@settings(
    max_examples=CASES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
    path=paths(),
    query=_QUERY,
    headers=_HEADERS,
    content_type=_CONTENT_TYPE,
    body=_BODY,
    token=st.one_of(st.none(), st.text(string.ascii_letters + string.digits, min_size=1, max_size=12)),
    project=st.sampled_from([None, PROJECT]),
)
def test_signature_matches_the_sdk(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    content_type: str | None,
    body: bytes,
    token: str | None,
    project: str | None,
) -> None:
    credentials_mod, request_mod = SDK
    sent = dict(headers, **{"X-Sdk-Date": DATE})
    if content_type is not None:
        sent["Content-Type"] = content_type
    sdk_request = request_mod.SdkRequest(
        method=method,
        schema="https",
        host=HOST,
        resource_path=path,
        query_params=list(query),
        header_params=dict(sent),
        body=body,
    )
    sdk_credentials = credentials_mod.BasicCredentials(AK, SK, project)
    if token:
        sdk_credentials = sdk_credentials.with_security_token(token)
    sdk_credentials.sign_request(sdk_request)

    grouped: dict[str, list[str]] = {}
    for key, value in query:
        grouped.setdefault(key, []).append(value)
    encoded = encode_query(grouped)
    url = f"https://{HOST}{path}" + (f"?{encoded}" if encoded else "")
    ours = sign_request(
        HttpRequest(method, url, sent, body), AkSkCredentials(AK, SK, token), project_id=project
    )
    assert ours.headers["Authorization"] == sdk_request.header_params["Authorization"]
    # What is sent is what the SDK sends.
    assert url.removeprefix(f"https://{HOST}") == sdk_request.uri


SDK = _import_sdk()
