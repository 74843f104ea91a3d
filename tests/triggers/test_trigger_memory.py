"""A triggerer runs for weeks and sees thousands of waits come and go: a wait that has ended must leave
nothing of its own behind (its request, signer, parsed times, wire URL), whether in a cache keyed by job
or anywhere else. Measured in a child process as bytes the Python heap still holds, per finished wait."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from tests.conftest import PROJECT

BATCH = 150
#: One batch to warm the process up, two for bounded caches (the stdlib's, the logging's) to fill, two
#: measured.
BATCHES = 5
#: Bytes a finished wait may leave behind (allocator and interpreter noise); a wait's own state, kept,
#: is about 4 KB (its request, signer, wire URL, call and parsed time).
MAX_BYTES_LEFT_PER_WAIT = 300
#: More objects of one kind alive after 300 waits ended than before them (a leak of one per wait: 300).
MAX_NEW_OBJECTS = 5

# A fresh interpreter: the emulator (in the test's process) and other tests leave nothing in its heap.
CHILD = textwrap.dedent(
    """
    import asyncio, collections, gc, json, sys, tracemalloc
    from airflow_provider_cfw.triggers.cfw import CfwJobTrigger

    # What a wait makes of its own: alive after it has ended, each would be a leak of one per wait.
    PER_WAIT = {"CfwJobTrigger", "CfwHook", "CfwClient", "HttpRequest", "RequestSigner", "CfwJob", "DateTime", "URL"}

    def alive():
        counts = collections.Counter(type(o).__name__ for o in gc.get_objects())
        return {name: counts[name] for name in sorted(PER_WAIT)}

    async def one(job_id):
        trigger = CfwJobTrigger(job_id=job_id, project_id=sys.argv[2], poll_interval=0.02)
        return [event.payload["status"] async for event in trigger.run()]

    async def batch(job_ids):
        return [events == ["success"] for events in await asyncio.gather(*(one(j) for j in job_ids))]

    async def main(batches):
        # The first batch pays what a process pays once (imports, the pool, the token, the connection).
        ok = await batch(batches[0])
        gc.collect()
        tracemalloc.start()
        held, objects = [], []
        for job_ids in batches[1:]:
            ok += await batch(job_ids)
            gc.collect()
            held.append(tracemalloc.get_traced_memory()[0])
            objects.append(alive())
        return ok, held, objects

    # One loop for all batches, as on a triggerer (the pool lives as long as a wait holds it).
    ok, held, objects = asyncio.run(main(json.loads(sys.argv[1])))
    print(json.dumps({"ok": sum(ok), "held": held, "objects": objects}))
    """
)


@pytest.mark.parametrize("auth", ["aksk", "password"])
def test_a_finished_wait_leaves_nothing_behind(emu: Any, set_conn: Any, auth: str) -> None:
    conn = set_conn(auth=auth)
    batches = [[f"mem-{auth}-{b}-{i:03d}" for i in range(BATCH)] for b in range(BATCHES)]
    for job_id in (job_id for job_ids in batches for job_id in job_ids):
        emu.add_job(PROJECT, job_id, statuses=["Running", "Success"])

    result = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(batches), PROJECT],
        capture_output=True,
        text=True,
        env={**os.environ, "AIRFLOW_CONN_CFW_DEFAULT": json.dumps(conn)},
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["ok"] == BATCHES * BATCH
    assert emu.stats.count("cfw.job", 200) == 2 * BATCHES * BATCH
    # What the heap held after the last batch beyond what it held two batches before: per wait, what
    # each finished wait left.
    # Counted: none of a wait's own objects outlives it (a cache of parsed times, say, keeps a few
    # hundred bytes a wait, within the noise of the bytes below).
    before, after = report["objects"][-3], report["objects"][-1]
    grown = {
        name: after[name] - before[name] for name in after if after[name] - before[name] > MAX_NEW_OBJECTS
    }
    assert grown == {}, f"alive after {2 * BATCH} more waits ended: {grown}"
    held = report["held"]
    left_per_wait = (held[-1] - held[-3]) / (2 * BATCH)
    assert left_per_wait < MAX_BYTES_LEFT_PER_WAIT, f"{left_per_wait:.0f} bytes left per finished wait"
