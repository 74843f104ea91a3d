"""``docs/performance.md``, written from a real run by ``python -m benchmarks --write-docs``."""

from __future__ import annotations

import re
from typing import Any

from benchmarks.memory import POLLS as HEAP_POLLS
from benchmarks.memory import N as HEAP_WAITS
from benchmarks.parse_cost import ParseCost
from benchmarks.report import parse_table, startup_table

#: The section ``python -m tests.e2e.race_bench --write-docs`` writes; ``make bench`` keeps it as it is.
SECTION_START = "<!-- waits: written by python -m tests.e2e.race_bench --write-docs -->"
SECTION_END = "<!-- waits: end -->"

_INTRO = """\
# Performance

The provider exists so that hundreds of CFW waits sit cheaply on one triggerer. This page is written
by `make bench` (`python -m benchmarks --write-docs`) from the run described below; rerun it on your
machine rather than trusting these numbers on yours.

## What is measured

Four clients poll the same jobs, each in **its own process**, one after another, against **one
emulator process** (`airflow_provider_cfw.testing.CfwEmulator` in a child process):

- **floor**: one shared `aiohttp.ClientSession` (`trust_env=False`, 100 connections): a bare GET,
  `read()` and `json.loads`, with a ready IAM token in a fixed `X-Auth-Token` header (no signing,
  nothing computed per call). No client can do less work for the same answers.
- **floor, Airflow loaded**: the same floor in a process that has first imported what a triggerer's
  has (`airflow.jobs.triggerer_job_runner`), as the provider's process has. It does the floor's work
  on a triggerer's heap: about 200,000 objects that every full garbage collection walks, with the
  loop stopped, whoever's objects made the collection due.
- **new session per poll**: the same GET in a new `ClientSession` per poll, the pattern of dbt-cloud's
  trigger and `HttpSensorTrigger`: a new TCP (and TLS) connection per poll. Those are triggers and run
  only on a triggerer, so this process, too, has loaded Airflow first, as the provider's has.
- **`CfwJobTrigger`**: real triggers, `async for event in trigger.run()`, all on one event loop as on a
  triggerer, built as `CfwJobSensor` defers them (`last_status="Running"`: what its first poke read and
  logged on the worker, so the trigger logs only a change); the connection comes from
  `AIRFLOW_CONN_CFW_DEFAULT` (AK/SK signing, as in production). A trigger that is not told a status
  (an operator's, after it submits) logs its first one: about 200 Python calls more per wait.
  About half of what the provider adds per poll is the signing: a SHA-256 of the canonical request and
  an HMAC-SHA256 of that, on every request, which a client holding a ready token never computes.
  Before the clock starts the process loads what a triggerer's has loaded (`airflow.jobs.triggerer_job_runner`)
  and the hook module; starting a trigger cold is measured apart.

Each of the N waits polls a job scripted to answer `Running` {polls_minus_one} times, then `Success`,
sleeping the interval after each answer (as the trigger does), all N starting at the same instant.
Every client makes its first poll of a wait after the trigger's spread delay (a fraction of the
interval derived from the job id, as after a triggerer restart), so all four make the same GETs at the
same times: polls that stay bunched in one instant cost less per poll (one loop wake-up serves many
sockets) but stall the loop, and a real triggerer's waits are spread anyway, deferred at different times.
A client still polling after four times the ideal wait (plus 30 s) is stopped: the `events` column
then shows how many waits it finished, and `polls / ideal` how far it got.

Per client, from the moment the waits start: interpreter start-up, imports and one warm-up wait of the
client's own (on a loop of its own, before the emulator's counters are zeroed) are excluded, so that
what a process pays once (for the provider: Airflow's secrets backends, its logging set-up, the first
connection) is not counted as the cost of polls; "Starting one trigger" below shows it
apart. The provider forgets the connection, token and project it looked up in the warm-up. Each
client then runs one full garbage collection (`gc.collect()`) before the clock starts: the import-time
heap makes one due, a triggerer that has run for a while has had it, and left to the waits it would
land in the measured window as one long pause, in whichever client it fell. Full collections that the
waits themselves make due are counted (`full GCs`) and their pauses are in the lag figures.

| figure | kind | how |
|---|---|---|
| CPU s / 1,000 polls | time | the client process's CPU (all threads) during the waits, less what the same process burns idle with the lag ticker running (the median rate of eight 0.25 s windows first), per 1,000 polls the emulator answered |
| loop lag p50 / p99 / max | time | a coroutine sleeps 10 ms over and over and records how late it wakes: how long the loop was busy with something else |
| longest GC pause (full GCs) | time (count) | the longest garbage collection during the waits (`gc.callbacks`), and how many were full collections: a full collection walks every object the process holds, Airflow's included, with the loop stopped |
| peak RSS | size | the process's peak resident memory; where the process loaded Airflow, what `airflow.jobs.triggerer_job_runner` (the module a triggerer runs) added to the fresh interpreter is shown in brackets, and the ratios leave it out (a triggerer has paid it already) |
| TCP conns | count | connections the emulator accepted |
| IAM tokens | count | tokens the emulator issued (`POST /v3/auth/tokens`) |
| polls / ideal | count | job requests the emulator answered, against N x polls per wait (more means retries or duplicate polls) |
| thread hops / poll | count | `loop.run_in_executor` calls (`asyncio.to_thread` included), per poll: each hands the GIL to a worker thread and back |
| Success→event | time | from the emulator answering `Success` (its `end_time`, ms resolution, same host clock) to the client holding the event: the client's own delay, not the polling interval's |
| events | count | waits that ended with a success event |

**Counts are stable** (the same on every run and every machine; `make test` asserts them in a small
run, `tests/benchmarks/test_bench_smoke.py`). **Times are noisy**: the machine below is shared, so
compare the clients within one table (they ran back to back, interleaved), not across machines; with
`--repeat R` each time is the median of R runs. The tables below come from {repeat_text}.
"""

