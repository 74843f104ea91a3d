"""The cost of starting one trigger, and of Airflow's connection lookup, in a fresh process.

``python -m benchmarks.startup SPEC.json RESULT.json`` (the spec names the jobs: ``cold``, ``warm`` and
``holder``). Measured in order:

1. ``import airflow``, then the trigger module (what the triggerer imports on its event loop).
2. The first trigger of the process, from ``run()`` to its event: lazy imports, the connection
   lookup, building the hook and client, the HTTP pool, one poll; and the longest time the event
   loop could not run anything else meanwhile.
3. Warm: while another wait holds the pool open, each new trigger from ``run()`` to its event (a job
   that is already Success: one poll). The difference to a bare poll is the per-trigger set-up.
4. Airflow's connection lookup alone (``get_async_connection`` and ``get_async_extra_dejson``, as the
   hook calls them; the synchronous ``get_connection`` for comparison), per call.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.account import CONN_ID, connection_uri_env
from benchmarks.harness import EmulatorProcess, client_env, job_ids
from benchmarks.probe import HopCounter, LagTicker

LOOKUPS = 200
WARM_TRIGGERS = 30
#: The measured triggers poll once; a tiny interval keeps a spread first poll (a fraction of the
#: interval) out of the figure, and what remains of it is subtracted.
MEASURED_INTERVAL = 0.001
#: The holder polls its never-ending job this often, holding the pool open from its first poll on.
HOLDER_INTERVAL = 1.0


async def _to_event(trigger: Any) -> str:
    async for event in trigger.run():
        return str(event.payload["status"])
    return "no event"


async def _timed_trigger(trigger_class: type, job_id: str) -> tuple[float, float, str]:
    trigger = trigger_class(job_id=job_id, poll_interval=MEASURED_INTERVAL)
    cpu, wall = time.process_time(), time.perf_counter()
    status = await _to_event(trigger)
    wall = time.perf_counter() - wall - getattr(trigger, "first_poll_delay", 0.0)
    return wall, time.process_time() - cpu, status


async def _measure(spec: dict[str, Any], trigger_class: type, result: dict[str, Any]) -> None:
    hops = HopCounter()
    hops.install(asyncio.get_running_loop())
    ticker = LagTicker()
    ticker.start()
    wall, cpu, status = await _timed_trigger(trigger_class, spec["cold"])
    lag = max(await ticker.stop(), default=0.0)
    result["cold"] = {"wall_s": wall, "cpu_s": cpu, "status": status, "hops": hops.total, "lag_max_s": lag}

    holder = asyncio.get_running_loop().create_task(
        _to_event(trigger_class(job_id=spec["holder"], poll_interval=HOLDER_INTERVAL))
    )
    # Past the holder's first poll (spread over one interval), so that its lease is held.
    await asyncio.sleep(HOLDER_INTERVAL + 0.3)
    before = hops.total
    warm = [await _timed_trigger(trigger_class, job) for job in spec["warm"]]
    result["warm"] = {
        "count": len(warm),
        "wall_s_median": statistics.median(w for w, _, _ in warm),
        "cpu_s_median": statistics.median(c for _, c, _ in warm),
        "statuses": sorted({s for _, _, s in warm}),
        "hops_per_trigger": (hops.total - before) / len(warm),
    }
    holder.cancel()
    await asyncio.gather(holder, return_exceptions=True)

    from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

    from airflow_provider_cfw.hooks.cfw import CfwHook

    hook = CfwHook(CONN_ID)
    before, times = hops.total, []
    for _ in range(LOOKUPS):
        started = time.perf_counter()
        conn = await get_async_connection(CONN_ID, hook=hook)
        await get_async_extra_dejson(conn)
        times.append(time.perf_counter() - started)
    result["lookup_async"] = {
        "median_s": statistics.median(times),
        "hops_per_call": (hops.total - before) / LOOKUPS,
    }
    times = []
    for _ in range(LOOKUPS):
        started = time.perf_counter()
        hook.get_connection(CONN_ID).extra_dejson  # noqa: B018 - the parse is part of the cost
        times.append(time.perf_counter() - started)
    result["lookup_sync"] = {"median_s": statistics.median(times)}


def measure_startup(emu: EmulatorProcess, provider_src: Path | None = None) -> dict[str, Any]:
    """Run this module in a fresh client process against ``emu``; its measurements."""
    cold, holder, *warm = job_ids(uuid.uuid4().hex, WARM_TRIGGERS + 2)
    # The holder stays Running for the whole measurement, keeping the loop's pool in use.
    jobs = [[cold, 1], [holder, 10_000], *([job, 1] for job in warm)]
    emu.ask({"op": "setup", "jobs": jobs})
    cafile = str(emu.tls.ca) if emu.tls is not None else None
    with tempfile.TemporaryDirectory(prefix="cfw-bench-startup-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "spec.json").write_text(json.dumps({"cold": cold, "holder": holder, "warm": warm}))
        env = client_env(provider_src, tmp_path, connection_uri_env(emu.url, "aksk", cafile))
        with open(tmp_path / "startup.log", "w") as log:
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.startup", "spec.json", "result.json"],
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=300,
                check=False,
            )
        if proc.returncode != 0:
            tail = (tmp_path / "startup.log").read_text()[-3000:]
            raise RuntimeError(f"the start-up probe exited {proc.returncode}:\n{tail}")
        result: dict[str, Any] = json.loads((tmp_path / "result.json").read_text())
    result["server"] = emu.ask({"op": "collect"})
    return result


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    result: dict[str, Any] = {}
    started = time.perf_counter()
    import airflow  # noqa: F401 - timed apart from the provider

    result["import_airflow_s"] = time.perf_counter() - started
    started = time.perf_counter()
    from airflow_provider_cfw.triggers.cfw import CfwJobTrigger

    result["import_trigger_module_s"] = time.perf_counter() - started
    asyncio.run(_measure(spec, CfwJobTrigger, result))
    Path(argv[1]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
