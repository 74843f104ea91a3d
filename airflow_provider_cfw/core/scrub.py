"""Credential values taken out of an error, whatever field they were typed into and whatever echoed them.

A gateway echoes what it was sent (``ak <the value of login> not exist``), and a user may type the SK
into *Login* or a password into the user name: only the connection knows which strings are secret
(:attr:`~airflow_provider_cfw.core.settings.CfwSettings.secrets`). The client runs every error it
raises through :func:`scrub_error` before it is logged, retried or raised, on the sync and the async
path alike, so the message, the repr, the causes it chains and the trigger's event carry none of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

#: What a credential value is replaced with: the placeholder of Airflow's own secret masker.
REDACTED = "***"
#: How deep the chain of causes is followed (real chains are two or three deep).
_MAX_CHAIN = 16


def scrub_text(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every occurrence of each of ``secrets`` replaced by :data:`REDACTED`."""
    # Longest first: an SK typed into login may hold the AK, or one value may contain another.
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending and len(seen) < _MAX_CHAIN:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        # A context raised "from None" is shown nowhere: the transports' own errors stay untouched.
        pending += [current.__cause__, None if current.__suppress_context__ else current.__context__]


def _scrubbed(value: object, secrets: Sequence[str]) -> object:
    if isinstance(value, str):
        return scrub_text(value, secrets)
    # Plain lists and tuples only: a subclass (a named tuple in an aiohttp error) is left as it is.
    if type(value) is list:
        return [_scrubbed(item, secrets) for item in value]
    if type(value) is tuple:
        return tuple(_scrubbed(item, secrets) for item in value)
    return value


def scrub_error(error: BaseException, secrets: Sequence[str]) -> None:
    """Take ``secrets`` out of ``error`` and every error it chains, in place (type and traceback kept).

    Rewrites each error's ``args`` (what ``str`` and ``repr`` show) and every text attribute (a
    :class:`~airflow_provider_cfw.core.errors.CfwApiError`'s ``error_msg``, a config error's
    ``expected``...), and its notes.

    :param error: the error about to be raised or logged.
    :param secrets: the connection's credential values.
    """
    if not secrets:
        return
    for current in _chain(error):
        current.args = tuple(_scrubbed(arg, secrets) for arg in current.args)
        for name, value in list(vars(current).items()):
            if isinstance(value, str) or type(value) in (list, tuple):
                setattr(current, name, _scrubbed(value, secrets))
