"""The exception family, error-body parsing and the one answer to "is this worth retrying?"."""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from time import time
from typing import TYPE_CHECKING, Any

from airflow_provider_cfw.core.causes import likely_cause

if TYPE_CHECKING:
    from airflow_provider_cfw.core.http import HttpResponse

#: Error codes that mean "try again later" whatever the HTTP status (CFW answers 400 for most).
RETRYABLE_ERROR_CODES = frozenset({"APIGW.0308", "APIG.0308", "CFW.00109004", "CFW.00200023"})
#: The API gateway's "throttling threshold reached" (Huawei writes both).
THROTTLE_ERROR_CODES = frozenset({"APIGW.0308", "APIG.0308"})
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
JOB_NOT_FOUND_CODE = "CFW.00200005"
#: Longest ``Retry-After`` we honour; a larger one is capped rather than stalling a task for hours.
MAX_RETRY_AFTER_SECONDS = 60.0


class CfwError(Exception):
    """Base class of every error this provider raises."""

    retryable: bool = False


class CfwConfigError(CfwError, ValueError):
    """Bad input (a connection field or an argument), found before any request was sent.

    :param field: the connection field or argument at fault.
    :param expected: what a valid value looks like.
    """

    def __init__(self, field: str, expected: str, *, got: str | None = None) -> None:
        self.field = field
        self.expected = expected
        message = f"{field}: expected {expected}"
        if got is not None:
            message += f", got {got}"
        super().__init__(message)


class CfwConnectionError(CfwError):
    """The request did not get a complete answer (refused, reset, timed out, cut off mid-body).

    :param request_sent: ``False`` only when the request provably never left (the connection could
        not be made); otherwise the service may have received and carried it out.
    """

    retryable = True

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class CfwApiError(CfwError):
    """An error answer from CFW, IAM or the API gateway.

    :param http_status: the HTTP status code.
    :param error_code: Huawei's error code (``APIGW.0301``, ``CFW.00200005``...), if any.
    :param error_msg: the service's message, if any.
    :param request_id: the ``X-Request-Id`` to quote to Huawei support.
    :param retry_after: seconds the server asked us to wait, if it said.
    :param encoded_authorization_message: on a 403, IAM's encoded account of the missing permission
        (decode it with IAM's ``decode-authorization-message`` API).

    ``likely_cause`` is what the answer most likely means, where one cause is by far the likeliest
    (:mod:`~airflow_provider_cfw.core.causes`), else ``None``; the message ends with it.
    """

    def __init__(
        self,
        http_status: int,
        error_code: str | None = None,
        error_msg: str | None = None,
        *,
        request_id: str | None = None,
        retry_after: float | None = None,
        encoded_authorization_message: str | None = None,
    ) -> None:
        self.http_status = http_status
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        self.retry_after = retry_after
        self.encoded_authorization_message = encoded_authorization_message
        self.likely_cause = likely_cause(http_status, error_code, error_msg)
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"HTTP {self.http_status}"]
        # IAM's Keystone-style bodies carry the HTTP status as their code: "HTTP 401 401" says it twice.
        if self.error_code and self.error_code != str(self.http_status):
            parts.append(self.error_code)
        text = " ".join(parts)
        if self.error_msg:
            text += f": {self.error_msg}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        if self.encoded_authorization_message:
            text += f"; encoded authorization message: {self.encoded_authorization_message}"
        if self.likely_cause:
            text += f". Likely cause: {self.likely_cause}"
        return text

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        # APIGW.0201 is retryable only behind a retryable status (502/504), which this covers.
        if self.error_code in RETRYABLE_ERROR_CODES:
            return True
        return self.http_status in RETRYABLE_STATUSES and not self.error_code_is_terminal

    @property
    def error_code_is_terminal(self) -> bool:
        return self.error_code in ("APIGW.0301", "APIGW.0302", "APIGW.0101", JOB_NOT_FOUND_CODE)


class CfwAuthError(CfwApiError):
    """401/403: bad signature, unknown AK, wrong password, expired or revoked token, no permission.

    Never retried with the same credentials: five AK/SK failures in a row lock the AK for 5 minutes.
    """


class CfwJobNotFound(CfwApiError):
    """``CFW.00200005``: the job does not exist in this project (or is not visible yet)."""


