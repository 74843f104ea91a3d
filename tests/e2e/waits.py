"""Many short deferred waits on a real stack, read back from Airflow's records and its scheduler log.

Two questions share this driver:

- issue 26: how often does Airflow's scheduler fail a task whose job succeeded, because it drained
  the deferring try's executor event only after the trigger had queued the task again
  (``... finished with state success, but the task instance's state attribute is queued``)?
- issue 25: what does a wait cost the deployment: worker task starts, CPU of every Airflow process,
  and the time from the job turning Success to the task's end state?

Jobs answer Running 1 to 3 times, then Success (in the explicit-flag sensor modes one job in each run
fails instead, for the path that must still resume on a worker). The default-argument sensor runs as
three paths of its own (issue 33): jobs that succeed (``default``), jobs that fail (``failed``), and jobs
that succeed on a stack with a listener plugin installed (``listeners``). Every task has ``retries=0``.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.e2e.driver import E2eSession, Launch
from tests.e2e.scenario import E2E_DAGS, polls_until

DAG_FILE = E2E_DAGS / "e2e_cfw_race.py"
LISTENER_PLUGIN = Path(__file__).resolve().parent / "plugins" / "e2e_cfw_listener.py"
SENSOR_MODES = ("worker", "end_from_trigger", "start_from_trigger")
FIREWALL = "firewall"
#: The default-argument sensor's paths (issue 33), each a mode: its job succeeds, its job fails, and
#: its job succeeds where a listener is installed (only on a ``listeners=True`` run).
DEFAULT, FAILED, LISTENERS = "default", "failed", "listeners"
DEFAULT_MODES = (DEFAULT, FAILED)
#: How every job of a run ends, by mode; the modes left out fail one job in each run.
ALL_JOBS_END = {DEFAULT: "Success", FAILED: "Failed", LISTENERS: "Success"}
#: The DAG each mode runs (the default-argument paths share one).
DAG_OF = {FAILED: DEFAULT, LISTENERS: DEFAULT}
#: As in tests/e2e/dags/e2e_cfw_race.py.
SENSORS = 6
PAIRS = 3
#: LocalExecutor slots, as in the issue's setup.
PARALLELISM = 4

#: The scheduler's line when it fails a task it believes was killed from outside.
MISMATCH = re.compile(
    r"reported that the task instance <TaskInstance: (?P<dag>[\w.-]+)\.(?P<task>\w+) (?P<run>\S+) "
    r"\[(?P<ti_state>\w+)\][^>]*> finished with state (?P<state>\w+), but the task instance's state attribute is"
)
#: The worker's own line as it defers (task processes log to the scheduler's output on LocalExecutor).
DEFERRING = re.compile(
    r"^(?P<at>\S+ \S+) \[info\s*\] Pausing task as DEFERRED\..* dag_id=(?P<dag>\S+) .*"
    r"run_id=(?P<run>\S+) task_id=(?P<task>\S+)"
)
#: One line per executor event the scheduler drains: one per worker task process that ended.
FINISHED = re.compile(
    r"^(?P<at>\S+) .*TaskInstance Finished: dag_id=(?P<dag>[^,]+), task_id=(?P<task>[^,]+), "
    r"run_id=(?P<run>[^,]+),.* state=(?P<ti_state>[^,]+), executor=[^,]*, executor_state=(?P<state>[^,]+),"
)


@dataclass
class Wait:
    """One task's wait, as Airflow recorded it."""

    mode: str
    dag_id: str
    run_id: str
    task_id: str
    job_id: str | None
    #: ``Success`` or ``Failed``: how the job ends.
    outcome: str
    state: str | None = None
    end_date: datetime | None = None
    #: time.time() of the first answer that said the job is done (from the emulator's request log).
    done_at: float | None = None
    #: Worker task processes the scheduler saw end for this task (its executor events).
    starts: int = 0
    #: The scheduler failed it through the stale-event path.
    mismatch: bool = False
    #: Seconds from the worker's "Pausing task as DEFERRED" to the scheduler draining that try's
    #: executor event: how long the stale event is in flight.
    drain_s: float | None = None

    @property
    def path(self) -> str:
        """How the wait ended, as the race figures count it: the operator's step, or the sensor's mode
        and its job's outcome."""
        return self.task_id.split("_")[0] if self.mode == FIREWALL else f"{self.mode} {self.outcome}"

    @property
    def wrongly_failed(self) -> bool:
        """The scheduler failed it on a stale executor event, or it failed although its job succeeded
        (a task that never ran because its upstream failed is not counted: it did not wait)."""
        return self.mismatch or (self.outcome == "Success" and self.state == "failed")

    @property
    def end_latency_s(self) -> float | None:
        if self.done_at is None or self.end_date is None:
            return None
        return self.end_date.timestamp() - self.done_at


