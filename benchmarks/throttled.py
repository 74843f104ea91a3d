"""``python -m benchmarks.throttled``: many deferred waits in one event loop against an account's API
rate limit, with the shared rate limiter and without it (each trigger retrying on its own), in one run.

The emulator (its own process) limits the account to ``--limit`` calls a second and answers 429
``APIGW.0308`` over it, in Huawei's words, with no ``Retry-After``. A client process, which has loaded
what a triggerer has, runs N real ``CfwJobTrigger`` waits on one loop, all started at once (as a
triggerer picks them up), polling every ``--interval`` seconds; job *i* of N turns Success at
``30 * (i + 1) / N`` seconds after the start. Measured:

- the share of job reads the gateway throttled (the emulator's count of 429 answers / job reads);
- wrong or error events (every job succeeds: any other event, or none before the deadline);
- how long after its job's end each wait's event came: p50, p95, max;
- the client's CPU during the waits, and the warning lines it logged.

``--no-limiter`` runs are the same client with ``LIMITERS.enabled = False``: what each trigger did
before there was a shared limiter.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.account import connection_uri_env
from benchmarks.harness import EmulatorProcess, client_env, emulator_process, job_ids

#: Jobs end over this many seconds after the waits start.
ENDS_OVER_S = 30.0
READY_FILE, GO_FILE = "ready", "go"
#: Imports and the warm-up wait, on a busy machine.
WARM_UP_TIMEOUT_S = 180.0
MODES = ("limiter", "per_trigger")
LABELS = {"limiter": "shared limiter", "per_trigger": "per trigger (before)"}


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# ---- the client process -----------------------------------------------------------------------------


async def _wait(job_id: str, interval: float) -> dict[str, Any]:
    from airflow_provider_cfw.triggers.cfw import CfwJobTrigger

    # Built as CfwJobSensor defers it: its first poke read Running.
    trigger = CfwJobTrigger(job_id=job_id, poll_interval=interval, last_status="Running")
    outcome: dict[str, Any] = {"status": "no event"}
    async for event in trigger.run():
        outcome = {"status": event.payload["status"], "at": time.time()}
        if event.payload["status"] != "success":
            outcome["message"] = event.payload.get("message")
    return outcome


async def _run_waits(spec: dict[str, Any], result: dict[str, Any]) -> None:
    waits: dict[str, dict[str, Any]] = {}

    async def one(job_id: str) -> None:
        try:
            waits[job_id] = await _wait(job_id, spec["interval"])
        except Exception as err:
            waits[job_id] = {"status": f"exception: {type(err).__name__}: {err}"}

    cpu, wall = time.process_time(), time.perf_counter()
    tasks = [asyncio.create_task(one(job_id)) for job_id in spec["jobs"]]
    await asyncio.wait(tasks, timeout=spec["deadline_s"])
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    result.update(cpu_s=time.process_time() - cpu, wall_s=time.perf_counter() - wall, waits=waits)


def client_main(spec_path: Path, result_path: Path) -> int:
    spec = json.loads(spec_path.read_text())
    import airflow.jobs.triggerer_job_runner  # noqa: F401 - what a triggerer has loaded

    import airflow_provider_cfw.hooks.cfw  # noqa: F401
    from airflow_provider_cfw.core.iam import PROJECTS, TOKENS
    from airflow_provider_cfw.core.rate_limit import LIMITERS
    from airflow_provider_cfw.hooks.connection_cache import ASYNC_CONNECTIONS

    LIMITERS.enabled = spec["limiter"]
    asyncio.run(_wait(spec["warm_up_job"], 0.1))
    for cache in (ASYNC_CONNECTIONS, TOKENS, PROJECTS, LIMITERS):
        cache.clear()
    gc.collect()
    Path(READY_FILE).write_text("")
    deadline = time.monotonic() + WARM_UP_TIMEOUT_S
    while not Path(GO_FILE).exists():
        if time.monotonic() > deadline:
            raise SystemExit("no word from the harness")
        time.sleep(0.01)
    result: dict[str, Any] = {}
    asyncio.run(_run_waits(spec, result))
    limiters = list(LIMITERS)
    result["limiter"] = [
        {"rate": lim.rate, "sent": lim.sent, "throttled": lim.throttled, "pauses": lim.pauses}
        for lim in limiters
    ]
    result_path.write_text(json.dumps(result))
    return 0


# ---- the harness --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One client run and the emulator's counts for it."""

    n: int
    mode: str
    interval: float
    limit: float
    reads: int
    throttled: int
    waits: dict[str, dict[str, Any]]
    ends: dict[str, float]
    cpu_s: float
    wall_s: float
    warnings: int

    @property
    def throttled_share(self) -> float:
        return self.throttled / max(1, self.reads)

    @property
    def wrong(self) -> int:
        return sum(1 for job in self.ends if self.waits.get(job, {}).get("status") != "success")

    @property
    def latencies(self) -> list[float]:
        return [w["at"] - self.ends[job] for job, w in self.waits.items() if w.get("status") == "success"]

    @property
    def fair_share_s(self) -> float:
        """The interval at which N waits share the limit: N / limit, or the poll interval if longer."""
        return max(self.interval, self.n / self.limit)


