"""``python -m benchmarks`` (``make bench``): the clients side by side, start-up cost, DAG parse cost.

``BENCH_QUICK=1`` or ``--quick``: one size, plain HTTP, a few polls, 400 throttled waits (a few minutes).
``--write-docs``: write ``docs/performance.md`` from this run.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from benchmarks.calls import call_cost, calls_table
from benchmarks.docs_page import current_section, render_page, replace_section
from benchmarks.harness import CLIENT_KINDS, ROOT, RunResult, emulator_process, run_matrix
from benchmarks.memory import code_size_kb, heap_cost, heap_table
from benchmarks.parse_cost import measure_parse_cost
from benchmarks.report import LABELS, environment, parse_table, results_tables, startup_table, targets_table
from benchmarks.startup import measure_startup
from benchmarks.throttled import run_matrix as run_throttled
from benchmarks.throttled import table as throttled_table
from benchmarks.throttled import targets as throttled_targets


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", default=quick, help="a small run (also BENCH_QUICK=1)"
    )
    parser.add_argument("--n", type=_ints, help="concurrent waits, comma-separated (default 100,500,1000)")
    parser.add_argument("--polls", type=int, help="polls per wait (default 20)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    parser.add_argument("--transports", help="http,tls (default both)")
    parser.add_argument(
        "--clients", default=",".join(CLIENT_KINDS), help="floor,floor_airflow,per_poll,provider"
    )
    parser.add_argument("--auth", default="aksk", choices=("aksk", "password"), help="the provider's auth")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() in each client after its imports"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each client; times are medians")
    parser.add_argument(
        "--parse-samples", type=int, help="fresh interpreters per parse-cost variant (default 7)"
    )
    parser.add_argument("--skip-startup", action="store_true", help="skip the one-trigger start-up probe")
    parser.add_argument("--skip-parse", action="store_true", help="skip the DAG parse cost")
    parser.add_argument("--skip-calls", action="store_true", help="skip the Python calls per poll")
    parser.add_argument("--skip-heap", action="store_true", help="skip the Python heap per wait")
    parser.add_argument(
        "--throttled", type=_ints, help="waits against a 50 calls/s account limit (default 400,2000)"
    )
    parser.add_argument("--skip-throttled", action="store_true", help="skip the throttled scenario")
    parser.add_argument(
        "--provider-src", type=Path, help="measure the provider package from this source tree"
    )
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--write-docs", action="store_true", help="write docs/performance.md from this run")
    args = parser.parse_args(argv)
    args.n = args.n or ([100] if args.quick else [100, 500, 1000])
    args.polls = args.polls or (5 if args.quick else 20)
    args.transports = (args.transports or ("http" if args.quick else "http,tls")).split(",")
    args.parse_samples = args.parse_samples or (3 if args.quick else 7)
    args.throttled = args.throttled or ([400] if args.quick else [400, 2000])
    return args


def _progress(result: RunResult, round_: int) -> None:
    print(
        f"  {'tls ' if result.tls else 'http'} N={result.spec.n:<5} {result.spec.kind:<9} run {round_ + 1}: "
        f"{result.cpu_per_1000:.3f} CPU s/1k polls, lag max {result.lag_ms():.0f} ms "
        f"(longest GC pause {result.client['gc']['max_s'] * 1000:.0f} ms), "
        f"{result.polls}/{result.ideal_polls} polls, {result.events_ok}/{result.spec.n} events",
        file=sys.stderr,
        flush=True,
    )


def _raw(result: RunResult) -> dict[str, Any]:
    return {
        "kind": result.spec.kind,
        "n": result.spec.n,
        "tls": result.tls,
        "cpu_per_1000": result.cpu_per_1000,
        "lag_ms": [result.lag_ms(50), result.lag_ms(99), result.lag_ms()],
        "peak_rss_mb": result.peak_rss_mb,
        "airflow_rss_mb": result.airflow_rss_mb,
        "own_rss_mb": result.own_rss_mb,
        "connections": result.connections,
        "tokens": result.tokens,
        "polls": result.polls,
        "ideal_polls": result.ideal_polls,
        "hops": result.hops,
        "hop_sites": result.client["hop_sites"],
        "gc": result.client["gc"],
        "events_ok": result.events_ok,
        "latency_ms": [result.event_latency_ms(50), result.event_latency_ms(99)],
        "emulator_cpu_s": result.server["cpu_s"],
    }


#: Options whose value is a path on the machine that ran the benchmark: the page does not print it.
_LOCAL_PATHS = ("--provider-src", "--json")


def public_args(argv: list[str]) -> list[str]:
    """The command line as the published page shows it: local paths replaced by ``<path>``."""
    shown: list[str] = []
    hide_next = False
    for arg in argv:
        name = arg.split("=", 1)[0]
        if hide_next:
            shown.append("<path>")
        elif name in _LOCAL_PATHS and "=" in arg:
            shown.append(f"{name}=<path>")
        else:
            shown.append(arg)
        hide_next = not hide_next and arg in _LOCAL_PATHS
    return shown


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    given = sys.argv[1:] if argv is None else argv
    quick = "BENCH_QUICK=1 " if os.environ.get("BENCH_QUICK", "") not in ("", "0") else ""
    command = quick + (
        "make bench" if not given else "python -m benchmarks " + shlex.join(public_args(given))
    )
    provider_src = args.provider_src.resolve() if args.provider_src else None
    print(f"CFW benchmark: N={args.n}, {args.polls} polls, {args.transports}", file=sys.stderr)
    results = run_matrix(
        args.n,
        args.polls,
        args.interval,
        kinds=args.clients.split(","),
        transports=args.transports,
        auth=args.auth,
        gc_freeze=args.gc_freeze,
        repeat=args.repeat,
        provider_src=provider_src,
        progress=_progress,
    )
    startup = None
    if not args.skip_startup:
        with emulator_process() as emu:
            startup = measure_startup(emu, provider_src)
    parse = None if args.skip_parse else measure_parse_cost(args.parse_samples, provider_src)
    # The floor with Airflow loaded runs the floor's code: the same calls, the same heap.
    kinds = [kind for kind in args.clients.split(",") if kind != "floor_airflow"]
    calls = None
    if not args.skip_calls:
        with emulator_process() as emu:
            costs = {kind: call_cost(emu, kind, provider_src=provider_src) for kind in kinds}
        calls = calls_table(costs, args.polls, LABELS)
    heap = None
    if not args.skip_heap:
        with emulator_process() as emu:
            heaps = {kind: heap_cost(emu, kind, provider_src=provider_src) for kind in kinds}
        heap = heap_table(heaps, LABELS)
    code_kb = None if args.skip_heap else code_size_kb(provider_src)
    throttled = None
    if not args.skip_throttled:
        print(f"Throttled: N={args.throttled} polling every 2 s against 50 calls/s", file=sys.stderr)
        throttled = run_throttled(args.throttled, 2.0, 50.0)

    env = environment(command, str(provider_src) if provider_src else None)
    sections = [env, "", results_tables(results)]
    if calls is not None:
        sections += ["### Python calls (counts)", "", calls, ""]
    if heap is not None:
        sections += ["### Python heap per wait", "", heap, ""]
    if code_kb is not None:
        sections += [f"The provider's modules: {code_kb:.0f} KB resident, once per process.", ""]
    if startup is not None:
        sections += ["### Starting one trigger", "", startup_table(startup), ""]
    if parse is not None:
        sections += ["### DAG parse cost", "", parse_table(parse), ""]
    sections += ["### Against issue 12's targets", "", targets_table(results, parse), ""]
    if throttled is not None:
        sections += [
            "### Against an account's API limit (50 calls/s; see docs/capacity.md)",
            "",
            throttled_table(throttled),
            "",
            throttled_targets(throttled),
            "",
        ]
    print("\n".join(sections))
    if args.json is not None:
        raw = {"runs": [_raw(r) for r in results], "startup": startup, "parse": parse and parse.__dict__}
        args.json.write_text(json.dumps(raw, indent=1, default=str))
    if args.write_docs:
        page = render_page(
            env,
            results_tables(results),
            targets_table(results, parse),
            startup,
            parse,
            calls,
            heap,
            polls=args.polls,
            repeat=args.repeat,
            code_kb=code_kb,
        )
        path = ROOT / "docs" / "performance.md"
        # The whole-wait figures come from a real Airflow stack (python -m tests.e2e.race_bench): kept.
        kept = current_section(path.read_text()) if path.exists() else None
        path.write_text(replace_section(page, kept) if kept else page)
        print("wrote docs/performance.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
