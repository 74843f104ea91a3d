"""The hold before an event that resumes a task on a worker, derived from the deployment's settings."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow import __version__ as airflow_version

from airflow_provider_cfw.version_compat import (
    HOLD_MARGIN_OPTION,
    HOLD_MARGIN_SECONDS,
    configured_scheduler_hold_seconds,
    scheduler_hold_seconds,
)

AIRFLOW_MAJOR = int(airflow_version.split(".")[0])
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("interval", "idle", "major", "hold"),
    [
        (5, 1, 3, 10.0),  # Airflow 3's defaults: the 10 s that lost no wait of 24 there
        (1, 1, 3, 6.0),  # the race stack's interval: above the 5 s that lost none of 500
        (30, 1, 3, 35.0),  # a deployment that heartbeats rarely waits longer
        (5, 0, 3, 9.0),
        (5, 1, 2, 5.0),  # Airflow 2's task runner returns at the process's exit: today's 5 s
    ],
)
def test_the_hold_follows_the_settings(interval: float, idle: float, major: int, hold: float) -> None:
    got = scheduler_hold_seconds(
        min_heartbeat_interval=interval, scheduler_idle_sleep_time=idle, airflow_major=major
    )
    assert got == hold
    assert HOLD_MARGIN_SECONDS == 4.0


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "5", True])
@pytest.mark.parametrize(
    ("setting", "name"),
    [
        ("min_heartbeat_interval", "[workers] min_heartbeat_interval"),
        ("scheduler_idle_sleep_time", "[scheduler] scheduler_idle_sleep_time"),
        ("margin", "[cfw] scheduler_hold_margin"),
    ],
)
def test_a_bad_setting_is_named(bad: Any, setting: str, name: str) -> None:
    settings: dict[str, Any] = {"min_heartbeat_interval": 5, "scheduler_idle_sleep_time": 1, setting: bad}
    with pytest.raises(ValueError, match=rf"^{re.escape(name)} must be a finite number"):
        scheduler_hold_seconds(**settings, airflow_major=3)


def test_a_margin_adds_to_the_settings() -> None:
    got = scheduler_hold_seconds(
        min_heartbeat_interval=5, scheduler_idle_sleep_time=1, airflow_major=3, margin=10
    )
    assert got == 16.0


def test_read_from_this_processs_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL", raising=False)
    monkeypatch.delenv("AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME", raising=False)
    monkeypatch.delenv("AIRFLOW__CFW__SCHEDULER_HOLD_MARGIN", raising=False)
    at_defaults = configured_scheduler_hold_seconds()
    monkeypatch.setenv("AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME", "2")
    tuned = configured_scheduler_hold_seconds()
    if AIRFLOW_MAJOR >= 3:
        assert (at_defaults, tuned) == (10.0, 7.0)
    else:  # no [workers] section; the interval does not delay Airflow 2's report
        assert (at_defaults, tuned) == (5.0, 6.0)


def test_a_deployment_sets_its_own_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    """``[cfw] scheduler_hold_margin`` (documented in docs/troubleshooting.md) replaces the default
    margin, on top of the two settings."""
    assert HOLD_MARGIN_OPTION == ("cfw", "scheduler_hold_margin")
    monkeypatch.delenv("AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL", raising=False)
    monkeypatch.delenv("AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME", raising=False)
    monkeypatch.setenv("AIRFLOW__CFW__SCHEDULER_HOLD_MARGIN", "12.5")
    supervisor_wait = 5.0 if AIRFLOW_MAJOR >= 3 else 0.0
    assert configured_scheduler_hold_seconds() == supervisor_wait + 1.0 + 12.5
    monkeypatch.setenv("AIRFLOW__CFW__SCHEDULER_HOLD_MARGIN", "-1")
    with pytest.raises(ValueError, match=r"^\[cfw\] scheduler_hold_margin must be a finite number"):
        configured_scheduler_hold_seconds()


def test_the_documented_margin_gives_the_documented_hold(tmp_path: Path) -> None:
    """docs/troubleshooting.md's ``[cfw]`` block, as a deployment's airflow.cfg, read by a fresh
    process as a deferring worker reads it: the hold the page states."""
    page = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```ini\n(.*?)```", page, re.DOTALL) if "scheduler_hold_margin" in b]
    assert len(blocks) == 1, blocks
    stated = re.search(r"with Airflow's other defaults the hold is then (\d+) s", page)
    assert stated, "the page states the hold the block gives"
    (tmp_path / "airflow.cfg").write_text(blocks[0], encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env["AIRFLOW_HOME"] = str(tmp_path)
    code = (
        "from airflow_provider_cfw.version_compat import configured_scheduler_hold_seconds as h; print(h())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    hold = float(out.strip().splitlines()[-1])
    if AIRFLOW_MAJOR >= 3:
        assert hold == float(stated.group(1))
    else:  # no supervisor interval on Airflow 2
        assert hold == float(stated.group(1)) - 5.0


def test_the_margin_is_declared_to_airflow_with_the_same_default() -> None:
    # Declared in the provider's metadata, valid against Airflow's own schema, so that Airflow's
    # configuration lists [cfw] and its default; the declared default is the one the code falls back on.
    import json

    import airflow
    import jsonschema

    from airflow_provider_cfw.get_provider_info import get_provider_info

    info = get_provider_info()
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(info, schema)
    section, option = HOLD_MARGIN_OPTION
    declared = info["config"][section]["options"][option]
    assert float(declared["default"]) == HOLD_MARGIN_SECONDS
    assert declared["type"] == "float"
