"""Python function calls per poll and per wait: the one cost figure that is a count.

CPU time on a shared machine moves by tens of per cent from run to run; the number of Python function
calls a client makes for the same waits moves by a few (with how the event loop's wake-ups fall).
Each client runs twice under cProfile in its own process, with few and with many polls per wait: the
difference is the cost of a poll, and what is left is the cost of starting and ending a wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import EmulatorProcess, RunSpec, run_client, uniform

#: Polls per wait of the two runs.
FEW, MANY = 2, 12


@dataclass(frozen=True)
class CallCost:
    """Python function calls one client makes.

    :param per_poll: for each poll after the first.
    :param per_wait: for starting and ending a wait (its first poll's set-up included).
    """

    per_poll: float
    per_wait: float

    def at(self, polls: int) -> float:
        """Calls per poll for waits of ``polls`` polls: the wait's cost spread over its polls."""
        return self.per_poll + self.per_wait / polls


def call_cost(
    emu: EmulatorProcess, kind: str, *, n: int = 50, interval: float = 0.2, provider_src: Path | None = None
) -> CallCost:
    """Count ``kind``'s calls for ``n`` waits of :data:`FEW` and of :data:`MANY` polls."""
    totals = []
    for polls in (FEW, MANY):
        spec = RunSpec(kind, uniform(n, polls), interval, count_calls=True)
        result = run_client(emu, spec, provider_src=provider_src)
        statuses = {w["status"] for w in result.client["waits"].values()}
        if result.polls != n * polls or statuses != {"Success"}:
            raise RuntimeError(f"{kind}: {result.polls} polls for {n} x {polls}, statuses {statuses}")
        totals.append(result.client["python_calls"])
    per_poll = (totals[1] - totals[0]) / (n * (MANY - FEW))
    return CallCost(per_poll=per_poll, per_wait=totals[0] / n - FEW * per_poll)


def calls_table(costs: dict[str, CallCost], polls: int, labels: dict[str, str]) -> str:
    """One row per client: calls per poll, per wait, and per poll for waits of ``polls`` polls."""
    floor = costs.get("floor")
    lines = [
        f"| client | Python calls / poll | per wait (start and end) | per poll at {polls} polls a wait "
        "| vs floor, per poll | vs floor, at the same polls |",
        "|---|---|---|---|---|---|",
    ]
    for kind, cost in costs.items():
        vs = (
            f"{cost.per_poll / floor.per_poll:.2f}x | {cost.at(polls) / floor.at(polls):.2f}x"
            if floor is not None
            else "- | -"
        )
        lines.append(
            f"| {labels.get(kind, kind)} | {cost.per_poll:.0f} | {cost.per_wait:.0f} | {cost.at(polls):.0f} | {vs} |"
        )
    return "\n".join(lines)
