"""The retry policy: one set of tenacity arguments for ``Retrying`` and ``AsyncRetrying`` alike."""

from __future__ import annotations

import logging
from typing import Any

from tenacity import RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential, wait_random

from airflow_provider_cfw.core.errors import CfwApiError, is_retryable, is_safe_to_resend

log = logging.getLogger(__name__)

#: No single backoff wait grows past this.
MAX_BACKOFF_SECONDS = 30.0


class _WaitHonouringRetryAfter:
    """Exponential backoff with jitter, but never shorter than the server's ``Retry-After``."""

    def __init__(self, base: float) -> None:
        # Spelled with the two oldest strategies so tenacity 8 (Airflow 2.11) and 9 behave alike.
        self._backoff = wait_exponential(multiplier=base, max=MAX_BACKOFF_SECONDS) + wait_random(0, base)

    def __call__(self, state: RetryCallState) -> float:
        wait = float(self._backoff(state))
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, CfwApiError) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    # The exception's text is built from status, error code, message and request id: no secrets.
    log.warning(
        "CFW call failed (%s); retrying in %.2f s (attempt %d)", error, wait, state.attempt_number + 1
    )


def retry_arguments(max_retries: int, backoff: float, *, idempotent: bool = True) -> dict[str, Any]:
    """Keyword arguments for ``tenacity.Retrying``/``AsyncRetrying``.

    :param max_retries: retries after the first try (so at most ``max_retries + 1`` requests).
    :param backoff: the first wait in seconds before jitter; it doubles each retry.
    :param idempotent: whether the call may run twice; if not, only failures that prove the request
        was not carried out are retried.
    """
    return {
        "stop": stop_after_attempt(max_retries + 1),
        "wait": _WaitHonouringRetryAfter(backoff),
        "retry": retry_if_exception(is_retryable if idempotent else is_safe_to_resend),
        "before_sleep": _log_retry,
        "reraise": True,
    }