@dataclass
class Batch:
    """What one mode's waits came to."""

    mode: str
    waits: list[Wait] = field(default_factory=list)
    #: CPU seconds of every Airflow process tree during the batch, and with the idle rate taken out.
    cpu_s: float = 0.0
    idle_cpu_s: float = 0.0
    seconds: float = 0.0
    #: /proc/loadavg's one-minute average, read every few seconds through the batch.
    loads: list[float] = field(default_factory=list)
    #: The scheduler hold the stack's deferring tasks computed (seconds), if read.
    hold_s: float | None = None

    @property
    def wrongly_failed(self) -> list[Wait]:
        return [w for w in self.waits if w.wrongly_failed]

    def paths(self) -> dict[str, list[Wait]]:
        """The waits by :attr:`Wait.path`, in the order they first appear."""
        out: dict[str, list[Wait]] = {}
        for wait in self.waits:
            out.setdefault(wait.path, []).append(wait)
        return out

    def load_text(self) -> str:
        if not self.loads:
            return "load n/a"
        return f"load min {min(self.loads):.1f} mean {statistics.fmean(self.loads):.1f}"


class LoadSampler:
    """Reads the one-minute load average every ``interval`` seconds into a list, in a thread."""

    def __init__(self, into: list[float], interval: float = 2.0) -> None:
        self.into = into
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loadavg", daemon=True)

    def _run(self) -> None:
        while True:
            self.into.append(float(Path("/proc/loadavg").read_text().split()[0]))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _ticks() -> float:
    return float(os.sysconf("SC_CLK_TCK"))


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds of the process and of the children it has reaped)."""
    table = {}
    ticks = _ticks()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces: the fields start after its closing parenthesis.
        fields = text[text.rindex(")") + 2 :].split()
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        table[int(entry)] = (int(fields[1]), (utime + stime + cutime + cstime) / ticks)
    return table


def tree_cpu_seconds(roots: Iterable[int]) -> float:
    """CPU of these processes and all their descendants, alive or reaped by one of them."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [pid for pid in roots if pid in table]
    while todo:
        pid = todo.pop()
        total += table[pid][1]
        todo.extend(children.get(pid, ()))
    return total


