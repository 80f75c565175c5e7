"""Crash safety: a loader killed (SIGKILL) in the middle of a COPY leaves nothing of the file
in raw or the manifest; a rerun then loads it completely."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import psycopg

from ingestion.loader import load_file

DAY = date(2026, 11, 1)
ROWS = 400_000
REPO = Path(__file__).resolve().parents[2]


def _big_file(landing: Path) -> Path:
    folder = landing / "ad_spend" / DAY.isoformat()
    folder.mkdir(parents=True)
    path = folder / "big.csv"
    head = "spend_date,platform,campaign_id,campaign_name,spend_krw,impressions,clicks,conversions,conversion_value_krw\n"
    body = "".join(f"2026-11-01,naver,NV-{i},winter_sale,{1000 + i},{i},{i % 97},{i % 7},{i * 3}\n" for i in range(ROWS))
    path.write_text(head + body)
    return path


def test_sigkill_mid_copy_leaves_nothing_and_rerun_completes(db_url, tmp_path):
    path = _big_file(tmp_path)
    dbname = db_url.rsplit("/", 1)[1]
    code = textwrap.dedent(f"""
        import psycopg, sys
        from datetime import date
        from pathlib import Path
        from ingestion.loader import load_file
        with psycopg.connect({db_url!r}, autocommit=True) as c:
            load_file(c, "ad_spend", Path({str(path)!r}), date(2026, 11, 1), Path({str(tmp_path)!r}))
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env)
    with psycopg.connect(db_url, autocommit=True) as mon:
        backend = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            row = mon.execute(
                "select p.pid, p.tuples_processed from pg_stat_progress_copy p join pg_database d on d.oid = p.datid"
                " where d.datname = %s and p.relid = 'raw.ad_spend'::regclass", (dbname,)).fetchone()
            if row and row[1] > 1000:
                backend = row[0]
                break
            time.sleep(0.005)
        assert backend is not None, "the loader finished before it could be killed mid-COPY"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        while mon.execute("select count(*) from pg_stat_activity where pid = %s", (backend,)).fetchone()[0]:
            time.sleep(0.01)  # the server notices the dead client and aborts its transaction
        assert mon.execute("select count(*) from raw.ad_spend").fetchone()[0] == 0
        assert mon.execute("select count(*) from ops.load_manifest").fetchone()[0] == 0
        assert mon.execute("select count(*) from raw.quarantine").fetchone()[0] == 0

        result = load_file(mon, "ad_spend", path, DAY, tmp_path)
        assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == ("loaded", ROWS, ROWS, 0)
        assert mon.execute("select count(*), count(distinct _line_number) from raw.ad_spend").fetchone() == (ROWS, ROWS)
        assert mon.execute("select count(*) from ops.load_manifest where is_current").fetchone()[0] == 1
