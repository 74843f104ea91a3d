"""What an error answer most likely means, in words a user can act on.

Huawei's gateway says *what* it refused (``ak <the AK> not exist``), not what the user got wrong.
Where one cause is by far the likeliest, the error names it after the service's own message. The
cause is fixed text: it never quotes a value from the request or the answer, so it cannot carry a
credential (the gateway's message itself is scrubbed by the client, see
:mod:`~airflow_provider_cfw.core.scrub`).
"""

from __future__ import annotations

import re

#: The gateway's answer to a signature whose AK it does not know: ``ak <AK> not exist``.
_UNKNOWN_AK = re.compile(r"\bak\s+\S+\s+not\s+exist", re.IGNORECASE)
#: The gateway's answer to a signature that does not verify with the AK's SK.
_BAD_SIGNATURE = re.compile(r"verify\s+aksk\s+signature\s+fail", re.IGNORECASE)

UNKNOWN_AK = (
    "the Access Key ID (the connection's login) was not found: check that login holds the AK, not the "
    "SK (AK and SK swapped?), and that the AK belongs to this account and has not been deleted"
)
BAD_SIGNATURE = (
    "the AK exists, but the request's signature does not match it: check that password holds the SK "
    "of this AK, and that this machine's clock is right"
)


def likely_cause(http_status: int, error_code: str | None, error_msg: str | None) -> str | None:
    """The likeliest cause of an error answer, or ``None`` when there is no single likely one.

    :param http_status: the answer's HTTP status.
    :param error_code: Huawei's error code, if any.
    :param error_msg: the service's message, if any.
    """
    if http_status != 401 or error_code != "APIGW.0301" or not error_msg:
        return None
    if _UNKNOWN_AK.search(error_msg):
        return UNKNOWN_AK
    if _BAD_SIGNATURE.search(error_msg):
        return BAD_SIGNATURE
    return None
