"""``python -m benchmarks.throttled`` in small: real triggers in a client process against the emulator
process's account limit, with the shared limiter. Counts only: the times belong in docs/capacity.md."""

from __future__ import annotations

import pytest

from benchmarks.harness import emulator_process
from benchmarks.throttled import run_one, table, targets


@pytest.mark.timeout(240)
def test_the_throttled_scenario_counts_hold() -> None:
    # 40 waits polling every 0.5 s (80 calls/s) against 10 calls/s; the jobs end over 3 s.
    with emulator_process() as emu:
        run = run_one(emu, 40, "limiter", interval=0.5, limit=10.0, ends_over=3.0)
    assert run.wrong == 0
    assert len(run.latencies) == 40
    assert run.reads > 0 and run.throttled <= 0.1 * run.reads, (run.throttled, run.reads)
    assert run.warnings == 0  # no warning line per throttled call
    assert "| 40 | every 0.5 s | 4 s | shared limiter |" in table([run])
    assert "| 40 |" in targets([run])