class WaitsRun:
    """One stack for every mode; :meth:`run_mode` runs ``waits`` waits of one mode and reads them back.

    :param keep_home: leave the AIRFLOW_HOME behind for a post-mortem.
    :param timing_defaults: run the stack with Airflow's defaults for every setting that times a
        deferral (the race measurement's setting; the other e2e stacks turn their loops faster).
    :param listeners: install a listener plugin; the stack then offers only the ``listeners`` mode.
    """

    def __init__(
        self, keep_home: bool = False, timing_defaults: bool = False, listeners: bool = False
    ) -> None:
        self.listeners = listeners
        self.session = E2eSession(
            [DAG_FILE],
            [f"e2e_cfw_race_{FIREWALL}"],
            [],
            parallelism=PARALLELISM,
            keep_home=keep_home,
            airflow_timing_defaults=timing_defaults,
            plugins=[LISTENER_PLUGIN] if listeners else [],
        )
        self.launches: dict[str, Launch] = {}
        self._hold: float | None = None

    def __enter__(self) -> WaitsRun:
        self.session.start()
        # Fast firewall jobs: Running on the first poll, Success from the second on.
        self.emulator.script_firewall_jobs(polls_until("Success", 1))
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    @property
    def emulator(self) -> Any:
        assert self.session.emulator is not None
        return self.session.emulator

    def modes(self) -> list[str]:
        """The sensor modes this provider offers (their DAGs parsed), the default-argument paths, then
        the operators'; with listeners installed, only the ``listeners`` path."""
        stack = self.session.airflow
        stack.wait_for_dags([f"e2e_cfw_race_{DEFAULT}"])
        if self.listeners:
            return [LISTENERS]
        wanted = [f"e2e_cfw_race_{mode}" for mode in SENSOR_MODES]
        stack.wait_for_dags(wanted[:1])
        active = stack.records.active_dag_ids()
        offered = [m for m, d in zip(SENSOR_MODES, wanted, strict=True) if d in active]
        return [*offered, *DEFAULT_MODES, FIREWALL]

    def hold_seconds(self) -> float:
        """The scheduler hold a task deferring on this stack computes from its settings (read once,
        in a process with the stack's environment)."""
        if self._hold is None:
            code = (
                "from airflow_provider_cfw.version_compat import configured_scheduler_hold_seconds as h; "
                "print(h())"
            )
            out = subprocess.run(
                [sys.executable, "-c", code],
                env=self.session.airflow.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            ).stdout
            self._hold = float(out.strip().splitlines()[-1])
        return self._hold

    def cpu_seconds(self) -> float:
        pids = [p.pid for p in self.session.airflow.processes.values() if p.running() and p.pid]
        return tree_cpu_seconds(p for p in pids if p is not None)

    def idle_rate(self, seconds: float = 10.0) -> float:
        """CPU seconds per second of the stack with nothing to run (its loops and heartbeats)."""
        before = self.cpu_seconds()
        time.sleep(seconds)
        return (self.cpu_seconds() - before) / seconds

    def run_mode(
        self, mode: str, waits: int, at_once: int = 2, timeout: float = 600.0, idle_seconds: float = 10.0
    ) -> Batch:
        """At least ``waits`` waits of ``mode``, ``at_once`` DAG runs at a time; the stack's idle CPU
        rate is measured for ``idle_seconds`` first (0: not measured)."""
        per_run = PAIRS * 2 if mode == FIREWALL else SENSORS
        runs = -(-waits // per_run)
        idle = self.idle_rate(idle_seconds) if idle_seconds > 0 else 0.0
        batch = Batch(mode, hold_s=self.hold_seconds())
        began, cpu_before = time.monotonic(), self.cpu_seconds()
        with LoadSampler(batch.loads):
            for first in range(0, runs, at_once):
                specs = [self._new_run(mode, batch) for _ in range(min(at_once, runs - first))]
                launches = self.session.launch(specs)
                self.launches.update((launch.run_id, launch) for launch in launches)
                self.session.wait(launches, timeout=timeout)
        batch.seconds = time.monotonic() - began
        batch.cpu_s = self.cpu_seconds() - cpu_before
        batch.idle_cpu_s = idle * batch.seconds
        self._read_back(batch)
        return batch

    def _new_run(self, mode: str, batch: Batch) -> tuple[str, str, dict[str, Any]]:
        dag_id, run_id = f"e2e_cfw_race_{DAG_OF.get(mode, mode)}", f"{mode}-{uuid.uuid4().hex[:8]}"
        if mode == FIREWALL:
            for i in range(PAIRS):
                for step in ("create", "delete"):
                    batch.waits.append(Wait(mode, dag_id, run_id, f"{step}_{i}", None, "Success"))
            return dag_id, run_id, {"name": f"race-{run_id[-8:]}"}
        conf = {}
        for i in range(SENSORS):
            job_id = f"{run_id}-{i}"
            # One failed job per run unless the mode says how all end; they run 1 to 3 polls.
            outcome = ALL_JOBS_END.get(mode) or ("Failed" if i == SENSORS - 1 else "Success")
            running = 1 + i % 3
            self.emulator.add_job(self.session.account.project_id, job_id, polls_until(outcome, running))
            conf[f"job_{i}"] = job_id
            batch.waits.append(Wait(mode, dag_id, run_id, f"wait_{i}", job_id, outcome))
        return dag_id, run_id, conf

    def _scheduler_log(self, settle: float = 5.0, timeout: float = 60.0) -> list[str]:
        """The scheduler's log once it has drained every executor event: a run counts as finished as
        soon as its last task says so, a few seconds before the scheduler takes in that task's exit,
        so wait until no "TaskInstance Finished" line has come for ``settle`` seconds."""
        path = self.session.airflow.process_logs / "scheduler.log"
        deadline, last, quiet_since = time.monotonic() + timeout, -1, time.monotonic()
        while True:
            lines = path.read_text(errors="replace").splitlines()
            drained = sum("TaskInstance Finished:" in line for line in lines)
            now = time.monotonic()
            if drained != last:
                last, quiet_since = drained, now
            elif now - quiet_since >= settle or now > deadline:
                return lines
            time.sleep(0.5)

    def _read_back(self, batch: Batch) -> None:
        stack = self.session.airflow
        lines = self._scheduler_log()
        mismatched = {(m["dag"], m["task"], m["run"]) for line in lines if (m := MISMATCH.search(line))}
        finished: Counter[tuple[str, str, str]] = Counter()
        first_drain: dict[tuple[str, str, str], datetime] = {}
        for line in lines:
            if (m := FINISHED.search(line)) is None:
                continue
            key = (m["dag"], m["task"], m["run"])
            finished[key] += 1
            first_drain.setdefault(key, datetime.fromisoformat(m["at"]))
        deferred = {
            (m["dag"], m["task"], m["run"]): datetime.fromisoformat(m["at"])
            for line in lines
            if (m := DEFERRING.search(line))
        }
        done_at = self._done_times()
        for wait in batch.waits:
            key = (wait.dag_id, wait.task_id, wait.run_id)
            ti = stack.records.task_instances(wait.dag_id, wait.run_id).get(wait.task_id)
            if ti is not None:
                wait.state, wait.end_date = ti.state, ti.end_date
            wait.starts = finished[key]
            wait.mismatch = key in mismatched
            wait.done_at = done_at.get(wait.job_id) if wait.job_id else None
            if key in deferred and key in first_drain:
                wait.drain_s = (first_drain[key] - deferred[key]).total_seconds()

    def _done_times(self) -> dict[str, float]:
        """Job id -> when the emulator first answered a terminal status for it: a poll-scripted job's
        ``n``-th answer, ``n`` its script's length."""
        scripts = {job_id: len(job.statuses) for (_, job_id), job in self.emulator.state.jobs.items()}
        seen: Counter[str] = Counter()
        out: dict[str, float] = {}
        for entry in self.emulator.stats.log:
            if entry.route != "cfw.job" or entry.status != 200:
                continue
            job_id = entry.path.rsplit("/", 1)[-1]
            seen[job_id] += 1
            if seen[job_id] == scripts.get(job_id):
                out[job_id] = entry.at
        return out


def summary(batches: Sequence[Batch]) -> str:
    """One line per mode (CPU, load, hold), then one per path: waits, wrongly failed (which), worker
    starts per wait, and the slowest drain of a deferring try's executor event."""
    lines = []
    for b in batches:
        hold = "n/a" if b.hold_s is None else f"{b.hold_s:g} s"
        lines.append(
            f"{b.mode}: {len(b.waits)} waits, wrongly failed {len(b.wrongly_failed)}, {b.load_text()}, "
            f"hold {hold}, CPU {b.cpu_s:.1f} s (idle {b.idle_cpu_s:.1f} s) in {b.seconds:.0f} s"
        )
        for path, waits in b.paths().items():
            failed = [w for w in waits if w.wrongly_failed]
            drains = [w.drain_s for w in waits if w.drain_s is not None]
            lines.append(
                f"  {path}: {len(waits)} waits, wrongly failed {len(failed)} "
                f"{[f'{w.run_id}/{w.task_id}' for w in failed]}, "
                f"worker starts per wait {sum(w.starts for w in waits) / len(waits):.2f}, "
                f"drain s max {max(drains) if drains else None}"
            )
    return "\n".join(lines)
