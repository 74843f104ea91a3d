"""One benchmark client in its own process: ``python -m benchmarks.clients SPEC.json RESULT.json``.

Kinds, all polling the same job URLs at the same interval (sleep after each answer, as the trigger
does) until ``Success``, each wait's first poll after the same spread delay as the trigger's (a fraction
of the interval derived from the job id), so that every client makes the same GETs at the same times:

- ``floor``: one shared ``aiohttp.ClientSession`` (trust_env off, 100 connections), a bare GET, read
  and ``json.loads`` with a ready IAM token in a fixed header: no signing, nothing per call.
- ``floor_airflow``: the floor in a process that has first loaded what a triggerer's has, as the
  provider's has: the same work on the same heap.
- ``per_poll``: the same GET in a new ``ClientSession`` per poll (dbt-cloud's and
  ``HttpSensorTrigger``'s pattern): a new TCP (and TLS) connection each time. Those are triggers, so
  its process has loaded a triggerer's modules too.
- ``provider``: real ``CfwJobTrigger`` instances (``async for event in trigger.run()``), built as the
  sensor defers them (told the status its first poke read, Running), the connection from
  ``AIRFLOW_CONN_CFW_DEFAULT``.

Everything is measured from the moment the waits start, after the imports: process CPU, event-loop
lag, thread-pool hops per wait; memory is also taken after ``import airflow`` (provider only).
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import json
import pstats
import ssl
import statistics
import sys
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.probe import GcPauses, HopCounter, LagTicker, peak_rss_kb, rss_kb

TERMINAL = frozenset({"Success", "Failed"})
#: The client writes the first file once it has warmed up, and starts its waits when the harness writes
#: the second (after zeroing the emulator's counters).
READY_FILE, GO_FILE = "ready", "go"
#: Imports and one warm-up wait, on a busy machine.
WARM_UP_TIMEOUT_S = 120.0
#: The ticker runs alone first, to take its own (and an idle process's) CPU out of the figure: the median
#: rate of several short windows. One window is too noisy for that: on a shared machine an idle process's
#: CPU rate over 0.5 s ranges from 3 to 16 ms/s, and at N = 100 (2,000 polls in 20 s) each 1 ms/s is
#: 10 us per poll, a twentieth of the floor's cost.
IDLE_WINDOWS, IDLE_WINDOW_SECONDS = 8, 0.25

Outcome = tuple[str, float | None]  # final status, when the emulator says the job ended (epoch s)
WaitFactory = Callable[[str], Awaitable[Outcome]]


def _ssl_option(spec: dict[str, Any]) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=spec["cafile"]) if spec.get("cafile") else True


def _headers(spec: dict[str, Any]) -> dict[str, str]:
    # The provider's headers, with a ready token in place of a per-request signature.
    return {
        "Content-Type": "application/json;charset=UTF-8",
        "X-Project-Id": spec["project"],
        "X-Auth-Token": spec["token"],
    }


def _first_poll_delay(job_id: str, interval: float) -> float:
    # CfwJobTrigger.first_poll_delay's schedule, without importing the provider (and Airflow) here.
    return interval * zlib.crc32(job_id.encode("utf-8")) / 2**32


def _outcome(body: bytes) -> Outcome | None:
    data = json.loads(body)["data"]
    if data["status"] not in TERMINAL:
        return None
    end = data.get("end_time")
    return data["status"], None if end is None else end / 1000


async def _floor_waits(spec: dict[str, Any], run: Callable[[WaitFactory], Awaitable[None]]) -> None:
    import aiohttp

    ssl_option, headers, interval = _ssl_option(spec), _headers(spec), spec["interval"]
    connector = aiohttp.TCPConnector(limit=spec["pool_size"])
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:

        async def wait(job_id: str) -> Outcome:
            url = f"{spec['url']}/v3/{spec['project']}/jobs/{job_id}"
            await asyncio.sleep(_first_poll_delay(job_id, interval))
            while True:
                async with session.get(url, headers=headers, ssl=ssl_option) as response:
                    body = await response.read()
                outcome = _outcome(body)
                if outcome is not None:
                    return outcome
                await asyncio.sleep(interval)

        await run(wait)


async def _per_poll_waits(spec: dict[str, Any], run: Callable[[WaitFactory], Awaitable[None]]) -> None:
    import aiohttp

    ssl_option, headers, interval = _ssl_option(spec), _headers(spec), spec["interval"]

    async def wait(job_id: str) -> Outcome:
        url = f"{spec['url']}/v3/{spec['project']}/jobs/{job_id}"
        await asyncio.sleep(_first_poll_delay(job_id, interval))
        while True:
            async with (
                aiohttp.ClientSession() as session,
                session.get(url, headers=headers, ssl=ssl_option) as response,
            ):
                body = await response.read()
            outcome = _outcome(body)
            if outcome is not None:
                return outcome
            await asyncio.sleep(interval)

    await run(wait)


async def _provider_waits(spec: dict[str, Any], run: Callable[[WaitFactory], Awaitable[None]]) -> None:
    from airflow_provider_cfw.triggers.cfw import CfwJobTrigger

    async def wait(job_id: str) -> Outcome:
        # Built as CfwJobSensor defers: its first poke read Running, and it hands that over.
        trigger = CfwJobTrigger(job_id=job_id, poll_interval=spec["interval"], last_status="Running")
        outcome: Outcome = ("no event", None)
        # Run to the end, as the triggerer does: a generator left open costs an asyncgen finalizer
        # wake-up on the loop that the triggerer never pays.
        async for event in trigger.run():
            payload = event.payload
            if payload["status"] != "success":
                outcome = payload["status"], None
            else:
                end = payload["job"]["end_time"]
                outcome = "Success", None if end is None else datetime.fromisoformat(end).timestamp()
        return outcome

    await run(wait)


KINDS = {
    "floor": _floor_waits,
    "floor_airflow": _floor_waits,
    "per_poll": _per_poll_waits,
    "provider": _provider_waits,
}
#: The clients whose process loads a triggerer's modules before the clock starts: the triggers' patterns
#: run where triggers run, and the floor once there for the same heap.
AIRFLOW_KINDS = frozenset({"floor_airflow", "per_poll", "provider"})


async def _measure(spec: dict[str, Any], result: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    ticker = LagTicker()
    ticker.start()
    idle_rates = []
    for _ in range(IDLE_WINDOWS):
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(IDLE_WINDOW_SECONDS)
        idle_rates.append((time.process_time() - cpu) / (time.perf_counter() - wall))
    idle_cpu_per_s = statistics.median(idle_rates)
    ticker.lateness.clear()
    hops = HopCounter()
    hops.install(loop)
    waits: dict[str, dict[str, Any]] = {}

    async def run(wait: WaitFactory) -> None:
        async def one(job_id: str) -> None:
            try:
                status, ended_at = await wait(job_id)
            except Exception as err:
                status, ended_at = f"error: {type(err).__name__}: {err}", None
            waits[job_id] = {"status": status, "event_at": time.time(), "ended_at": ended_at}

        tasks = [loop.create_task(one(job_id), name=job_id) for job_id in spec["jobs"]]
        # A client that cannot keep up still reports what it did before the deadline.
        await asyncio.wait(tasks, timeout=spec["deadline_s"])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    gc_pauses = GcPauses()
    gc_pauses.start()
    cpu, wall, started = time.process_time(), time.perf_counter(), time.time()
    await KINDS[spec["kind"]](spec, run)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    gc_pauses.stop()
    lateness = await ticker.stop()
    for job_id, entry in waits.items():
        entry["hops"] = hops.by_task.get(job_id, 0)
    result.update(
        started_at=started,
        cpu_s=cpu,
        wall_s=wall,
        idle_cpu_per_s=idle_cpu_per_s,
        idle_cpu_windows=idle_rates,
        lag_s=lateness,
        hops_total=hops.total,
        hop_sites=dict(hops.sites.most_common(8)),
        gc=gc_pauses.summary(),
        waits=waits,
        rss_end_kb=rss_kb(),
        peak_rss_kb=peak_rss_kb(),
    )


async def _count_calls(spec: dict[str, Any], result: dict[str, Any]) -> None:
    """The waits under cProfile, nothing else on the loop: every Python function call they make (a count,
    the same from run to run, unlike CPU time). Times from such a run mean nothing."""
    waits: dict[str, dict[str, Any]] = {}

    async def run(wait: WaitFactory) -> None:
        async def one(job_id: str) -> None:
            status, _ = await wait(job_id)
            waits[job_id] = {"status": status}

        await asyncio.gather(*(one(job_id) for job_id in spec["jobs"]))

    profile = cProfile.Profile()
    profile.enable()
    await KINDS[spec["kind"]](spec, run)
    profile.disable()
    result.update(python_calls=pstats.Stats(profile).total_calls, waits=waits)  # type: ignore[attr-defined]


async def _trace_memory(spec: dict[str, Any], result: dict[str, Any]) -> None:
    """The waits under tracemalloc, in three rounds on one loop. The first pays what a process pays once
    (a pool, a token, a connection) and is not traced; the third is measured against where the second
    left the heap: the bytes it held at its peak, and what it left behind once its waits had ended (after
    a full collection). Both rounds are traced, so that a block allocated before tracing and freed after
    cannot count. Bytes the interpreter allocated, not what the OS counts. Times from such a run mean
    nothing."""
    jobs = spec["jobs"]
    third = len(jobs) // 3
    rounds = [jobs[:third], jobs[third : 2 * third], jobs[2 * third :]]

    async def run(wait: WaitFactory) -> None:
        async def one_round(job_ids: list[str]) -> None:
            outcomes = await asyncio.gather(*(wait(job_id) for job_id in job_ids))
            # A set of a few strings: the heap a record per wait would hold is not the waits'.
            statuses.update(status for status, _ in outcomes)
            del outcomes
            # The loop's step that woke this task holds the gathering future, and with it every wait's
            # task, until the next step.
            await asyncio.sleep(0)
            gc.collect()

        statuses: set[str] = set()
        await one_round(rounds[0])
        tracemalloc.start()
        await one_round(rounds[1])
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        await one_round(rounds[2])
        left, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result.update(
            heap_waits=len(rounds[2]),
            heap_peak_bytes=peak - before,
            heap_left_bytes=left - before,
            statuses=sorted(statuses),
        )

    await KINDS[spec["kind"]](spec, run)


async def _warm_up(spec: dict[str, Any]) -> None:
    """One wait on the warm-up job, on a loop of its own, so that what a process pays once (Airflow's
    secrets backends, the logging set-up, the first connection) is not counted as the cost of polls: a
    triggerer that has run for a while has paid it. The provider then forgets the connection, the
    token and the project it looked up, so that the measured waits look them up as before."""

    async def run(wait: WaitFactory) -> None:
        await wait(spec["warm_up_job"])

    await KINDS[spec["kind"]](spec, run)
    if spec["kind"] == "provider":
        from airflow_provider_cfw.core.iam import PROJECTS, TOKENS
        from airflow_provider_cfw.hooks.connection_cache import ASYNC_CONNECTIONS

        ASYNC_CONNECTIONS.clear()
        TOKENS.clear()
        PROJECTS.clear()


def _wait_for_the_harness() -> None:
    Path(READY_FILE).write_text("")
    deadline = time.monotonic() + WARM_UP_TIMEOUT_S
    while not Path(GO_FILE).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"no word from the harness within {WARM_UP_TIMEOUT_S:.0f} s")
        time.sleep(0.01)


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    result: dict[str, Any] = {"kind": spec["kind"], "rss_start_kb": rss_kb()}
    started = time.perf_counter()
    if spec["kind"] in AIRFLOW_KINDS:
        # What a triggerer's process has loaded before it starts a trigger (its runner module pulls in
        # the task SDK's supervisor, which Airflow's connection lookup would otherwise import on the
        # loop): its memory is shown apart from the client's.
        import airflow.jobs.triggerer_job_runner  # noqa: F401

        result["rss_after_airflow_kb"] = rss_kb()
        result["airflow_import_s"] = time.perf_counter() - started
    if spec["kind"] == "provider":
        import airflow_provider_cfw.hooks.cfw
        import airflow_provider_cfw.triggers.cfw  # noqa: F401 - imported before the clock starts
    else:
        import aiohttp  # noqa: F401 - imported before the clock starts
    result["imports_s"] = time.perf_counter() - started
    result["rss_ready_kb"] = rss_kb()
    asyncio.run(_warm_up(spec))
    # The full collection that the import-time heap has made due (Airflow's, for the provider: 200,000
    # objects) is a start-up cost like the imports: a triggerer that has run for a while has paid it.
    # Left to the waits, it lands in the first clients' window as one long pause whoever allocated.
    gc.collect()
    if spec.get("gc_freeze"):
        # What the loop's worst lag would be if the process kept its import-time heap out of the
        # collector's full passes altogether.
        gc.freeze()
    _wait_for_the_harness()
    if spec.get("count_calls"):
        asyncio.run(_count_calls(spec, result))
    elif spec.get("trace_memory"):
        asyncio.run(_trace_memory(spec, result))
    else:
        asyncio.run(_measure(spec, result))
    Path(argv[1]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