_COMMANDS = """\
## Running it

```bash
make bench                         # N = 100, 500, 1000 x 20 polls, plain HTTP and TLS (~10 min on 2 cores)
BENCH_QUICK=1 make bench           # N = 100 x 5 polls, plain HTTP (about a minute)
.venv/bin/python -m benchmarks --n 3000 --transports http --repeat 3   # any size; times as medians of 3
.venv/bin/python -m benchmarks --auth password                         # IAM password tokens instead of AK/SK
.venv/bin/python -m benchmarks --provider-src /path/to/other/checkout  # measure another version of the provider
.venv/bin/python -m benchmarks --clients floor,provider --n 500 --transports http --gc-freeze
                                   # gc.freeze() after the imports: the lag without full collections of the import-time heap
.venv/bin/python -m benchmarks --write-docs                             # regenerate this page
make race RACE_ARGS=--write-docs   # "Where a wait's cost really is", on a real Airflow stack (~40 min)
```

N = 3,000 at one poll per second needs more CPU than two shared cores give to four clients and the
emulator; run it with `--n 3000` on a bigger machine.
"""


def _code_size_text(code_kb: float | None) -> str:
    if code_kb is None:
        return ""
    return (
        f"The provider's code, measured apart: its sensor, trigger and hook modules add {code_kb:.0f} KB "
        "resident to a fresh process that has loaded a triggerer's Airflow, aiohttp and requests "
        "(`benchmarks/memory.py`), once per process. "
    )


