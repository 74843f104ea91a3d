"""The API gateway's authentication: AK/SK signatures and IAM tokens, as the spec describes them.

Signatures are recomputed with the provider's own :mod:`airflow_provider_cfw.core.signing`, so the
client and the emulator cannot drift apart; the independent check against Huawei's SDK signer lives
in the tests.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_cfw.core.signing import (
    ALGORITHM,
    HEADER_DATE,
    HEADER_PROJECT_ID,
    HEADER_SECURITY_TOKEN,
    MAX_CLOCK_SKEW_SECONDS,
    parse_authorization,
    parse_sdk_date,
    verify_request,
)

if TYPE_CHECKING:
    from airflow_provider_cfw.core.http import HttpRequest
    from airflow_provider_cfw.core.signing import ParsedAuthorization
    from airflow_provider_cfw.testing.state import EmulatorState, IssuedToken

_PREFIX = "Incorrect IAM authentication information: "


@dataclass(frozen=True)
class AuthOk:
    """The caller is who it says.

    :param kind: ``aksk`` or ``token``.
    :param ak: the access key, in AK/SK mode.
    :param token: the IAM token, in token mode.
    """

    kind: str
    ak: str | None = None
    token: IssuedToken | None = None


@dataclass(frozen=True)
class AuthFailure:
    """Refused: HTTP 401 ``APIGW.0301``.

    :param kind: the mode tried: ``aksk``, ``token`` or ``none``.
    :param reason: a short machine-readable reason, counted in ``stats.auth_failures``.
    :param message: the ``error_msg`` sent back.
    """

    kind: str
    reason: str
    message: str
    status: int = 401
    error_code: str = "APIGW.0301"


def _fail(kind: str, reason: str, detail: str) -> AuthFailure:
    return AuthFailure(kind, reason, _PREFIX + detail)


def authenticate(request: HttpRequest, state: EmulatorState, project_id: str | None) -> AuthOk | AuthFailure:
    """Check a request the way the gateway does.

    :param request: the request as received (raw path and query, all headers, exact body).
    :param state: the account: access keys, tokens, projects and the clock.
    :param project_id: the project in the URL for regional (CFW) calls; ``None`` for IAM calls,
        which need no ``X-Project-Id``.
    """
    authorization = request.header("Authorization")
    if authorization is not None:
        return _check_signature(request, authorization, state, project_id)
    token = request.header("X-Auth-Token")
    if token is not None:
        return _check_token(token, state, project_id)
    return _fail("none", "missing_credentials", "x-auth-token not found")


def _check_signature(
    request: HttpRequest, authorization: str, state: EmulatorState, project_id: str | None
) -> AuthOk | AuthFailure:
    if not authorization.startswith(ALGORITHM + " "):
        return _fail("aksk", "unsupported_algorithm", "unsupported signing algorithm")
    try:
        parsed = parse_authorization(authorization)
    except ValueError as err:
        return _fail("aksk", "malformed_authorization", f"invalid Authorization header ({err})")
    key = state.lookup_ak(parsed.access)
    if key is None:
        return _fail("aksk", "unknown_ak", f"ak {parsed.access} not exist")
    now = state.now()
    if key.locked_until > now:
        minutes = max(1, round(state.lockout_seconds / 60))
        return _fail("aksk", "ak_locked", f"too many failed attempts, the AK is locked for {minutes} minutes")
    failure = _verify_with_key(request, parsed, key.credentials.sk, key.credentials.security_token, now)
    if failure is None and key.expires_at is not None and now >= key.expires_at:
        failure = _fail("aksk", "expired_ak", "the temporary access key has expired")
    if failure is None and project_id is not None:
        failure = _check_project_header(request, parsed.signed_headers, state, project_id)
    state.note_ak_result(key, failure is None)
    return failure or AuthOk("aksk", ak=parsed.access)


def _verify_with_key(
    request: HttpRequest,
    parsed: ParsedAuthorization,
    sk: str,
    security_token: str | None,
    now: float,
) -> AuthFailure | None:
    sdk_date = request.header(HEADER_DATE)
    if sdk_date is None:
        return _fail("aksk", "missing_date", "X-Sdk-Date not found")
    try:
        signed_at = parse_sdk_date(sdk_date).timestamp()
    except ValueError:
        return _fail("aksk", "bad_date", "X-Sdk-Date is not in the format YYYYMMDDTHHMMSSZ")
    if not verify_request(request, parsed, sk):
        return _fail("aksk", "bad_signature", "verify aksk signature fail")
    if abs(now - signed_at) > MAX_CLOCK_SKEW_SECONDS:
        return _fail("aksk", "stale_date", "the X-Sdk-Date is more than 15 minutes away from the server time")
    sent_token = request.header(HEADER_SECURITY_TOKEN)
    if security_token is None:
        if sent_token is not None:
            return _fail("aksk", "bad_security_token", "X-Security-Token given for a permanent access key")
        return None
    if sent_token is None or HEADER_SECURITY_TOKEN.lower() not in parsed.signed_headers:
        return _fail(
            "aksk", "missing_security_token", "X-Security-Token not found for a temporary access key"
        )
    if not hmac.compare_digest(sent_token.encode(), security_token.encode()):
        return _fail("aksk", "bad_security_token", "the security token does not match the access key")
    return None


def _check_project_header(
    request: HttpRequest, signed_headers: list[str], state: EmulatorState, project_id: str
) -> AuthFailure | None:
    header = request.header(HEADER_PROJECT_ID)
    # An unsigned X-Project-Id could be swapped in transit, so the gateway only trusts a signed one.
    if header is None or HEADER_PROJECT_ID.lower() not in signed_headers:
        return _fail("aksk", "missing_project_id", "X-Project-Id not found or not signed")
    if header != project_id:
        return _fail("aksk", "project_id_mismatch", "X-Project-Id does not match the project in the URL")
    if state.find_project(project_id=project_id) is None:
        return _fail("aksk", "unknown_project", f"project {project_id} does not belong to this account")
    return None


def _check_token(value: str, state: EmulatorState, project_id: str | None) -> AuthOk | AuthFailure:
    issued = state.lookup_token(value.strip())
    if issued is None:
        return _fail("token", "invalid_token", "decrypt token fail")
    if issued.revoked:
        return _fail("token", "revoked_token", "the token has been revoked")
    if state.now() >= issued.expires_at:
        return _fail("token", "expired_token", "the token is expired")
    if project_id is not None and (issued.project is None or issued.project.id != project_id):
        return _fail("token", "token_project_mismatch", "the token is not scoped to the project in the URL")
    return AuthOk("token", token=issued)
