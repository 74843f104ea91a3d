"""Airflow's scale-out path (``make e2e-ha``): PostgreSQL, several triggerers, one SIGKILLed while it
holds deferred CFW waits, and the waits handed over by Airflow's triggerer health check.

One stack for the module: PostgreSQL, api-server, scheduler (LocalExecutor), dag-processor, and the
triggerers each round starts for itself. Each round maps ``CfwJobSensor(deferrable=True, retries=0)``
over 40 job ids from an upstream task's XCom. The jobs stay Running until the kill, so every wait is
live when it happens, and end 30 to 60 s after it. Everything asserted is read back from Airflow's
records (task instances, trigger rows, triggerer jobs, XCom, trigger logs) and from the emulator's
request log, where the access key of each request names the process that sent it.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from airflow_provider_cfw.triggers.cfw import CfwJobTrigger
from tests.e2e import failover
from tests.e2e.driver import E2eSession, Launch
from tests.e2e.processes import stop_all, wait_for
from tests.e2e.records import ti_key
from tests.e2e.scenario import E2E_DAGS, polls_until

pytestmark = [pytest.mark.e2e_ha, pytest.mark.timeout(900)]

MAPPED_DAG = "e2e_cfw_mapped"
WAITS = 40
#: The DAG's poke_interval (tests/e2e/dags/e2e_cfw_mapped.py).
POLL_INTERVAL = 5.0
#: Failover settings low enough for a test; the job heartbeat is the stack's 1 s.
HEALTH_CHECK_THRESHOLD = 10.0
#: LocalExecutor slots: the 40 first pokes and the 40 resumptions run there, a few at a time.
PARALLELISM = 4
#: Task states that end a wait (every job is Running until the kill, so none may be reached before).
ENDED = frozenset({"success", "failed", "up_for_retry", "upstream_failed", "skipped"})


@pytest.fixture(scope="module")
def ha() -> Iterator[E2eSession]:
    reschedule_job = {"job_id": "ha-reschedule", "statuses": polls_until("Success", 2)}
    session = E2eSession(
        [E2E_DAGS / "e2e_cfw_mapped.py", E2E_DAGS / "e2e_cfw_worker.py"],
        [MAPPED_DAG, "e2e_cfw_reschedule"],
        [reschedule_job],
        parallelism=PARALLELISM,
        keep_home=bool(os.environ.get("CFW_E2E_KEEP")),
        postgres=True,
        triggerer=False,
        env={"AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(int(HEALTH_CHECK_THRESHOLD))},
    )
    with session:
        yield session


@dataclass
class Triggerers:
    """The triggerers of one round: process name -> TriggererJob id, and AK -> process name."""

    session: E2eSession
    job_ids: dict[str, int] = field(default_factory=dict)
    who_by_ak: dict[str, str] = field(default_factory=dict)
    launched_at: dict[str, float] = field(default_factory=dict)

    def start(self, name: str, capacity: int | None) -> int:
        key, conn_env = self.session.connection_env_for_new_key()
        self.session.airflow.add_triggerer(name, capacity, conn_env)
        self.who_by_ak[key.ak] = name
        self.launched_at[name] = time.time()
        self.job_ids[name] = self.session.airflow.start_triggerer(name)
        return self.job_ids[name]

    def name_of(self, job_id: int | None) -> str:
        return next((name for name, i in self.job_ids.items() if i == job_id), f"triggerer job {job_id}")


def fresh_round(session: E2eSession, label: str, capacities: dict[str, int | None]) -> Triggerers:
    """Stop the last round's triggerers (none holds a live trigger between rounds), start this one's."""
    stack = session.airflow
    stop_all([p for p in stack.triggerers.values() if p.running()])
    triggerers = Triggerers(session, who_by_ak={session.account.ak: failover.WORKER})
    for name, capacity in capacities.items():
        triggerers.start(f"{label}-{name}", capacity)
    return triggerers


def start_jobs(session: E2eSession, label: str) -> list[str]:
    """40 jobs that stay Running until :func:`end_jobs`."""
    assert session.emulator is not None
    job_ids = [f"ha-{label}-{i:02d}-{uuid.uuid4().hex[:6]}" for i in range(WAITS)]
    for job_id in job_ids:
        session.emulator.add_job(session.account.project_id, job_id, ["Running"])
    return job_ids


def end_jobs(session: E2eSession, job_ids: list[str]) -> dict[str, float]:
    """From now, job i runs 30 to 60 s more, then succeeds; returns when each turns Success."""
    assert session.emulator is not None
    now = time.time()
    ends = {}
    for i, job_id in enumerate(job_ids):
        seconds = 30 + 30 * i / (len(job_ids) - 1)
        session.emulator.add_job(
            session.account.project_id, job_id, [("Running", seconds), ("Success", None)], begin_time=now
        )
        ends[job_id] = now + seconds
    return ends


def all_deferred_and_owned(session: E2eSession, launch: Launch) -> dict[int, int] | None:
    """map index -> the TriggererJob owning its trigger, once all 40 waits are deferred and owned."""
    records = session.airflow.records
    session.airflow.check_alive()
    tis = records.task_instances(MAPPED_DAG, launch.run_id)
    owners = records.trigger_owners()
    ended = {key: ti.state for key, ti in tis.items() if key.startswith("wait[") and ti.state in ENDED}
    if ended:
        raise AssertionError(
            f"waits ended before any triggerer was killed: {ended}\n{session.diagnose(MAPPED_DAG, launch.run_id, 15)}"
        )
    held = {}
    for i in range(WAITS):
        ti = tis.get(ti_key("wait", i))
        if ti is None or ti.state != "deferred" or owners.get(ti.trigger_id or -1) is None:
            return None
        held[i] = owners[ti.trigger_id or -1]
    return held


@dataclass
class RoundResult:
    line: str
    lost: int
    wrong: int
    retried: int
    duplicated: int
    two_pollers: dict[str, set[str]]
    max_gap: float
    #: jobs whose longest poll gap broke their bound: job id -> (gap, bound)
    slow_handover: dict[str, tuple[float, float]]
    missing_start_lines: list[str]
    why: str


def run_round(
    session: E2eSession,
    label: str,
    capacities: dict[str, int | None],
    replacement: tuple[str, int | None] | None = None,
) -> RoundResult:
    """Launch 40 mapped waits, SIGKILL the triggerer holding the most once all are owned, optionally
    start a fresh triggerer in its place at once, and read everything back."""
    stack = session.airflow
    triggerers = fresh_round(session, label, capacities)
    job_ids = start_jobs(session, label)
    idle_rss = {name: p.group_rss() for name, p in stack.triggerers.items() if p.running()}
    run_id = f"ha-{label}-{uuid.uuid4().hex[:6]}"
    (launch,) = session.launch([(MAPPED_DAG, run_id, {"job_ids": job_ids})])

    held_by = wait_for(
        f"all {WAITS} waits of {run_id} to be deferred and owned",
        lambda: all_deferred_and_owned(session, launch),
        300,
        0.25,
    )
    counts = {job: sum(1 for owner in held_by.values() if owner == job) for job in set(held_by.values())}
    if len(capacities) > 1:
        assert len(counts) == len(capacities), f"not every triggerer owns waits: {counts}"
    victim_job = max(counts, key=lambda job: (counts[job], -job))
    victim = triggerers.name_of(victim_job)
    held = {job_ids[i] for i, owner in held_by.items() if owner == victim_job}
    tis = stack.records.task_instances(MAPPED_DAG, run_id)
    held_triggers = {
        i: tis[ti_key("wait", i)].trigger_id for i, owner in held_by.items() if owner == victim_job
    }

    rss = {name: p.group_rss() for name, p in stack.triggerers.items() if p.running()}
    kill_at = time.time()
    stack.processes[victim].kill()
    startup = 0.0
    fresh_job, fresh_since = None, 0.0
    if replacement:
        name, capacity = replacement
        fresh_job = triggerers.start(f"{label}-{name}", capacity)
        registered = stack.records.triggerer_heartbeats()[fresh_job].start_date
        assert registered is not None
        fresh_since = registered.timestamp()
        startup = max(0.0, fresh_since - triggerers.launched_at[f"{label}-{name}"])
    last_heartbeat = stack.records.triggerer_heartbeats()[victim_job].latest_heartbeat
    assert last_heartbeat is not None
    # From then on Airflow counts the victim dead and its triggers free for the taking.
    orphaned_at = last_heartbeat.timestamp() + HEALTH_CHECK_THRESHOLD
    ends = end_jobs(session, job_ids)
    (result,) = session.wait([launch], timeout=360)
    why = session.diagnose(MAPPED_DAG, run_id, tail=15)

    # ---- Airflow's records ---------------------------------------------------------------------
    records = stack.records
    waits = {i: result.tasks.get(ti_key("wait", i)) for i in range(WAITS)}
    lost = sum(
        1 for ti in waits.values() if ti is None or ti.state in (None, "deferred", "scheduled", "queued")
    )
    retried = max(
        sum(1 for ti in waits.values() if ti is not None and ti.try_number != 1),
        len(records.task_history(MAPPED_DAG, run_id, "wait")),
    )
    wrong_tasks = set()
    for i, ti in waits.items():
        xcom = records.xcom(MAPPED_DAG, run_id, "wait", map_index=i)
        if (
            ti is None
            or ti.state != "success"
            or not xcom
            or (xcom["id"], xcom["status"]) != (job_ids[i], "Success")
        ):
            wrong_tasks.add(i)

    # ---- the emulator's request log ------------------------------------------------------------
    assert session.emulator is not None
    polls = failover.polls_by_job(session.emulator.stats.log, triggerers.who_by_ak, job_ids)
    unknown = {p.who for ps in polls.values() for p in ps if p.who.startswith("unknown:")}
    assert not unknown, f"polls signed with a key no process was given: {unknown}"
    # Half a second after the kill: a poll the victim sent just before may still be logged after it.
    two_pollers = failover.polled_by_two(polls, kill_at + 0.5)
    after_end = failover.polls_after_end(polls, ends)
    duplicated = sum(max(0, n - 1) for n in after_end.values())
    # Trigger logs: each wait's event fired exactly once, over every triggerer that ran it.
    fired: dict[int, int] = {}
    missing_start_lines = []
    adopted = failover.adoption(polls, held, victim, kill_at)
    for i in range(WAITS):
        logs = stack.trigger_logs(MAPPED_DAG, run_id, "wait", map_index=i)
        fired[i] = sum(text.count("Trigger fired event") for text in logs.values())
        if job_ids[i] in adopted.adopters:
            adopter_job = triggerers.job_ids[adopted.adopters[job_ids[i]]]
            trigger_id = held_triggers[i]
            if f"(ID {trigger_id}) starting" not in logs.get(adopter_job, ""):
                missing_start_lines.append(
                    f"wait[{i}] trigger {trigger_id} in {adopted.adopters[job_ids[i]]}"
                )
    duplicated += sum(max(0, n - 1) for n in fired.values())
    lost += sum(1 for i, n in fired.items() if n == 0 and i not in wrong_tasks)
    wrong = len(wrong_tasks | {job_ids.index(job) for job in two_pollers})

    # A job's polls may pause for the health-check threshold (counted from the victim's last
    # heartbeat), plus two poll intervals (the one in flight then, and the trigger's deliberate
    # first-poll delay of under one interval, which spreads the first polls of waits started
    # together), plus start-up, measured for each adopted wait from the records:
    # - a fresh adopter's own, when it registered only after the victim's triggers were free;
    # - pickup: from the moment the wait was free and an adopter alive, to the trigger table showing
    #   it assigned (the adopter's loop turns); more than the threshold again is a slow hand-over;
    # - the trigger's: from then to its first poll, less that delay (connection lookup, cold import).
    max_gap, gap_job = failover.max_poll_gap(polls)
    trigger_startup: dict[str, float] = {}
    slow_pickup: dict[str, tuple[float, float]] = {}
    for i, trigger_id in held_triggers.items():
        adopter = adopted.adopters.get(job_ids[i])
        assigned = result.seen.owned_since.get(trigger_id or -1, {}).get(
            triggerers.job_ids.get(adopter or "", -1)
        )
        first = next((p.at for p in failover.trigger_polls(polls[job_ids[i]]) if p.who == adopter), None)
        if assigned is None and adopter is not None:
            # The wire and the database must agree on who took the wait over.
            missing_start_lines.append(
                f"wait[{i}]: the trigger table never showed {adopter} owning {trigger_id}"
            )
        if assigned is not None and first is not None:
            adopter_job = triggerers.job_ids[adopter or ""]
            free_at = max(orphaned_at, fresh_since if adopter_job == fresh_job else 0.0)
            pickup = max(0.0, assigned - free_at)
            if pickup > HEALTH_CHECK_THRESHOLD:
                slow_pickup[job_ids[i]] = (round(pickup, 1), HEALTH_CHECK_THRESHOLD)
            spread = CfwJobTrigger(job_id=job_ids[i], poll_interval=POLL_INTERVAL).first_poll_delay
            trigger_startup[job_ids[i]] = (
                max(0.0, free_at - orphaned_at) + pickup + max(0.0, first - assigned - spread)
            )
    base_bound = HEALTH_CHECK_THRESHOLD + 2 * POLL_INTERVAL
    slow_handover = {
        job: (round(gap, 1), round(base_bound + trigger_startup.get(job, 0.0), 1))
        for job, gap in failover.poll_gaps(polls).items()
        if gap > base_bound + trigger_startup.get(job, 0.0)
    }
    slow_handover.update({f"{job} (pickup)": times for job, times in slow_pickup.items()})
    worst_trigger_startup = max(trigger_startup.values(), default=0.0)
    line = failover.summary_line(
        WAITS,
        len(held),
        lost,
        wrong,
        retried,
        max_gap,
        len(adopted.adopters),
        adopted.seconds,
    )
    adopters = sorted(set(adopted.adopters.values()))
    failover.SUMMARY_LINES.append(
        f"{line}  [{label}: {counts and sorted(counts.values())} per triggerer, "
        f"killed {victim}, adopted by {', '.join(adopters) or '-'}, triggerer start-up {startup:.1f} s, "
        f"adopted waits' start-up <= {worst_trigger_startup:.1f} s, gap bound {base_bound:.1f} s + start-up "
        f"(worst job {gap_job}), run {result.seconds:.0f} s, "
        f"RSS idle -> at the kill: {', '.join(f'{n} {idle_rss.get(n, 0) / 2**20:.0f} -> {b / 2**20:.0f} MB' for n, b in rss.items())}]"
    )
    assert not adopted.orphans, f"held waits nobody polled after the kill: {sorted(adopted.orphans)}\n{why}"
    return RoundResult(
        line, lost, wrong, retried, duplicated, two_pollers, max_gap, slow_handover, missing_start_lines, why
    )


def assert_clean_handover(outcome: RoundResult) -> None:
    why = f"{outcome.line}\n{outcome.why}"
    assert (outcome.lost, outcome.wrong, outcome.retried) == (0, 0, 0), why
    assert outcome.duplicated == 0, why
    assert outcome.two_pollers == {}, (
        f"jobs polled from two triggerers after the hand-over: {outcome.two_pollers}"
    )
    assert outcome.slow_handover == {}, f"poll gaps beyond their bound (gap, bound): {outcome.slow_handover}"
    assert outcome.missing_start_lines == [], outcome.missing_start_lines


def test_warm_survivor_adopts_the_killed_triggerers_waits(ha: E2eSession) -> None:
    # Room for all 40 on each: the survivor can take the dead one's share at once. Both own waits
    # because the waits defer a few at a time and each triggerer takes what it finds each second.
    outcome = run_round(ha, "warm", {"t1": WAITS, "t2": WAITS})
    assert_clean_handover(outcome)


def test_fresh_triggerer_adopts_the_killed_triggerers_waits_cold(ha: E2eSession) -> None:
    # Capacity 20 each: both are full, so the survivor cannot take any, and the dead one's whole
    # share goes to the fresh triggerer started in its place, cold (the cold-start crash's path).
    half = WAITS // 2
    outcome = run_round(ha, "cold", {"t1": half, "t2": half}, replacement=("t3", half))
    assert_clean_handover(outcome)


def test_single_triggerer_killed_and_restarted_with_40_waits(ha: E2eSession) -> None:
    outcome = run_round(ha, "restart", {"t1": None}, replacement=("t1-restarted", None))
    assert_clean_handover(outcome)


def test_reschedule_mode_on_postgres(ha: E2eSession) -> None:
    # Its first-reschedule-date logic reads the database: here PostgreSQL.
    run_id = f"ha-reschedule-{uuid.uuid4().hex[:6]}"
    result = ha.run("e2e_cfw_reschedule", run_id, {"job_id": "ha-reschedule"})
    why = ha.diagnose("e2e_cfw_reschedule", run_id)
    wait = result.tasks["wait"]
    assert (result.state, wait.state, wait.try_number) == ("success", "success", 1), why
    assert ha.airflow.records.reschedules("e2e_cfw_reschedule", run_id, "wait") == 2, why
    assert ha.polls("ha-reschedule") == 3
