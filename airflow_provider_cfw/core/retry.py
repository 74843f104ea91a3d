"""The retry policy: one decision, "wait this long, or give up", used by the sync and async loops alike.

A hand-written loop around it rather than tenacity: a triggerer runs thousands of first tries for every
retry, and tenacity's per-call machinery (a retry state, an action chain) cost about 10 µs of each
poll even when nothing failed, a third of what the provider may add to a bare HTTP GET. The policy
itself is what tenacity's ``wait_exponential + wait_random`` computes.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from airflow_provider_cfw.core.errors import CfwApiError, is_retryable, is_safe_to_resend
from airflow_provider_cfw.core.rate_limit import is_paced_throttle

log = logging.getLogger(__name__)

#: No single backoff wait grows past this.
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for transient failures, never shorter than ``Retry-After``.

    :param max_retries: retries after the first try (so at most ``max_retries + 1`` requests).
    :param backoff: the first wait in seconds before jitter; it doubles each retry, up to 30 s.
    :param idempotent: whether the calls it governs may run twice; if not (a create), only failures
        that prove the request was not carried out are retried.
    """

    max_retries: int
    backoff: float
    idempotent: bool = True

    def delay(self, attempt: int, error: BaseException) -> float | None:
        """Seconds to wait before trying again after try number ``attempt`` failed; ``None``: give up.

        Logs the retry (the error's text is built from status, code, message and request id: no secrets).
        """
        worth_it = is_retryable(error) if self.idempotent else is_safe_to_resend(error)
        # A throttle its rate limiter already sent again in turn, a few times, is not retried twice.
        if attempt > self.max_retries or not worth_it or is_paced_throttle(error):
            return None
        wait = min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
        wait += random.uniform(0, self.backoff)  # noqa: S311 - jitter, not cryptography
        if isinstance(error, CfwApiError) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        log.warning("CFW call failed (%s); retrying in %.2f s (attempt %d)", error, wait, attempt + 1)
        return wait
