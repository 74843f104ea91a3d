"""The rate limiter on its own, with its clock moved by hand: turns, pauses, lessons, identities, logs."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from airflow_provider_cfw.core import rate_limit
from airflow_provider_cfw.core.errors import CfwThrottled, error_from_response
from airflow_provider_cfw.core.http import HttpResponse
from airflow_provider_cfw.core.rate_limit import (
    HEADROOM,
    Identity,
    LimiterRegistry,
    RateLimiter,
    Throttle,
    throttle_of,
)
from airflow_provider_cfw.core.settings import CfwSettings
from tests.conftest import LimiterClock

HUAWEI = b"The throttling threshold has been reached: policy user over ratelimit,limit:%s,time:%s"


def answer(status: int, body: bytes = b"", **headers: str) -> HttpResponse:
    return HttpResponse.of(status, {k.replace("_", "-"): v for k, v in headers.items()}, body)


def gateway(limit: bytes = b"50", time: bytes = b"1 second", status: int = 429) -> HttpResponse:
    body = b'{"error_code": "APIGW.0308", "error_msg": "' + HUAWEI % (limit, time) + b'"}'
    return answer(status, body)


def settings(login: str = "AKAAAAAAAAAAAAAAAAAA", region: str = "cn-north-4", **extra: object) -> CfwSettings:
    return CfwSettings.from_connection(
        "c", login=login, password="sk-not-real", extra={"region": region, **extra}
    )


def limiter(cap: float | None = None) -> RateLimiter:
    return RateLimiter(Identity("who", "cn-north-4", "https://cfw.example"), cap)


def burst(lim: RateLimiter, calls: int = 100) -> float:
    """``calls`` calls at one instant (far above any limit here); returns when the last was sent."""
    return max(lim.acquire_sync() for _ in range(calls))


# -- reading throttles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("time", "per_second"), [(b"1 second", 50.0), (b"1 minute", 50 / 60), (b"2 second", 25.0)]
)
def test_the_stated_limit_is_read(time: bytes, per_second: float) -> None:
    throttle = throttle_of(gateway(b"50", time))
    assert throttle is not None and throttle.retry_after is None
    assert throttle.limit == pytest.approx(per_second)


def test_a_throttle_is_any_429_or_the_code_whatever_the_status() -> None:
    assert throttle_of(answer(429, b"Too Many Requests")) == Throttle(None, None)
    assert throttle_of(gateway(status=503)) is not None
    assert throttle_of(answer(400, b'{"error_code": "APIG.0308"}')) is not None
    assert throttle_of(answer(503, b'{"error_code": "APIGW.0201"}')) is None
    assert throttle_of(answer(200, b'{"data": "APIGW.0308"}')) is None
    assert throttle_of(answer(429, b"", retry_after="3")) == Throttle(3.0, None)


def test_a_throttle_raises_its_own_error() -> None:
    assert isinstance(error_from_response(gateway()), CfwThrottled)
    assert isinstance(error_from_response(gateway(status=400)), CfwThrottled)
    assert not isinstance(error_from_response(answer(503, b'{"error_code": "APIGW.0201"}')), CfwThrottled)


# -- turns and pauses --------------------------------------------------------------------------------


def test_nothing_waits_before_the_first_throttle(limiter_clock: LimiterClock) -> None:
    lim = limiter()
    for _ in range(1000):
        lim.acquire_sync()
    assert limiter_clock.sleeps == [] and lim.rate is None and lim.sent == 1000


def test_a_throttle_pauses_the_identity_then_hands_out_distinct_turns(limiter_clock: LimiterClock) -> None:
    lim = limiter()
    lim.report(burst(lim), Throttle(retry_after=3.0, limit=50.0))
    assert lim.rate == pytest.approx(HEADROOM * 50)
    turns = [lim.take_turn()[1] for _ in range(10)]
    # The first after the pause, then one every 1 / rate: ten calls, ten distinct send times.
    assert turns[0] == pytest.approx(3.0)
    assert len(set(turns)) == 10
    assert [b - a for a, b in itertools.pairwise(turns)] == pytest.approx([1 / 45] * 9)


def test_without_retry_after_the_pause_is_two_to_five_seconds(limiter_clock: LimiterClock) -> None:
    pauses = []
    for _ in range(50):
        lim = limiter()
        lim.report(lim.acquire_sync(), Throttle())
        pauses.append(lim.take_turn()[1])
    assert all(2.0 <= p <= 5.0 for p in pauses)
    assert len(set(pauses)) > 40  # jittered: not every identity back at the same instant


def test_an_echo_of_the_same_overload_is_counted_not_learnt_again(limiter_clock: LimiterClock) -> None:
    lim = limiter()
    in_flight = [lim.acquire_sync() for _ in range(20)]
    limiter_clock.now += 0.01
    for sent_at in in_flight:  # twenty calls sent before the first throttle came back
        lim.report(sent_at, Throttle(retry_after=2.0, limit=50.0))
    assert lim.throttled == 20 and lim.pauses == 1
    assert lim.rate == pytest.approx(45.0)
    # A call sent after that lesson and throttled again: the budget is shared with someone else.
    limiter_clock.now += 3.0
    lim.report(burst(lim), Throttle(limit=50.0))
    assert lim.pauses == 2 and lim.rate == pytest.approx(45.0 * rate_limit.DECREASE_SHARED, rel=0.05)


def test_with_no_stated_limit_the_pace_halves_the_rate_it_was_sending_at(limiter_clock: LimiterClock) -> None:
    lim = limiter()
    for _ in range(100):  # 100 calls in one second
        lim.acquire_sync()
        limiter_clock.now += 0.01
    lim.report(limiter_clock.now, Throttle(retry_after=0.0))
    assert lim.rate == pytest.approx(50.0, rel=0.05)


def test_a_pause_that_begins_while_a_call_waits_its_turn_moves_the_call_after_it(
    limiter_clock: LimiterClock,
) -> None:
    lim = limiter(cap=1.0)

    async def scenario() -> list[float]:
        first = await lim.acquire()  # now
        second = asyncio.ensure_future(lim.acquire())  # its turn: one second later
        await asyncio.sleep(0)
        lim.report(first, Throttle(retry_after=10.0))  # comes back throttled while the second waits
        return [first, await second]

    first, second = asyncio.run(scenario())
    assert second - first >= 10.0


def test_the_pace_goes_back_up_while_callers_wait_and_never_past_the_stated_limit(
    limiter_clock: LimiterClock,
) -> None:
    lim = limiter()
    lim.report(burst(lim), Throttle(retry_after=0.0, limit=100.0))
    lim.report(limiter_clock.now, Throttle(retry_after=0.0, limit=100.0))  # shared: below the ceiling
    low = lim.rate
    assert low is not None and low < 90.0
    for _ in range(2000):  # demand above the pace: every call waits its turn
        lim.acquire_sync()
    assert lim.rate is not None and low < lim.rate <= 90.0
    assert lim.rate == pytest.approx(90.0)


def test_no_increase_without_demand(limiter_clock: LimiterClock) -> None:
    lim = limiter()
    lim.report(burst(lim), Throttle(retry_after=0.0, limit=100.0))
    lim.report(limiter_clock.now, Throttle(retry_after=0.0, limit=100.0))
    low = lim.rate
    assert low == pytest.approx(90.0 * rate_limit.DECREASE_SHARED)
    for _ in range(30):  # one call every 2 s: far below the pace, nobody waits
        limiter_clock.now += 2.0
        lim.acquire_sync()
    assert lim.rate == low


def test_the_cap_paces_from_the_start_and_the_lowest_cap_wins(limiter_clock: LimiterClock) -> None:
    registry = LimiterRegistry()
    identity = Identity("who", "r", "https://e")
    lim = registry.get(identity, 10.0)
    assert lim is not None and lim.rate == 10.0
    assert registry.get(identity, 20.0) is lim and lim.rate == 10.0
    assert registry.get(identity, 5.0) is lim and lim.rate == 5.0
    lim.acquire_sync()
    lim.acquire_sync()
    assert limiter_clock.sleeps == [pytest.approx(0.2)]
    lim.report(limiter_clock.now, Throttle(retry_after=0.0, limit=1000.0))
    assert lim.rate is not None and lim.rate <= 5.0  # a higher stated limit does not lift the cap


# -- identities ---------------------------------------------------------------------------------------


def test_one_limiter_per_identity() -> None:
    registry = LimiterRegistry()
    one = registry.for_settings(settings())
    assert registry.for_settings(settings()) == one
    assert len(one) == 2  # the CFW and the IAM endpoints
    others = [
        settings(login="AKBBBBBBBBBBBBBBBBBB"),
        settings(region="cn-east-3"),
        settings(endpoint="https://cfw.private.example"),
    ]
    limiters = {id(registry.for_settings(s)[0][1]) for s in [settings(), *others]}
    assert len(limiters) == 4


def test_an_identity_holds_no_credential() -> None:
    token = "a-static-iam-token-value"
    s = CfwSettings.from_connection(
        "c", login=None, password=token, extra={"region": "cn-north-4", "auth_type": "token"}
    )
    identity = Identity.of(s, s.endpoint)
    assert token not in repr(identity) and token not in identity.label
    ak = Identity.of(settings(), "https://cfw.example")
    assert "AKAAAAAAAAAAAAAAAAAA" not in repr(ak)


def test_a_disabled_registry_hands_out_no_limiter() -> None:
    assert LimiterRegistry(enabled=False).for_settings(settings()) == ()


# -- the summary line ---------------------------------------------------------------------------------


def test_one_summary_line_per_interval_not_one_per_throttle(
    limiter_clock: LimiterClock, caplog: pytest.LogCaptureFixture
) -> None:
    lim = limiter()
    lesson_at = burst(lim)
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_cfw"):
        lim.report(lesson_at, Throttle(retry_after=0.0, limit=50.0))
        for _ in range(130):  # two minutes and some: a call every second, each throttled (echoes)
            lim.acquire_sync()
            lim.report(lesson_at - 1, Throttle(retry_after=0.0, limit=50.0))
            limiter_clock.now += 1.0
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "throttled: 61 calls in the last 60 s, effective rate 2.7/s" in lines[0]
    assert "stated limit 50/s; pacing at 45.0/s" in lines[0]
    assert "throttled: 60 calls in the last 60 s, effective rate 1.0/s" in lines[1]


def test_no_line_when_nothing_was_throttled(
    limiter_clock: LimiterClock, caplog: pytest.LogCaptureFixture
) -> None:
    lim = limiter()
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_cfw"):
        for _ in range(200):
            lim.acquire_sync()
            limiter_clock.now += 1.0
    assert caplog.records == []
