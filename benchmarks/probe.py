"""What a client process measures about itself: event-loop lag, thread-pool hops, memory."""

from __future__ import annotations

import asyncio
import gc
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

#: How often the lag ticker wakes: lateness beyond this is time the loop could not run it.
TICK_SECONDS = 0.01


def percentile(samples: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile (0 for no samples)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def rss_kb() -> int:
    """Resident set size right now (Linux ``VmRSS``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_rss_kb() -> int:
    """The process's peak resident set size so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class LagTicker:
    """A coroutine that sleeps ``period`` over and over and records how late each wake-up was.

    :param period: seconds between wake-ups.
    """

    def __init__(self, period: float = TICK_SECONDS) -> None:
        self.period = period
        self.lateness: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.period
            await asyncio.sleep(self.period)
            self.lateness.append(max(0.0, loop.time() - due))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> list[float]:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        return self.lateness


def _call_site() -> str:
    """The first frame outside asyncio and this module: who asked for the thread."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(("asyncio", __name__, "concurrent")):
            return f"{module}:{frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


class GcPauses:
    """Records each garbage collection's generation and duration (``gc.callbacks``).

    A full collection walks every tracked object: in a process that imported Airflow that is a long
    pause of the event loop, whoever allocated.
    """

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._started))

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self) -> dict[str, float]:
        full = [seconds for generation, seconds in self.pauses if generation == 2]
        return {
            "collections": len(self.pauses),
            "full_collections": len(full),
            "max_s": max((seconds for _, seconds in self.pauses), default=0.0),
            "full_total_s": sum(full),
        }


class HopCounter:
    """Counts ``loop.run_in_executor`` calls (``asyncio.to_thread`` goes through it too), per task.

    Each hop hands the GIL to a worker thread and back: on a triggerer's loop, one per poll is a cost
    paid by every wait. Hops are attributed to the asyncio task that asked, so a client can tell a
    once-per-wait hop (a connection lookup) from a per-poll one.
    """

    def __init__(self) -> None:
        self.by_task: Counter[str] = Counter()
        self.sites: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.by_task.values())

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        original: Callable[..., Any] = loop.run_in_executor

        def counting(executor: Any, func: Callable[..., Any], *args: Any) -> Any:
            task = asyncio.current_task(loop)
            self.by_task[task.get_name() if task is not None else "<no task>"] += 1
            self.sites[_call_site()] += 1
            return original(executor, func, *args)

        # An instance attribute shadows the method for every caller that looks it up on the loop.
        loop.run_in_executor = counting  # type: ignore[method-assign,assignment]