def render_page(
    environment: str,
    tables: str,
    targets: str,
    startup: dict[str, Any] | None,
    parse: ParseCost | None,
    calls: str | None,
    heap: str | None,
    *,
    polls: int,
    repeat: int,
    code_kb: float | None = None,
) -> str:
    repeat_text = "one run of each client" if repeat == 1 else f"{repeat} runs of each client (medians)"
    parts = [
        _INTRO.format(polls_minus_one=polls - 1, repeat_text=repeat_text),
        "## The run",
        "",
        environment,
        "",
        tables,
        "## Against issue 12's targets",
        "",
        "Worked out from the tables above (a figure at or above the per-poll pattern's counts as not below). "
        "Peak RSS is left out of the last column: it counts each client's code as well as its waits, and "
        "at N = 100 the provider's modules weigh about as much as what 100 waits hold, so there it "
        'compares code more than waits; "Python heap per wait" below measures the waits alone. '
        f"{_code_size_text(code_kb)}At N = 100 each poll mostly runs alone in its loop step, with its code cold in the "
        "CPU caches: every extra line costs several times its price in a hot loop, and the provider runs "
        "more lines per poll (the signing, the parsing into a `CfwJob`) than a bare GET. CPU per poll is "
        "also noisiest there: 2,000 polls against an idle correction taken over 2 s.",
        "",
        targets,
        "",
    ]
    if calls is not None:
        parts += [
            "## Python calls per poll",
            "",
            "The one cost figure that is a count, so it hardly moves with the machine's load (a few per cent "
            "between runs, with how the event loop's wake-ups fall, where CPU time moves by tens): every Python "
            "function call a client makes for its waits (cProfile, plain HTTP, 50 waits of 2 and of 12 "
            "polls, in its own process; `benchmarks/calls.py`). The difference between the two runs is "
            "the cost of a poll; what is left is the cost of starting and ending a wait. Calls are not "
            "all alike (a syscall or a hash counts one), but the provider's extra work is almost all "
            "Python, so the ratio tracks its CPU. `make test` holds the provider to at most 1.3x the "
            "floor's calls per poll (`tests/benchmarks/test_bench_smoke.py`).",
            "",
            calls,
            "",
        ]
    if heap is not None:
        parts += [
            "## Python heap per wait",
            "",
            "Peak RSS, in the tables above, is what the OS sees: it counts each client's code (the "
            "provider's modules, about 0.4 MB, which a bare loop has none of) and moves with where the "
            f"allocator finds free pages. Here each client runs three rounds of {HEAP_WAITS} waits of "
            f"{HEAP_POLLS} polls "
            "under `tracemalloc`, in its own process (`benchmarks/memory.py`), and the last round is "
            "measured against where the one before left the heap: the bytes its waits held at their "
            "peak, and the bytes still held once they had all ended, which is what a triggerer that runs "
            "for weeks would keep of every wait it has seen. Nearly counts: they move little between runs.",
            "",
            heap,
            "",
        ]
    if startup is not None:
        parts += [
            "## Starting one trigger",
            "",
            "In a fresh process against the same emulator: the first trigger pays the imports and the "
            "pool; later triggers pay Airflow's connection lookup and the hook's set-up on top of one "
            "poll. The lookup reads the `AIRFLOW_CONN_*` environment variable here; with a secrets "
            "backend or the metadata database behind it, it costs that backend's round trip.",
            "",
            startup_table(startup),
            "",
        ]
    if parse is not None:
        parts += [
            "## DAG parse cost",
            "",
            "A DAG file that builds the sensor imports `airflow.sdk` and the sensor module; every parse "
            "of the file by the dag-processor pays for it. Each sample is a fresh interpreter; the "
            "percentage pairs the two imports within one process, so that a busy moment slows both.",
            "",
            parse_table(parse),
            "",
        ]
    parts.append(_COMMANDS)
    return "\n".join(parts)


def replace_section(page: str, new: str) -> str:
    """``page`` with its waits section replaced by ``new``; where there is none yet, right after the
    per-poll tables (before the targets), so that a reader sees the two side by side."""
    pattern = re.compile(re.escape(SECTION_START) + ".*?" + re.escape(SECTION_END), re.S)
    if pattern.search(page):
        return pattern.sub(lambda _: new, page)
    marker = "## Against issue 12's targets"
    head, found, tail = page.partition(marker)
    return f"{head}{new}\n\n{found}{tail}" if found else f"{page}\n{new}\n"


def current_section(page: str) -> str | None:
    """The waits section of a page, so that ``make bench`` keeps it when it rewrites the rest."""
    match = re.search(re.escape(SECTION_START) + ".*?" + re.escape(SECTION_END), page, re.S)
    return match.group(0) if match else None
