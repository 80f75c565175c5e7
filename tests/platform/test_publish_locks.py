"""Publish and rollback never stall BI (issue 10, part 5).

GIVEN a long BI query on one mart, a BI transaction that reads two marts, and readers
      polling every mart
WHEN a night is published and then rolled back meanwhile
THEN no poll waits more than a second, nobody gets a deadlock error, and the swap
     happens once the long query is done; a swap that cannot get its locks gives up
     with a message naming the sessions in the way, and marts keep the old version.
"""
from __future__ import annotations

import threading
import time
from datetime import date

import psycopg
import pytest

from test_publish_history import CANDIDATE, change_rows, make_candidate
from touchpoint.publish import PublishError, publish, rollback

LONG_QUERY_SECONDS = 4


class Readers:
    """BI sessions running beside the publication; they record what they saw."""

    def __init__(self, url: str):
        self.url = url
        self.stop = threading.Event()
        self.waits: dict[str, float] = {}
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []

    def _run(self, target, *args) -> None:
        def guarded():
            try:
                target(*args)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(exc)
        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        self.threads.append(thread)

    def long_query(self, mart: str, started: threading.Event, seconds: float = LONG_QUERY_SECONDS) -> None:
        def run():
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(f"select count(*) from marts.{mart}")  # the view is locked from here
                started.set()
                conn.execute(f"select count(*), pg_sleep({seconds}) from marts.{mart}")
        self._run(run)

    def poll(self, mart: str) -> None:
        def run():
            longest = 0.0
            with psycopg.connect(self.url, autocommit=True) as conn:
                while not self.stop.is_set():
                    began = time.monotonic()
                    conn.execute(f"select count(*) from marts.{mart}").fetchone()
                    longest = max(longest, time.monotonic() - began)
                    time.sleep(0.05)
            self.waits[f"poll {mart}"] = longest
        self._run(run)

    def transaction(self, first: str, second: str) -> None:
        """A BI transaction holding one view while it asks for the other: the deadlock case."""
        def run():
            longest = 0.0
            with psycopg.connect(self.url) as conn:
                while not self.stop.is_set():
                    with conn.transaction():
                        conn.execute(f"select count(*) from marts.{first}").fetchone()
                        time.sleep(0.3)
                        began = time.monotonic()
                        conn.execute(f"select count(*) from marts.{second}").fetchone()
                        longest = max(longest, time.monotonic() - began)
            self.waits[f"transaction {first} then {second}"] = longest
        self._run(run)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


@pytest.fixture
def published(fresh_conn):
    make_candidate(fresh_conn)
    first = publish(fresh_conn, "run1", date(2026, 11, 1), CANDIDATE)
    change_rows(fresh_conn, "customer_id % 10 = 0", "changed")
    fresh_conn.execute(f"update {CANDIDATE}.orders_daily set orders = 11, _changed_at = clock_timestamp()")
    return first


def swap_beside_readers(url: str, action, long_seconds: float = LONG_QUERY_SECONDS) -> tuple[Readers, float]:
    """Run `action` (a publish or rollback) beside a long query, pollers and BI transactions
    (bench/bench_publish_readers.py uses it too)."""
    readers = Readers(url)
    started = threading.Event()
    readers.long_query("customer_360", started, long_seconds)
    assert started.wait(30)
    readers.poll("orders_daily")
    readers.poll("customer_360")
    readers.transaction("orders_daily", "customer_360")
    readers.transaction("customer_360", "orders_daily")
    time.sleep(0.5)
    began = time.monotonic()
    action()
    took = time.monotonic() - began
    time.sleep(0.5)
    readers.finish()
    return readers, took


def test_publish_and_rollback_beside_a_long_query_and_bi_transactions(fresh_conn, fresh_db_url, published):
    readers, took = swap_beside_readers(
        fresh_db_url, lambda: publish(fresh_conn, "run2", date(2026, 11, 2), CANDIDATE))
    assert readers.errors == []  # before: DeadlockDetected in the BI transaction
    assert max(readers.waits.values()) < 1.0, readers.waits  # before: 18.6 s behind the long query
    assert took < 1.0  # moving the served version locks no view: it does not wait for the long query
    assert fresh_conn.execute("select count(*) from marts.customer_360 where segment = 'changed'").fetchone()[0] == 200
    print(f"publish beside a {LONG_QUERY_SECONDS} s query: took {took:.1f} s; longest reader waits {readers.waits}")

    readers, took = swap_beside_readers(fresh_db_url, lambda: rollback(fresh_conn))
    assert readers.errors == []
    assert max(readers.waits.values()) < 1.0, readers.waits
    assert fresh_conn.execute("select count(*) from marts.customer_360 where segment = 'changed'").fetchone()[0] == 0
    print(f"rollback beside a {LONG_QUERY_SECONDS} s query: took {took:.1f} s; longest reader waits {readers.waits}")


def test_a_view_change_waits_briefly_and_only_for_its_own_view(fresh_conn, fresh_db_url, published):
    # a new column: customer_360's view must be recreated (DDL, its lock), orders_daily's not
    fresh_conn.execute(f"alter table {CANDIDATE}.customer_360 add column is_active boolean")
    fresh_conn.execute(f"update {CANDIDATE}.customer_360 set is_active = true, _changed_at = clock_timestamp()")
    readers = Readers(fresh_db_url)
    started = threading.Event()
    readers.long_query("customer_360", started)
    assert started.wait(10)
    readers.poll("orders_daily")
    readers.transaction("orders_daily", "orders_daily")
    time.sleep(0.3)
    began = time.monotonic()
    decision = publish(fresh_conn, "run2", date(2026, 11, 2), CANDIDATE)
    took = time.monotonic() - began
    readers.finish()
    assert decision.history_reset == ["customer_360"]
    assert readers.errors == [] and max(readers.waits.values()) < 1.0, readers.waits
    assert took >= LONG_QUERY_SECONDS - 2  # the swap waited (in short, retried tries) for the long query
    assert fresh_conn.execute("select count(*) from marts.customer_360 where is_active").fetchone()[0] == 2000
    print(f"view change beside a {LONG_QUERY_SECONDS} s query: took {took:.1f} s; readers {readers.waits}")


def test_a_swap_that_cannot_get_its_locks_gives_up_cleanly(fresh_conn, fresh_db_url, published, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_SWAP_ATTEMPTS", "2")
    fresh_conn.execute(f"alter table {CANDIDATE}.customer_360 add column is_active boolean")
    holder = psycopg.connect(fresh_db_url)  # a BI session left idle in a transaction
    holder.execute("select count(*) from marts.customer_360").fetchone()
    holder_pid = holder.info.backend_pid
    try:
        with pytest.raises(PublishError, match=f"gave up after 2 attempts.*pid {holder_pid}"):
            publish(fresh_conn, "run2", date(2026, 11, 2), CANDIDATE)
        served = fresh_conn.execute("select version, decision from ops.publication_log "
                                    "order by publication_id desc limit 1").fetchone()
        assert served[1] == "published" and served[0] == published.version  # nothing logged for run2
    finally:
        holder.close()
    assert fresh_conn.execute("select count(*) from marts.customer_360 where segment = 'changed'").fetchone()[0] == 0
    # the next publication serves the night the failed swap left written
    later = publish(fresh_conn, "run2-retry", date(2026, 11, 2), CANDIDATE)
    assert fresh_conn.execute("select count(*) from marts.customer_360 where segment = 'changed'").fetchone()[0] == 200
    assert fresh_conn.execute("select count(*) from marts.orders_daily where orders = 11").fetchone()[0] == 10
    assert later.version > published.version + 1
