"""``make bench`` in small: the harness runs real triggers in a client process against the emulator
process, and the counts it reports hold. Counts only: the times belong in ``docs/performance.md``."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Iterator

import pytest

from benchmarks.calls import call_cost
from benchmarks.harness import POOL_SIZE, EmulatorProcess, RunSpec, emulator_process, mixed, run_client
from benchmarks.memory import heap_cost
from benchmarks.probe import HopCounter

N = 50
# Half the waits need FEW polls, half MANY: a thread hop per poll shows as a difference between them,
# while a hop once per wait (the connection lookup) does not.
FEW, MANY = 2, 5
INTERVAL = 0.3


@pytest.fixture(scope="module")
def bench_emulator() -> Iterator[EmulatorProcess]:
    with emulator_process() as emu:
        yield emu


@pytest.mark.timeout(120)
@pytest.mark.parametrize("auth", ["aksk", "password"])
def test_provider_waits_cost_what_they_should(bench_emulator: EmulatorProcess, auth: str) -> None:
    result = run_client(bench_emulator, RunSpec("provider", mixed(N, FEW, MANY), INTERVAL, auth))

    statuses = {w["status"] for w in result.client["waits"].values()}
    assert result.events_ok == N, statuses
    # Poll-scripted jobs: every extra request is a retry or a duplicate poll.
    assert result.polls == result.polls_ok == result.ideal_polls == N // 2 * (FEW + MANY)
    assert result.connections <= POOL_SIZE
    assert result.tokens == (1 if auth == "password" else 0)

    few, many = result.hops_per_wait(FEW), result.hops_per_wait(MANY)
    assert len(few) == len(many) == N // 2
    # No thread hop per poll after the first: a wait's hops do not grow with its polls.
    assert statistics.median(many) == statistics.median(few), (
        f"thread hops per wait: {statistics.median(few)} with {FEW} polls, {statistics.median(many)} "
        f"with {MANY}; callers: {result.client['hop_sites']}"
    )


#: A poll's Python calls against the floor's (a bare shared aiohttp session): 1.16-1.26 from run to run
#: now (signing, the read timeout, parsing). Building the signer on every poll made it 1.34.
MAX_CALLS_PER_POLL_VS_FLOOR = 1.3
#: Starting and ending one wait: 770-1,010 now (the hook, the first poll's signer, the first-status log
#: line, the event). Validating the connection per wait instead of per lookup made it 1,500.
MAX_CALLS_PER_WAIT = 1_300


@pytest.mark.timeout(180)
def test_a_poll_costs_few_python_calls_more_than_the_floor(bench_emulator: EmulatorProcess) -> None:
    """The hot path in counts (CPU time is too noisy to assert): Python calls per poll and per wait."""
    floor, provider = call_cost(bench_emulator, "floor"), call_cost(bench_emulator, "provider")
    assert provider.per_poll <= MAX_CALLS_PER_POLL_VS_FLOOR * floor.per_poll, (provider, floor)
    assert provider.per_wait <= MAX_CALLS_PER_WAIT, (provider, floor)


#: Heap a finished wait may leave behind (interpreter noise: 20-110 bytes now, the floor's 20-30). Keeping
#: each wait's request, signer, wire URL and parsed time in process-wide caches made it 4,000.
MAX_HEAP_LEFT_PER_WAIT = 300


@pytest.mark.timeout(180)
def test_a_wait_holds_less_heap_than_the_per_poll_pattern_and_leaves_none(
    bench_emulator: EmulatorProcess,
) -> None:
    """Memory in bytes the interpreter allocated (peak RSS is too coarse at this size to assert)."""
    provider, per_poll = heap_cost(bench_emulator, "provider"), heap_cost(bench_emulator, "per_poll")
    assert provider.left <= MAX_HEAP_LEFT_PER_WAIT, provider
    # 8-11 KB a wait at its peak, against 15-24 KB for a new session per poll.
    assert provider.peak < per_poll.peak, (provider, per_poll)


async def test_the_hop_counter_sees_every_kind_of_thread_hop() -> None:
    """The instrument itself: a counter that saw nothing would make the test above pass for nothing."""
    loop = asyncio.get_running_loop()
    hops = HopCounter()
    hops.install(loop)

    async def hopping() -> None:
        await asyncio.to_thread(sum, [1, 2])
        await loop.run_in_executor(None, sum, [3])

    await loop.create_task(hopping(), name="wait-1")
    await asyncio.sleep(0)
    assert hops.by_task == {"wait-1": 2}
    assert hops.total == 2
    assert hops.sites == {f"{__name__}:hopping": 2}
