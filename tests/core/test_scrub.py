"""Credential values taken out of an error and the errors it chains, in place."""

from __future__ import annotations

from collections import namedtuple

from airflow_provider_cfw.core.causes import UNKNOWN_AK
from airflow_provider_cfw.core.errors import CfwApiError, CfwAuthError, CfwConfigError
from airflow_provider_cfw.core.scrub import scrub_error, scrub_text

SK = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
AK = "QTWAOYTTINDUT2QVKYUC"


def test_longest_value_first_so_no_part_of_a_longer_one_is_left() -> None:
    # An SK that happens to contain the AK: replacing the AK first would leave the SK's other parts.
    sk_with_ak = "xx" + AK + "yy"
    assert scrub_text(f"ak {sk_with_ak} not exist; ak {AK}", [AK, sk_with_ak]) == "ak *** not exist; ak ***"


def test_the_message_fields_and_the_chained_cause_are_scrubbed() -> None:
    try:
        try:
            raise CfwAuthError(401, "APIGW.0301", f"ak {SK} not exist", request_id="r1")
        except CfwAuthError as first:
            raise CfwApiError(500, None, f"again {SK}") from first
    except CfwApiError as err:
        err.add_note(f"note {SK}")
        scrub_error(err, [SK])
        outer, inner = err, err.__cause__
    assert isinstance(inner, CfwAuthError)
    assert str(inner) == f"HTTP 401 APIGW.0301: ak *** not exist (request id r1). Likely cause: {UNKNOWN_AK}"
    assert inner.error_msg == "ak *** not exist" and inner.request_id == "r1"
    assert str(outer) == "HTTP 500: again ***" and outer.__notes__ == ["note ***"]
    assert SK not in repr(outer) + repr(inner)


def test_a_config_errors_fields_too() -> None:
    err = CfwConfigError(f"connection 'c' {SK}", f"not {SK}", got=repr(SK))
    scrub_error(err, [SK])
    assert SK not in str(err) + err.field + err.expected


def test_a_context_raised_from_none_is_left_alone() -> None:
    # The transports raise "from None": the library error they replace is shown nowhere, and may hold
    # values of types that cannot be rebuilt (an aiohttp connection key is a named tuple).
    Key = namedtuple("Key", "host port")
    library = OSError(f"refused {SK}")
    library.key = Key(SK, 443)  # type: ignore[attr-defined]
    try:
        try:
            raise library
        except OSError:
            raise CfwApiError(502, None, f"bad gateway {SK}") from None
    except CfwApiError as err:
        scrub_error(err, [SK])
        assert str(err) == "HTTP 502: bad gateway ***"
    assert library.key == Key(SK, 443) and SK in str(library)  # type: ignore[attr-defined]


def test_named_tuples_on_the_chain_are_left_as_they_are() -> None:
    Key = namedtuple("Key", "host port")
    cause = CfwApiError(502, None, f"bad gateway {SK}")
    cause.key = Key("cfw.example.com", 443)  # type: ignore[attr-defined]
    cause.hosts = (f"a {SK}", Key("b", 80))  # type: ignore[attr-defined]
    err = CfwApiError(500, None, "again")
    err.__cause__ = cause
    scrub_error(err, [SK])
    assert type(cause.key) is Key and cause.hosts == ("a ***", Key("b", 80))  # type: ignore[attr-defined]
    assert type(cause.hosts[1]) is Key  # type: ignore[attr-defined]
    assert str(cause) == "HTTP 502: bad gateway ***"


def test_nothing_to_scrub_leaves_the_error_as_it_was() -> None:
    err = CfwAuthError(401, "APIGW.0301", "bad date")
    scrub_error(err, [])
    scrub_error(err, [SK])
    assert str(err) == "HTTP 401 APIGW.0301: bad date"
