"""One run at a time per warehouse (issue 10, part 7).

GIVEN a warehouse whose run lock is held (by a session, a killed process, a parent
      `touchpoint run`, or a scheduled night between two tasks)
WHEN another run, a DAG task or `touchpoint run` wants it
THEN it waits or exits with a message naming the holder, and never proceeds beside it.
(Two real concurrent `touchpoint run`s: tests/e2e/test_nightly_run.py.)
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from touchpoint import cli
from touchpoint.runlock import (HOLDER_ENV, RunLockHeld, exclusive_run, inherited, lock_holder, release_lease,
                                take_lease)


@pytest.fixture(autouse=True)
def no_inherited_lock(monkeypatch):
    monkeypatch.delenv(HOLDER_ENV, raising=False)
    monkeypatch.delenv("TOUCHPOINT_RUN_LOCK_WAIT", raising=False)


def test_a_second_holder_is_refused_with_who_holds_it(fresh_db_url, fresh_conn):
    with exclusive_run(fresh_db_url, "night of 2026-11-01") as pid:
        assert "night of 2026-11-01" in str(lock_holder(fresh_conn)) and f"server pid {pid}" in str(
            lock_holder(fresh_conn))
        with pytest.raises(RunLockHeld, match="another run holds this warehouse: night of 2026-11-01"):
            # a different process tree: nothing inherited
            with _without_inheritance(), exclusive_run(fresh_db_url, "second"):
                pytest.fail("the second holder got in")
    assert lock_holder(fresh_conn) is None
    with exclusive_run(fresh_db_url, "third"):
        pass


class _without_inheritance:
    """As in another process tree: the holder's pid is not in this environment."""

    def __enter__(self):
        self.saved = os.environ.pop(HOLDER_ENV, None)

    def __exit__(self, *exc):
        if self.saved is not None:
            os.environ[HOLDER_ENV] = self.saved


def test_waiting_gets_the_lock_when_the_holder_finishes(fresh_db_url):
    released = threading.Event()

    def hold_for_a_second():
        with psycopg.connect(fresh_db_url, autocommit=True) as conn:
            conn.execute("select pg_advisory_lock(%s, %s)", (0x7470, 1))
            released.wait(10)
            time.sleep(1)
    holder = threading.Thread(target=hold_for_a_second)
    holder.start()
    time.sleep(0.5)
    released.set()
    began = time.monotonic()
    with exclusive_run(fresh_db_url, "patient", wait_seconds=20):
        waited = time.monotonic() - began
    holder.join()
    assert 0.3 < waited < 10


def test_a_killed_holder_leaves_no_stale_lock(fresh_db_url, fresh_conn):
    code = ("import sys, time; from touchpoint.runlock import exclusive_run\n"
            "with exclusive_run(sys.argv[1], 'doomed'):\n    print('held', flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, fresh_db_url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert "doomed" in str(lock_holder(fresh_conn))
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while lock_holder(fresh_conn) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    with exclusive_run(fresh_db_url, "after the crash", wait_seconds=5):
        pass


def test_children_of_the_holder_inherit_it_and_nesting_is_a_no_op(fresh_db_url, fresh_conn):
    assert not inherited(fresh_db_url)
    with exclusive_run(fresh_db_url, "parent") as pid:
        assert inherited(fresh_db_url)
        with exclusive_run(fresh_db_url, "a task of the parent's night") as nested:
            assert nested is None
        code = "import sys; from touchpoint.runlock import inherited; print(inherited(sys.argv[1]))"
        child = subprocess.run([sys.executable, "-c", code, fresh_db_url], capture_output=True, text=True,
                               check=True)
        assert child.stdout.strip() == "True"
        assert f"server pid {pid}" in str(lock_holder(fresh_conn))
    assert not inherited(fresh_db_url)


def test_a_scheduled_nights_lease_keeps_other_runs_out_between_its_tasks(fresh_db_url, fresh_conn):
    take_lease(fresh_conn, "scheduled__2026-11-02", "DAG run scheduled__2026-11-02")
    with pytest.raises(RunLockHeld, match="DAG run scheduled__2026-11-02, between two of its tasks"):
        with exclusive_run(fresh_db_url, "touchpoint run 2026-11-02"):
            pass
    assert lock_holder(fresh_conn) is None  # the refused attempt let the lock go
    with exclusive_run(fresh_db_url, "its own next task", run_id="scheduled__2026-11-02"):
        pass
    # a lease older than TOUCHPOINT_RUN_LEASE_HOURS is a night that died without cleaning up
    fresh_conn.execute("update ops.run_lease set acquired_at = now() - interval '13 hours'")
    with exclusive_run(fresh_db_url, "the morning after"):
        pass
    fresh_conn.execute("update ops.run_lease set acquired_at = now()")
    release_lease(fresh_conn, "scheduled__2026-11-02")
    with exclusive_run(fresh_db_url, "after its publication"):
        pass


def test_touchpoint_run_exits_75_with_the_holder_and_touches_nothing(fresh_db_url, fresh_conn, monkeypatch, capsys):
    monkeypatch.setenv("WAREHOUSE_URL", fresh_db_url)
    with exclusive_run(fresh_db_url, "touchpoint erase --email ..."):
        before = fresh_conn.execute("select count(*) from pg_class").fetchone()[0]
        with _without_inheritance():
            assert cli.main(["run", "--date", "2026-11-01"]) == 75
    err = capsys.readouterr().err
    assert "touchpoint run: not started: another run holds this warehouse: touchpoint erase" in err
    assert "TOUCHPOINT_RUN_LOCK_WAIT" in err
    assert fresh_conn.execute("select count(*) from pg_class").fetchone()[0] == before