class CfwThrottled(CfwApiError):
    """HTTP 429, or the gateway's ``APIGW.0308``: the account's API rate limit was reached.

    The identity's rate limiter (:mod:`~airflow_provider_cfw.core.rate_limit`) retries throttled calls
    in turn; this is raised when one stays throttled through all of those retries.
    """


class CfwResponseError(CfwApiError):
    """A 2xx answer whose body is not what the API documents (no JSON, no ``data``, no status)."""

    retryable = True


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), capped."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


#: Where Huawei's gateways and services put the code and the message, in order of preference:
#: ``error_code``/``error_msg`` (APIGW, CFW), ``code``/``message`` (Keystone-style IAM, some
#: services), ``errorCode``/``errorMsg`` (older services). Each may also sit under ``"error"``.
_CODE_KEYS = ("error_code", "errorCode", "code")
_MESSAGE_KEYS = ("error_msg", "errorMsg", "message", "error_message", "title")
#: How much of a non-JSON body (a WAF's or a load balancer's HTML page) an error keeps.
MAX_TEXT_BODY_CHARS = 300


def _first(sources: list[dict[str, Any]], keys: tuple[str, ...]) -> str | None:
    for source in sources:
        for key in keys:
            value = _text(source.get(key))
            if value is not None:
                return value
    return None


class _TextOnly(HTMLParser):
    """Collects an HTML page's visible text: what a person would read on the error page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def body_text(body: bytes, limit: int = MAX_TEXT_BODY_CHARS) -> str | None:
    """A non-JSON body as one line of plain text, tags stripped, cut to about ``limit`` characters."""
    parser = _TextOnly()
    parser.feed(body.decode("utf-8", errors="replace"))
    parser.close()
    text = " ".join(" ".join(parser.parts).split())
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def error_from_response(response: HttpResponse) -> CfwApiError:
    """Turn an error answer into the right exception.

    Reads the code and message of every body shape Huawei sends (see ``_CODE_KEYS``), nested under
    ``"error"`` or not, IAM's ``encoded_authorization_message`` and ``X-IAM-Trace-Id``, and
    non-JSON answers (a WAF's or proxy's HTML page) as their visible text.
    """
    payload = _json_object(response.body)
    code: str | None = None
    message: str | None = None
    encoded: str | None = None
    request_id = response.request_id or response.headers.get("x-iam-trace-id")
    if payload is not None:
        nested = payload.get("error")
        sources = [nested, payload] if isinstance(nested, dict) else [payload]
        code = _first(sources, _CODE_KEYS)
        message = _first(sources, _MESSAGE_KEYS)
        if message is None and isinstance(nested, str):
            message = _text(nested)
        encoded = _first(sources, ("encoded_authorization_message",))
        request_id = request_id or _first(sources, ("request_id", "requestId"))
    else:
        content_type = response.headers.get("content-type", "unknown content type").split(";")[0]
        text = body_text(response.body)
        message = f"non-JSON answer ({content_type})" + (f": {text}" if text else "")
    kwargs: dict[str, Any] = {
        "request_id": request_id,
        "retry_after": parse_retry_after(response.headers.get("retry-after")),
        "encoded_authorization_message": encoded,
    }
    if code == JOB_NOT_FOUND_CODE:
        return CfwJobNotFound(response.status, code, message, **kwargs)
    if response.status in (401, 403):
        return CfwAuthError(response.status, code, message, **kwargs)
    if response.status == 429 or code in THROTTLE_ERROR_CODES:
        return CfwThrottled(response.status, code, message, **kwargs)
    return CfwApiError(response.status, code, message, **kwargs)


def _text(value: object) -> str | None:
    # Keystone sends numeric codes (401); Huawei sends strings. Containers are not a code or message.
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    return str(value)[:512]


def is_retryable(error: BaseException) -> bool:
    """The single retry decision shared by the sync and async paths, for idempotent calls."""
    return isinstance(error, CfwError) and error.retryable


def is_safe_to_resend(error: BaseException) -> bool:
    """The retry decision for calls that must not run twice (a create): only failures that prove the
    request was not carried out. A timeout, a reset after sending, a 5xx from the gateway (502/504:
    the backend may have acted) or a 2xx with a body we cannot read all may hide a done deed."""
    if isinstance(error, CfwConnectionError):
        return not error.request_sent
    if isinstance(error, CfwApiError) and not isinstance(error, CfwResponseError):
        if error.http_status == 429:
            return True
        return error.http_status in (400, 503) and error.error_code in RETRYABLE_ERROR_CODES
    return False