def _ready(proc: subprocess.Popen[bytes], ready: Path) -> None:
    deadline = time.monotonic() + WARM_UP_TIMEOUT_S
    while not ready.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"the client exited ({proc.returncode}) before it warmed up")
        if time.monotonic() > deadline:
            raise RuntimeError("the client did not warm up in time")
        time.sleep(0.02)


def _provider_warning(line: str) -> bool:
    """A warning line of the provider's (not Airflow 2's own start-up warnings about the environment)."""
    return ("[warning" in line or " WARNING " in line) and ("CFW" in line or "throttl" in line.lower())


def run_one(
    emu: EmulatorProcess, n: int, mode: str, interval: float, limit: float, ends_over: float = ENDS_OVER_S
) -> Run:
    run_id = uuid.uuid4().hex
    jobs = job_ids(run_id, n)
    warm_up = job_ids(f"{run_id}/warm-up", 1)[0]
    emu.ask({"op": "setup", "jobs": [[warm_up, 1]]})
    fair = max(interval, n / limit)
    spec: dict[str, Any] = {
        "jobs": jobs,
        "warm_up_job": warm_up,
        "interval": interval,
        "limiter": mode == "limiter",
        # Ten fair-share intervals after the last job's end is far beyond any target.
        "deadline_s": ends_over + 10 * fair + 30,
    }
    ends_after = {job: ends_over * (i + 1) / n for i, job in enumerate(jobs)}
    with tempfile.TemporaryDirectory(prefix="cfw-bench-throttled-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "spec.json").write_text(json.dumps(spec))
        with open(tmp_path / "client.log", "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.throttled", "--client", "spec.json", "result.json"],
                cwd=tmp_path,
                env=client_env(None, tmp_path, connection_uri_env(emu.url, "aksk", None)),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                _ready(proc, tmp_path / READY_FILE)
                t0 = emu.ask({"op": "timed", "jobs": list(ends_after.items()), "rate_limit": limit})["t0"]
                (tmp_path / GO_FILE).write_text("")
                proc.wait(timeout=spec["deadline_s"] + 180)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        server = emu.ask({"op": "collect"})
        text = (tmp_path / "client.log").read_text(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"the {mode} client exited {proc.returncode}:\n{text[-3000:]}")
        result = json.loads((tmp_path / "result.json").read_text())
    by_status = server["requests"].get("cfw.job", {})
    warnings = sum(1 for line in text.splitlines() if _provider_warning(line))
    return Run(
        n=n,
        mode=mode,
        interval=interval,
        limit=limit,
        reads=int(server["job_polls"]),
        throttled=int(by_status.get("429", 0)),
        waits=result["waits"],
        ends={job: t0 + after for job, after in ends_after.items()},
        cpu_s=result["cpu_s"],
        wall_s=result["wall_s"],
        warnings=warnings,
    )


def run_matrix(
    ns: Sequence[int], interval: float, limit: float, *, modes: Sequence[str] = MODES, progress: bool = True
) -> list[Run]:
    """Each N with each mode, one after another against one emulator process."""
    runs = []
    with emulator_process() as emu:
        for n in ns:
            for mode in modes:
                run = run_one(emu, n, mode, interval, limit)
                runs.append(run)
                if progress:
                    print(f"  {summary_line(run)}", file=sys.stderr, flush=True)
    return runs


def summary_line(run: Run) -> str:
    lat = run.latencies
    return (
        f"N={run.n:<5} {run.mode:<11}: {run.throttled_share:.1%} of {run.reads} reads throttled, "
        f"{run.wrong} wrong, seen after the end p50 {_pct(lat, 50):.1f} s p95 {_pct(lat, 95):.1f} s "
        f"max {max(lat, default=float('nan')):.1f} s, CPU {run.cpu_s:.1f} s, {run.warnings} warning lines"
    )


def table(runs: Sequence[Run]) -> str:
    lines = [
        "| waits | polls | fair share | behaviour | job reads | throttled | wrong / error events "
        "| seen after the job ended: p50 / p95 / max | triggerer CPU | CPU per read | warning lines |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lat = r.latencies
        lines.append(
            f"| {r.n} | every {r.interval:g} s | {r.fair_share_s:g} s | {LABELS[r.mode]} | {r.reads} "
            f"| {r.throttled_share:.1%} | {r.wrong} "
            f"| {_pct(lat, 50):.1f} s / {_pct(lat, 95):.1f} s / {max(lat, default=float('nan')):.1f} s "
            f"| {r.cpu_s:.1f} s | {r.cpu_s / max(1, r.reads) * 1000:.2f} ms | {r.warnings} |"
        )
    return "\n".join(lines)


def targets(runs: Sequence[Run]) -> str:
    """Issue 30's targets, for the limiter's runs: throttled reads, wrong waits, p95 latency."""
    lines = ["| waits | at most 5% of reads throttled | every wait right | p95 at most 1.5x the fair share |"]
    lines.append("|---|---|---|---|")
    for r in runs:
        if r.mode != "limiter":
            continue
        p95, bound = _pct(r.latencies, 95), 1.5 * r.fair_share_s
        lines.append(
            f"| {r.n} | {r.throttled_share:.1%} {'✓' if r.throttled_share <= 0.05 else '✗'} "
            f"| {r.wrong} wrong {'✓' if r.wrong == 0 else '✗'} "
            f"| {p95:.1f} s of {bound:g} s {'✓' if p95 <= bound else '✗'} |"
        )
    return "\n".join(lines)


def raw(run: Run) -> dict[str, Any]:
    lat = run.latencies
    return {
        "n": run.n,
        "mode": run.mode,
        "reads": run.reads,
        "throttled": run.throttled,
        "wrong": run.wrong,
        "latency_s": [_pct(lat, 50), _pct(lat, 95), max(lat, default=None)],
        "cpu_s": run.cpu_s,
        "wall_s": run.wall_s,
        "warnings": run.warnings,
        "mean_latency_s": statistics.fmean(lat) if lat else None,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--client"]:
        return client_main(Path(argv[1]), Path(argv[2]))
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throttled", description=__doc__)
    parser.add_argument("--n", default="400,2000", help="waits, comma-separated (default 400,2000)")
    parser.add_argument("--interval", type=float, default=2.0, help="poll interval (default 2 s)")
    parser.add_argument("--limit", type=float, default=50.0, help="the account's calls a second (default 50)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    runs = run_matrix([int(x) for x in args.n.split(",") if x], args.interval, args.limit)
    print(table(runs) + "\n\n" + targets(runs))
    if args.json is not None:
        args.json.write_text(json.dumps([raw(r) for r in runs], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
