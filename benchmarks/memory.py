"""The Python heap a wait holds while it runs, and what it leaves behind once it has ended.

Peak RSS (in the main tables) is what the OS sees: it counts each client's code too (the provider's
modules, about 0.4 MB, which a bare loop does not have) and moves with where the allocator finds free
pages. Here each client runs its waits under ``tracemalloc`` in its own process, in three rounds on one
loop, and the last round is measured against where the one before left the heap: bytes the interpreter
allocated for the waits and still held at their peak, and bytes still held after they had all ended (a
wait's state kept in a process-wide cache, say). Nearly counts: they move little from run to run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import EmulatorProcess, RunSpec, run_client, uniform

#: Waits per round, and polls per wait.
N, POLLS = 200, 4


@dataclass(frozen=True)
class HeapCost:
    """The Python heap one client's waits held, per wait.

    :param peak: held at the peak of a round of waits, above where the round started.
    :param left: still held once the round's waits had ended.
    """

    peak: float
    left: float


def heap_cost(
    emu: EmulatorProcess, kind: str, *, n: int = N, interval: float = 0.2, provider_src: Path | None = None
) -> HeapCost:
    """Trace ``kind``'s heap for three rounds of ``n`` waits of :data:`POLLS` polls; the last is measured."""
    spec = RunSpec(kind, uniform(3 * n, POLLS), interval, trace_memory=True)
    result = run_client(emu, spec, provider_src=provider_src)
    client = result.client
    statuses = set(client["statuses"])
    if result.polls != 3 * n * POLLS or statuses != {"Success"}:
        raise RuntimeError(f"{kind}: {result.polls} polls for 3 x {n} x {POLLS}, statuses {statuses}")
    waits = client["heap_waits"]
    return HeapCost(peak=client["heap_peak_bytes"] / waits, left=client["heap_left_bytes"] / waits)


def heap_table(costs: dict[str, HeapCost], labels: dict[str, str]) -> str:
    """One row per client: bytes per wait at the peak and left behind, and the peak against the others'."""
    provider = costs.get("provider")
    lines = [
        "| client | heap held at the peak, per wait | left behind, per finished wait | provider's peak vs this |",
        "|---|---|---|---|",
    ]
    for kind, cost in costs.items():
        vs = f"{provider.peak / cost.peak:.2f}x" if provider is not None and kind != "provider" else "-"
        lines.append(
            f"| {labels.get(kind, kind)} | {cost.peak / 1024:.1f} KB | {cost.left:.0f} bytes | {vs} |"
        )
    return "\n".join(lines)


_CODE_SIZE_PROBE = """
import gc, json
import airflow.jobs.triggerer_job_runner, aiohttp, requests
from benchmarks.probe import rss_kb
gc.collect(); before = rss_kb()
import airflow_provider_cfw.hooks.cfw, airflow_provider_cfw.triggers.cfw, airflow_provider_cfw.sensors.cfw
gc.collect(); print(json.dumps({"kb": rss_kb() - before}))
"""


def code_size_kb(provider_src: Path | None = None) -> float:
    """Resident memory the provider's own modules (sensor, trigger, hook and what they import of the
    provider) add to a fresh process that has loaded a triggerer's Airflow, aiohttp and requests:
    the code a bare loop does not carry, reported apart from what waits cost (issue 25)."""
    import json
    import subprocess
    import sys
    import tempfile

    from benchmarks.harness import ROOT, client_env

    with tempfile.TemporaryDirectory(prefix="cfw-bench-code-") as home:
        out = subprocess.run(  # noqa: S603 - this interpreter, fixed code
            [sys.executable, "-c", _CODE_SIZE_PROBE],
            cwd=ROOT,
            env=client_env(provider_src, Path(home)),
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["kb"])
