"""One run at a time per warehouse (issue 10).

Two runs against one warehouse would destroy each other's work: the second one's
candidate reset drops the tables the first is building, and its publication could
publish the first one's half-built candidate. `dag.test` (what `touchpoint run` uses)
does not honour the DAG's `max_active_runs`, so the warehouse itself arbitrates.

The run lock is a PostgreSQL session advisory lock on a connection of its own, held
for as long as the work runs: the server releases it when the holder's connection
ends, so a killed run never leaves a stale lock behind.

- `touchpoint run` takes it once for all its dates and hands it down: its child
  processes (the DAG's tasks, dbt) find the holder's backend pid in
  `TOUCHPOINT_RUN_LOCK_HOLDER` and, while that backend still holds the lock, go ahead
  without taking it again.
- Under a scheduler, each task of the candidate and publish stages takes the lock for
  its own duration. Between two tasks of a scheduled night the connection is gone, so
  the night also leaves a lease in `ops.run_lease` (its run id) from candidate
  preparation until publication or failure: another run that gets the lock while a
  live lease names a different run treats the lock as held. A lease older than
  `TOUCHPOINT_RUN_LEASE_HOURS` (default 12) is a night that died without cleaning up
  and is ignored.
- `touchpoint erase` takes it too: an erasure must not race a night's build.

Waiting: `TOUCHPOINT_RUN_LOCK_WAIT` seconds (or the caller's `wait_seconds`), then
`RunLockHeld`, whose message names the holder.
"""
from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

# pg_advisory_lock(int4, int4): shows in pg_locks as classid/objid with objsubid = 2.
LOCK_CLASS = 0x7470  # "tp"
LOCK_OBJECT = 1
HOLDER_ENV = "TOUCHPOINT_RUN_LOCK_HOLDER"
WAIT_ENV = "TOUCHPOINT_RUN_LOCK_WAIT"
LEASE_HOURS_ENV = "TOUCHPOINT_RUN_LEASE_HOURS"
APPLICATION_PREFIX = "touchpoint run lock: "
POLL_SECONDS = 1.0

LEASE_DDL = """
create table if not exists ops.run_lease (
    lease_id smallint primary key default 1 check (lease_id = 1),
    run_id text not null,
    holder text not null,
    acquired_at timestamptz not null default now()
)
"""


class RunLockHeld(RuntimeError):
    """Another run holds the warehouse: the message says who, since when, and what to do."""


@dataclass
class Holder:
    description: str
    since: object

    def __str__(self) -> str:
        return f"{self.description} (since {self.since:%Y-%m-%d %H:%M:%S %Z})" if self.since else self.description


def default_wait() -> float:
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, "0")))
    except ValueError:
        raise RunLockHeld(f"{WAIT_ENV} must be a number of seconds, not {os.environ[WAIT_ENV]!r}") from None


def lease_hours() -> float:
    return float(os.environ.get(LEASE_HOURS_ENV, "12"))


def lock_holder(conn: psycopg.Connection) -> Holder | None:
    """Who holds the run lock now, if anyone."""
    row = conn.execute(
        "select coalesce(nullif(activity.application_name, ''), 'a session'), activity.pid, activity.backend_start "
        "from pg_locks as locks join pg_stat_activity as activity on activity.pid = locks.pid "
        "where locks.locktype = 'advisory' and locks.granted and locks.classid = %s and locks.objid = %s "
        "and locks.objsubid = 2 and locks.database = (select oid from pg_database where datname = current_database())",
        (LOCK_CLASS, LOCK_OBJECT),
    ).fetchone()
    if row is None:
        return None
    name, pid, since = row
    return Holder(f"{name.removeprefix(APPLICATION_PREFIX)} [server pid {pid}]", since)


def _holds(conn: psycopg.Connection, backend_pid: int) -> bool:
    return conn.execute(
        "select 1 from pg_locks where locktype = 'advisory' and granted and classid = %s and objid = %s "
        "and objsubid = 2 and pid = %s", (LOCK_CLASS, LOCK_OBJECT, backend_pid)).fetchone() is not None


