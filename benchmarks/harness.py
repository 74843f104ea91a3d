"""Runs the clients one after another, each in its own process, against one emulator process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.account import PROJECT, connection_uri_env
from benchmarks.clients import GO_FILE, READY_FILE, WARM_UP_TIMEOUT_S
from benchmarks.probe import percentile
from benchmarks.tls import TlsFiles, write_tls_files

ROOT = Path(__file__).resolve().parent.parent
#: The provider's pool size, and the floor's.
POOL_SIZE = 100
#: ``floor_airflow`` is the floor in a process that has loaded what a triggerer's has: a full garbage
#: collection there walks Airflow's heap, whoever's objects made it due.
CLIENT_KINDS = ("floor", "floor_airflow", "per_poll", "provider")


def client_env(provider_src: Path | None, home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A client's environment: the repository (and maybe another provider tree first) importable, a
    throwaway AIRFLOW_HOME, no proxy variables from the shell."""
    paths = [str(p) for p in (provider_src, ROOT) if p is not None]
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(
        PYTHONPATH=os.pathsep.join(paths),
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
    )
    env.update(extra or {})
    return env


class EmulatorProcess:
    """``benchmarks.emulator_proc`` as a child process, driven over its stdin/stdout.

    :param tls: serve HTTPS with these files.
    """

    def __init__(self, tls: TlsFiles | None = None) -> None:
        self.tls = tls
        args = [sys.executable, "-m", "benchmarks.emulator_proc"]
        if tls is not None:
            args += ["--cert", str(tls.cert), "--key", str(tls.key)]
        self._proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            args, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self.url: str = self._read()["url"]

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator process exited ({self._proc.wait(10)})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(command) + "\n")
        return self._read()

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self._proc.stdin.close()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)


@contextmanager
def emulator_process(tls: TlsFiles | None = None) -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess(tls)
    try:
        yield emu
    finally:
        emu.close()


@dataclass(frozen=True)
class RunSpec:
    """One client run.

    :param kind: ``floor``, ``floor_airflow``, ``per_poll`` or ``provider``.
    :param polls: polls per wait, one entry per wait (the job answers Success on that poll).
    :param interval: seconds between polls.
    :param auth: the provider's connection: ``aksk`` or ``password``.
    :param gc_freeze: ``gc.freeze()`` after the imports, before the clock starts.
    :param count_calls: count the client's Python function calls instead of measuring it.
    :param trace_memory: trace the client's Python heap instead of measuring it.
    """

    kind: str
    polls: tuple[int, ...]
    interval: float
    auth: str = "aksk"
    gc_freeze: bool = False
    count_calls: bool = False
    trace_memory: bool = False

    @property
    def n(self) -> int:
        return len(self.polls)


@dataclass(repr=False)
class RunResult:
    """A client's own measurements (``client``) and the emulator's counters for the run (``server``)."""

    spec: RunSpec
    tls: bool
    client: dict[str, Any]
    server: dict[str, Any]
    job_polls: dict[str, int] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<RunResult {self.spec.kind} N={self.spec.n} tls={self.tls}>"

    # ---- counts ---------------------------------------------------------------------------------
    @property
    def ideal_polls(self) -> int:
        return sum(self.spec.polls)

    @property
    def polls(self) -> int:
        return int(self.server["job_polls"])

    @property
    def polls_ok(self) -> int:
        return int(self.server["job_polls_ok"])

    @property
    def events_ok(self) -> int:
        return sum(1 for w in self.client["waits"].values() if w["status"] == "Success")

    @property
    def connections(self) -> int:
        return int(self.server["connections_accepted"])

    @property
    def tokens(self) -> int:
        return int(self.server["tokens_issued"])

    @property
    def hops(self) -> int:
        return int(self.client["hops_total"])

    def hops_per_wait(self, polls: int) -> list[int]:
        """Thread-pool hops of each wait that needed ``polls`` polls."""
        by_job = self.client["waits"]
        return [by_job[job]["hops"] for job, p in self.job_polls.items() if p == polls and job in by_job]

    # ---- times ----------------------------------------------------------------------------------
    @property
    def cpu_net_s(self) -> float:
        """Process CPU during the waits, less what the idle process and the lag ticker burn anyway."""
        c = self.client
        return max(0.0, c["cpu_s"] - c["idle_cpu_per_s"] * c["wall_s"])

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_net_s / max(1, self.polls) * 1000

    def lag_ms(self, pct: float | None = None) -> float:
        samples = self.client["lag_s"]
        if pct is None:
            return max(samples, default=0.0) * 1000
        return percentile(samples, pct) * 1000

    def event_latency_ms(self, pct: float) -> float:
        """From the emulator answering Success (the job's ``end_time``) to the client's event; NaN
        if no wait got its event."""
        samples = [
            w["event_at"] - w["ended_at"] for w in self.client["waits"].values() if w["ended_at"] is not None
        ]
        return percentile(samples, pct) * 1000 if samples else float("nan")

    @property
    def peak_rss_mb(self) -> float:
        return self.client["peak_rss_kb"] / 1024

    @property
    def airflow_rss_mb(self) -> float | None:
        after = self.client.get("rss_after_airflow_kb")
        return None if after is None else (after - self.client["rss_start_kb"]) / 1024

    @property
    def own_rss_mb(self) -> float:
        """Peak RSS less what importing Airflow added: what a triggerer, which has paid that, pays."""
        return self.peak_rss_mb - (self.airflow_rss_mb or 0.0)

    @property
    def full_collections(self) -> int:
        return int(self.client["gc"]["full_collections"])


