"""The emulator's account-wide API rate limit over real sockets: Huawei's answer, the sliding window,
Retry-After, per-AK budgets, the config file and the pytest marker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from airflow_provider_cfw.testing import CfwEmulator, apply_config, load_config
from airflow_provider_cfw.testing.rate_limit import RateLimit

from .conftest import TEMP_CREDS, job_url, signed

HUAWEI = "The throttling threshold has been reached: policy user over ratelimit,limit:3,time:1 second"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def limited(emu: CfwEmulator, calls: float = 3, **kwargs: object) -> Clock:
    clock = Clock()
    limit = emu.set_rate_limit(calls, **kwargs)  # type: ignore[arg-type]
    assert limit is not None
    limit.clock = clock
    return clock


def statuses(emu: CfwEmulator, count: int, creds: object = None) -> list[int]:
    kwargs = {} if creds is None else {"creds": creds}
    return [signed(job_url(emu), **kwargs).send().status_code for _ in range(count)]  # type: ignore[arg-type]


def test_over_the_limit_the_gateway_answers_429_apigw_0308(emu: CfwEmulator) -> None:
    clock = limited(emu)
    assert statuses(emu, 3) == [200, 200, 200]
    throttled = signed(job_url(emu)).send()
    assert throttled.status_code == 429
    body = throttled.json()
    assert body["error_code"] == "APIGW.0308" and body["error_msg"] == HUAWEI
    assert body["request_id"] == throttled.headers["X-Request-Id"]
    assert "Retry-After" not in throttled.headers  # Huawei's own services send none
    # The window slides: a second later there is room again; throttled calls did not count.
    clock.now += 1.0
    assert statuses(emu, 4) == [200, 200, 200, 429]
    stats = emu.stats
    assert stats.count("cfw.job", 429) == 2 and stats.faults_fired.get("rate_limit") == 2
    assert emu.rate_limit is not None and emu.rate_limit.throttled == 2


def test_the_gateway_throttles_before_it_authenticates(emu: CfwEmulator) -> None:
    limited(emu, 1)
    assert requests.get(job_url(emu), timeout=10).status_code == 401  # unsigned: refused, but counted
    assert requests.get(job_url(emu), timeout=10).status_code == 429


def test_retry_after_is_sent_when_asked(emu: CfwEmulator) -> None:
    limited(emu, 1, retry_after=2)
    statuses(emu, 1)
    assert signed(job_url(emu)).send().headers["Retry-After"] == "2"


def test_the_budget_is_the_accounts_unless_per_access_key(emu: CfwEmulator) -> None:
    limited(emu, 2)
    assert statuses(emu, 1) + statuses(emu, 2, TEMP_CREDS) == [200, 200, 429]
    emu.reset_stats()
    limited(emu, 2, scope="access_key")
    assert statuses(emu, 3) + statuses(emu, 3, TEMP_CREDS) == [200, 200, 429, 200, 200, 429]


def test_a_limit_may_cover_some_routes_only_and_may_be_lifted(emu: CfwEmulator) -> None:
    limited(emu, 1, routes=("cfw.firewall.list",))
    assert statuses(emu, 3) == [200, 200, 200]
    limited(emu, 1)
    assert statuses(emu, 2) == [200, 429]
    emu.set_rate_limit(None)
    assert statuses(emu, 2) == [200, 200]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"calls": 0}, "calls must be a number of calls, 1 or more"),
        ({"calls": 5, "period": 0}, "period must be a number of seconds above 0"),
        ({"calls": 5, "scope": "user"}, "scope must be one of account, access_key"),
    ],
)
def test_bad_limits_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RateLimit(**kwargs)  # type: ignore[arg-type]


def test_the_config_file_sets_the_limit(emu: CfwEmulator, tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    path.write_text(json.dumps({"rate_limit": {"calls": 50, "retry_after": "3", "scope": "access_key"}}))
    apply_config(emu, load_config(path))
    limit = emu.rate_limit
    assert limit is not None and (limit.calls, limit.retry_after, limit.scope) == (50, "3", "access_key")
    assert "limit:50,time:1 second" in limit.message
    path.write_text(json.dumps({"rate_limit": {"calls": 50, "burst": 5}}))
    with pytest.raises(ValueError, match="rate_limit: unknown key"):
        load_config(path)


def test_the_marker_example_of_the_docs_passes(tmp_path: Path) -> None:
    # docs/testing.md's example, run as a user's test suite runs it (the plugin's marker and fixture).
    page = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text(encoding="utf-8")
    example = page.split("<!-- rate-limit-example -->\n```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "test_marked.py").write_text(example)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_marked.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 passed" in result.stdout
