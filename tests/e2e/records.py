"""Read Airflow's own records: the metadata database (SQLite or PostgreSQL), read-only while the stack runs."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class SqliteDatabase:
    """A SQLite file, opened read-only for each query: the scheduler and friends own the writes."""

    errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    #: SQLite hands JSON columns back as text.
    json_as_text = True

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if not self.path.exists():
            return []
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
            try:
                return conn.execute(sql, params).fetchall()
            finally:
                conn.close()
        except sqlite3.OperationalError as err:
            # Before `db migrate` finishes the tables may not exist yet; a busy database is retried.
            if "no such table" in str(err) or "locked" in str(err):
                return []
            raise

    def close(self) -> None:
        """Nothing stays open between queries."""


class PostgresDatabase:
    """A PostgreSQL database through psycopg2, in read-only autocommit sessions.

    One connection is kept (queries come every quarter second from the samplers) and shared behind a
    lock; a broken one is replaced on the next query.

    :param dsn: a libpq connection string.
    """

    json_as_text = False

    def __init__(self, dsn: str) -> None:
        import psycopg2

        self.dsn = dsn
        self.errors: tuple[type[Exception], ...] = (psycopg2.Error,)
        self._lock = threading.Lock()
        self._conn: Any = None

    def rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        import psycopg2
        import psycopg2.errors

        # The queries are written with SQLite's "?" placeholders; psycopg2 wants "%s".
        query = sql.replace("%", "%%").replace("?", "%s")
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg2.connect(self.dsn, connect_timeout=10)
                    self._conn.set_session(readonly=True, autocommit=True)
                with self._conn.cursor() as cur:
                    cur.execute(query, params)
                    return list(cur.fetchall())
            except psycopg2.errors.UndefinedTable:
                return []  # before `db migrate` has created it
            except psycopg2.OperationalError:
                self._close_locked()
                raise

    def _close_locked(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._close_locked()


Database = SqliteDatabase | PostgresDatabase


def _ts(value: str | datetime | None) -> datetime | None:
    if not value:
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class TaskTry:
    """One try of a task instance: the current row or a row of task_instance_history."""

    task_id: str
    try_number: int
    state: str | None
    start_date: datetime | None
    end_date: datetime | None
    max_tries: int
    operator: str | None
    trigger_id: int | None
    next_method: str | None


@dataclass(frozen=True)
class TriggerRow:
    id: int
    classpath: str
    triggerer_id: int | None
    created_date: datetime | None


@dataclass(frozen=True)
class TriggererJob:
    id: int
    state: str | None
    start_date: datetime | None
    latest_heartbeat: datetime | None
    end_date: datetime | None


def ti_key(task_id: str, map_index: int) -> str:
    """How task instances are keyed here: the task id, with ``[i]`` for a mapped instance."""
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


@dataclass
class Observation:
    """What a sampler saw while a run was in flight (trigger rows vanish once their task resumes)."""

    states: dict[str, list[str]] = field(default_factory=dict)
    triggers: dict[int, TriggerRow] = field(default_factory=dict)
    trigger_ids_by_task: dict[str, set[int]] = field(default_factory=dict)
    triggerer_ids_by_trigger: dict[int, list[int]] = field(default_factory=dict)
    #: trigger id -> triggerer job id -> when the sampler first saw that triggerer own it (time.time())
    owned_since: dict[int, dict[int, float]] = field(default_factory=dict)


class Records:
    """Queries over Airflow's metadata tables.

    :param database: a SQLite file's path, or an open :data:`Database`.
    :param airflow_major: the schema's Airflow major version (2 and 3 name a few columns differently).
    """

    def __init__(self, database: Path | Database, airflow_major: int = 3) -> None:
        self.db: Database = SqliteDatabase(database) if isinstance(database, Path) else database
        self.airflow_major = airflow_major

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        return self.db.errors

    def _rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.db.rows(sql, params)

    def close(self) -> None:
        self.db.close()

    def active_dag_ids(self) -> set[str]:
        live = "NOT d.is_stale" if self.airflow_major >= 3 else "d.is_active"
        rows = self._rows(
            f"SELECT d.dag_id FROM dag d JOIN serialized_dag s ON s.dag_id = d.dag_id WHERE {live}"
        )
        return {r[0] for r in rows}

    def import_errors(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self._rows("SELECT filename, stacktrace FROM import_error")}

    def dag_run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self._rows("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
        return rows[0][0] if rows else None

    def dag_run_times(self, dag_id: str, run_id: str) -> tuple[datetime | None, datetime | None]:
        rows = self._rows(
            "SELECT start_date, end_date FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id
        )
        return (_ts(rows[0][0]), _ts(rows[0][1])) if rows else (None, None)

    _TRY_COLUMNS = (
        "task_id, try_number, state, start_date, end_date, max_tries, operator, trigger_id, next_method"
    )

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, TaskTry]:
        """Every task instance of the run, by task id; a mapped one as ``task_id[map_index]``."""
        rows = self._rows(
            f"SELECT {self._TRY_COLUMNS}, map_index FROM task_instance WHERE dag_id = ? AND run_id = ?",
            dag_id,
            run_id,
        )
        return {ti_key(r[0], int(r[-1])): self._try(r) for r in rows}

    def task_history(self, dag_id: str, run_id: str, task_id: str) -> list[TaskTry]:
        """Earlier tries (Airflow moves a try here when the task is retried or cleared)."""
        rows = self._rows(
            f"SELECT {self._TRY_COLUMNS} FROM task_instance_history"
            " WHERE dag_id = ? AND run_id = ? AND task_id = ? ORDER BY try_number",
            dag_id,
            run_id,
            task_id,
        )
        return [self._try(r) for r in rows]

    @staticmethod
    def _try(r: tuple[Any, ...]) -> TaskTry:
        return TaskTry(r[0], int(r[1]), r[2], _ts(r[3]), _ts(r[4]), int(r[5]), r[6], r[7], r[8])

    def _reschedule_rows(self, select: str) -> str:
        # Airflow 3 links a reschedule to its task instance's id; Airflow 2 repeats the key columns.
        if self.airflow_major >= 3:
            return (
                f"SELECT {select} FROM task_reschedule tr JOIN task_instance ti ON ti.id = tr.ti_id"
                " WHERE ti.dag_id = ? AND ti.run_id = ? AND ti.task_id = ?"
            )
        return f"SELECT {select} FROM task_reschedule tr WHERE tr.dag_id = ? AND tr.run_id = ? AND tr.task_id = ?"

    def reschedules(self, dag_id: str, run_id: str, task_id: str) -> int:
        rows = self._rows(self._reschedule_rows("COUNT(*)"), dag_id, run_id, task_id)
        return int(rows[0][0]) if rows else 0

    def first_start(self, dag_id: str, run_id: str, task_id: str) -> datetime | None:
        """When the task's current try first started: a rescheduled sensor's start_date is its last
        poke's, so the earliest reschedule row counts too."""
        rows = self._rows(self._reschedule_rows("MIN(tr.start_date)"), dag_id, run_id, task_id)
        ti = self.task_instances(dag_id, run_id).get(task_id)
        starts = [t for t in (_ts(rows[0][0]) if rows else None, ti.start_date if ti else None) if t]
        return min(starts) if starts else None

    def task_starts(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> int:
        """How many times a worker started this task: Airflow logs a ``running`` event each time a
        start is let through (Airflow 3's execution API ``.../run``, Airflow 2's state check before
        a run), and never for a trigger or for the triggerer ending a task."""
        rows = self._rows(
            "SELECT COUNT(*) FROM log WHERE event = 'running' AND dag_id = ? AND run_id = ? AND task_id = ?"
            " AND (map_index = ? OR map_index IS NULL)",
            dag_id,
            run_id,
            task_id,
            map_index,
        )
        return int(rows[0][0])

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        rows = self._rows(
            'SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND "key" = ? AND map_index = ?',
            dag_id,
            run_id,
            task_id,
            key,
            map_index,
        )
        if not rows:
            return None
        value = rows[0][0]
        if isinstance(value, memoryview):  # Airflow 2 keeps XCom as bytes (JSON inside)
            value = bytes(value)
        if isinstance(value, bytes) or (self.db.json_as_text and isinstance(value, str)):
            return json.loads(value)
        return value

    def triggers(self) -> dict[int, TriggerRow]:
        rows = self._rows('SELECT id, classpath, triggerer_id, created_date FROM "trigger"')
        return {r[0]: TriggerRow(r[0], r[1], r[2], _ts(r[3])) for r in rows}

    def triggerer_jobs(self) -> dict[int, tuple[str | None, str | None]]:
        """TriggererJob ids with (state, hostname)."""
        rows = self._rows("SELECT id, state, hostname FROM job WHERE job_type = 'TriggererJob'")
        return {r[0]: (r[1], r[2]) for r in rows}

    def triggerer_heartbeats(self) -> dict[int, TriggererJob]:
        """Every TriggererJob with its start and latest heartbeat."""
        rows = self._rows(
            "SELECT id, state, start_date, latest_heartbeat, end_date FROM job WHERE job_type = 'TriggererJob'"
        )
        return {r[0]: TriggererJob(r[0], r[1], _ts(r[2]), _ts(r[3]), _ts(r[4])) for r in rows}

    def trigger_owners(self) -> dict[int, int | None]:
        """Trigger id -> the TriggererJob it is assigned to (None: nobody yet)."""
        return {r[0]: r[1] for r in self._rows('SELECT id, triggerer_id FROM "trigger"')}

    def ti_trigger(self, dag_id: str, run_id: str, task_id: str) -> tuple[str | None, int | None]:
        rows = self._rows(
            "SELECT state, trigger_id FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = ?",
            dag_id,
            run_id,
            task_id,
        )
        return (rows[0][0], rows[0][1]) if rows else (None, None)


class Sampler:
    """Sample one DAG run's task states and trigger rows in a thread, so short-lived facts are kept."""

    def __init__(self, records: Records, dag_id: str, run_id: str, interval: float = 0.25) -> None:
        self.records = records
        self.dag_id = dag_id
        self.run_id = run_id
        self.interval = interval
        self.seen = Observation()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sampler-{run_id}", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(*self.records.errors):
                self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        tis = self.records.task_instances(self.dag_id, self.run_id)
        triggers = self.records.triggers()
        for task_id, ti in tis.items():
            states = self.seen.states.setdefault(task_id, [])
            if ti.state and (not states or states[-1] != ti.state):
                states.append(ti.state)
            if ti.trigger_id is not None:
                self.seen.trigger_ids_by_task.setdefault(task_id, set()).add(ti.trigger_id)
                row = triggers.get(ti.trigger_id)
                if row is not None:
                    self.seen.triggers[row.id] = row
                    owners = self.seen.triggerer_ids_by_trigger.setdefault(row.id, [])
                    if row.triggerer_id is not None and (not owners or owners[-1] != row.triggerer_id):
                        owners.append(row.triggerer_id)
                        self.seen.owned_since.setdefault(row.id, {}).setdefault(row.triggerer_id, time.time())

    def wait_until(self, what: str, predicate: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.seen):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}; saw {self.seen}")
            time.sleep(self.interval)