def job_ids(prefix: str, count: int) -> list[str]:
    return [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{prefix}/{i}")) for i in range(count)]


def run_client(
    emu: EmulatorProcess,
    spec: RunSpec,
    *,
    provider_src: Path | None = None,
    workdir: Path | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Script the jobs on the emulator, run one client process to the end, and collect both sides."""
    run_id = run_id or uuid.uuid4().hex
    ids = job_ids(run_id, spec.n)
    job_polls = dict(zip(ids, spec.polls, strict=True))
    warm_up = job_ids(f"{run_id}/warm-up", 1)[0]
    jobs = [[warm_up, 1], *([j, p] for j, p in job_polls.items())]
    token = emu.ask({"op": "setup", "jobs": jobs})["token"]
    cafile = str(emu.tls.ca) if emu.tls is not None else None
    client_spec = {
        "kind": spec.kind,
        "url": emu.url,
        "project": PROJECT,
        "token": token,
        "cafile": cafile,
        "interval": spec.interval,
        "pool_size": POOL_SIZE,
        "jobs": ids,
        "warm_up_job": warm_up,
        "gc_freeze": spec.gc_freeze,
        "count_calls": spec.count_calls,
        "trace_memory": spec.trace_memory,
        # Generous: four times the ideal wait, plus start-up on a busy machine.
        "deadline_s": 4 * max(spec.polls) * spec.interval + 30,
    }
    with tempfile.TemporaryDirectory(prefix="cfw-bench-", dir=workdir) as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "spec.json").write_text(json.dumps(client_spec))
        extra = connection_uri_env(emu.url, spec.auth, cafile) if spec.kind == "provider" else {}
        with open(tmp_path / "client.log", "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.clients", "spec.json", "result.json"],
                cwd=tmp_path,
                env=client_env(provider_src, tmp_path, extra),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            cpu_before = None
            try:
                # The client has warmed up (one wait of its own): count from here on.
                if _ready(proc, tmp_path / READY_FILE):
                    cpu_before = emu.ask({"op": "zero"})["cpu_s"]
                    (tmp_path / GO_FILE).write_text("")
                proc.wait(timeout=client_spec["deadline_s"] + 120)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        server = emu.ask({"op": "collect"})
        if proc.returncode != 0:
            tail = (tmp_path / "client.log").read_text()[-3000:]
            raise RuntimeError(f"{spec.kind} client exited {proc.returncode}:\n{tail}")
        if cpu_before is None:
            raise RuntimeError(f"{spec.kind} client exited before it warmed up")
        server["cpu_s"] -= cpu_before
        client = json.loads((tmp_path / "result.json").read_text())
    return RunResult(spec, emu.tls is not None, client, server, job_polls)


def _ready(proc: subprocess.Popen[bytes], ready: Path) -> bool:
    """Wait (bounded) for the client to say it has warmed up; False if it exited first."""
    deadline = time.monotonic() + WARM_UP_TIMEOUT_S
    while not ready.exists():
        if proc.poll() is not None:
            return False
        if time.monotonic() > deadline:
            raise RuntimeError(f"the client did not warm up within {WARM_UP_TIMEOUT_S:.0f} s")
        time.sleep(0.02)
    return True


def uniform(n: int, polls: int) -> tuple[int, ...]:
    return (polls,) * n


def mixed(n: int, few: int, many: int) -> tuple[int, ...]:
    """Half the waits need ``few`` polls, half ``many``: a per-poll cost shows as a difference."""
    return tuple(few if i % 2 == 0 else many for i in range(n))


def run_matrix(
    ns: Sequence[int],
    polls: int,
    interval: float,
    *,
    kinds: Sequence[str] = CLIENT_KINDS,
    transports: Sequence[str] = ("http", "tls"),
    auth: str = "aksk",
    gc_freeze: bool = False,
    repeat: int = 1,
    provider_src: Path | None = None,
    progress: Callable[[RunResult, int], None] | None = None,
) -> list[RunResult]:
    """Every (transport, N) with every client, interleaved so that the machine's noise hits all alike."""
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="cfw-bench-tls-") as tls_dir:
        tls_files = write_tls_files(Path(tls_dir)) if "tls" in transports else None
        for transport in transports:
            tls = tls_files if transport == "tls" else None
            with emulator_process(tls) as emu:
                for n in ns:
                    for round_ in range(repeat):
                        for kind in kinds:
                            spec = RunSpec(kind, uniform(n, polls), interval, auth, gc_freeze)
                            result = run_client(emu, spec, provider_src=provider_src)
                            results.append(result)
                            if progress is not None:
                                progress(result, round_)
    return results