def inherited(url: str) -> bool:
    """True when a parent process holds the run lock for this process tree."""
    value = os.environ.get(HOLDER_ENV, "").strip()
    if not value.isdigit():
        return False
    with psycopg.connect(url, autocommit=True) as conn:
        return _holds(conn, int(value))


def _foreign_lease(conn: psycopg.Connection, run_id: str | None) -> Holder | None:
    if conn.execute("select to_regclass('ops.run_lease')").fetchone()[0] is None:
        return None  # no scheduled night has taken one here (perhaps no ops schema yet)
    row = conn.execute(
        "select run_id, holder, acquired_at from ops.run_lease "
        "where acquired_at > now() - make_interval(secs => %s)", (lease_hours() * 3600,)).fetchone()
    if row is None or (run_id is not None and row[0] == run_id):
        return None
    return Holder(f"{row[1]}, between two of its tasks", row[2])


def _try_acquire(conn: psycopg.Connection, run_id: str | None) -> Holder | None:
    """Take the lock; None when taken, else who has it (the lock is not kept then)."""
    if not conn.execute("select pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, LOCK_OBJECT)).fetchone()[0]:
        return lock_holder(conn) or Holder("another session (it has just finished)", None)
    lease = _foreign_lease(conn, run_id)
    if lease is not None:
        conn.execute("select pg_advisory_unlock(%s, %s)", (LOCK_CLASS, LOCK_OBJECT))
        return lease
    return None


def describe(purpose: str) -> str:
    return f"{purpose} (pid {os.getpid()} on {socket.gethostname()})"


@contextmanager
def exclusive_run(url: str, purpose: str, wait_seconds: float | None = None,
                  run_id: str | None = None) -> Iterator[int | None]:
    """Hold the warehouse's run lock while the block runs; yields the holder's backend pid.

    `purpose` says who holds it (shown to anyone who has to wait). `run_id` is the
    scheduled night the work belongs to: its own lease does not count against it.
    Nested or in a child of a holder (TOUCHPOINT_RUN_LOCK_HOLDER), it is a no-op.
    """
    if inherited(url):
        yield None
        return
    wait = default_wait() if wait_seconds is None else max(0.0, wait_seconds)
    who = describe(purpose)
    conn = psycopg.connect(url, autocommit=True, application_name=(APPLICATION_PREFIX + who)[:63])
    try:
        deadline = time.monotonic() + wait
        while (holder := _try_acquire(conn, run_id)) is not None:
            if time.monotonic() >= deadline:
                waited = f" after waiting {wait:.0f} s" if wait else ""
                raise RunLockHeld(
                    f"another run holds this warehouse{waited}: {holder}. Only one run at a time may build "
                    f"and publish the marts; try again when it has finished, or set {WAIT_ENV}=<seconds> to wait")
            time.sleep(POLL_SECONDS)
        previous = os.environ.get(HOLDER_ENV)
        os.environ[HOLDER_ENV] = str(conn.info.backend_pid)  # children of this process inherit it
        try:
            yield conn.info.backend_pid
        finally:
            if previous is None:
                os.environ.pop(HOLDER_ENV, None)
            else:
                os.environ[HOLDER_ENV] = previous
    finally:
        try:
            # Released now, not when the server gets round to ending the session.
            conn.execute("select pg_advisory_unlock_all()")
        except psycopg.Error:
            pass  # a broken connection: its session's end releases the lock
        conn.close()


def take_lease(conn: psycopg.Connection, run_id: str, holder: str) -> None:
    """Mark the warehouse as a scheduled night's from its candidate stage until it is decided."""
    conn.execute(LEASE_DDL)
    conn.execute(
        "insert into ops.run_lease (run_id, holder) values (%s, %s) on conflict (lease_id) do update "
        "set run_id = excluded.run_id, holder = excluded.holder, acquired_at = now()", (run_id, holder))


def release_lease(conn: psycopg.Connection, run_id: str) -> None:
    if conn.execute("select to_regclass('ops.run_lease')").fetchone()[0]:
        conn.execute("delete from ops.run_lease where run_id = %s", (run_id,))
