"""Alerts on a blocked or failed night, through Airflow's own Slack and SMTP notifiers.

Real notifiers, real network: a local HTTP server stands in for Slack's webhook endpoint
and a local SMTP sink for the mail server; the verdict comes from a real PostgreSQL.
"""
from __future__ import annotations

import json
import socketserver
import threading
from datetime import date, datetime, timezone
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import psycopg
import pytest

from touchpoint.alerts import night_failure_notifiers

ALERT_VARIABLES = ("TOUCHPOINT_ALERT_SLACK_CONN_ID", "TOUCHPOINT_ALERT_SLACK_WEBHOOK_URL",
                   "TOUCHPOINT_ALERT_EMAIL_TO", "TOUCHPOINT_ALERT_SMTP_CONN_ID", "TOUCHPOINT_ALERT_EMAIL_FROM")
RUN_ID = "scheduled__2026-11-02T17:00:00+00:00"


@pytest.fixture(autouse=True)
def no_alert_settings(monkeypatch):
    for name in ALERT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_TOUCHPOINT_ALERT_SLACK", raising=False)


def failure_context(task_id: str = "audit") -> dict:
    """What Airflow hands a DAG's on_failure_callback: the template context of the failing task."""
    from airflow.sdk import DAG

    dag = DAG("touchpoint_nightly", schedule=None)
    dag_run = SimpleNamespace(dag_id="touchpoint_nightly", run_id=RUN_ID, conf={"data_date": "2026-11-02"})
    return {"dag": dag, "dag_run": dag_run, "run_id": RUN_ID, "reason": "task_failure",
            "ti": SimpleNamespace(task_id=task_id, dag_id="touchpoint_nightly", run_id=RUN_ID),
            "logical_date": datetime(2026, 11, 2, 17, tzinfo=timezone.utc),
            "data_interval_start": datetime(2026, 11, 1, 17, tzinfo=timezone.utc)}


def record_blocked_night(conn: psycopg.Connection) -> None:
    """GIVEN the audit blocked the night: a log row, two failed checks, one not run, one pass."""
    conn.execute("insert into ops.publication_log (run_id, logical_date, decision, failed_checks, decided_by) "
                 "values (%s, '2026-11-02', 'blocked', '[]', 'airflow (test)')", (RUN_ID,))
    rows = [
        ("anomaly", "net_revenue", "customer_360", False, "failed", "error",
         "net revenue 20.4M KRW is 12x its 28-night median 1.69M (band 1.2M-2.2M)"),
        ("freshness", "delivery", "web_events", False, "failed", "error",
         "web_events delivered no file for 2026-11-02"),
        ("dbt", "test", "test.touchpoint.unique_orders", False, "not_run", "error",
         "did not run: its model int_orders failed"),
        ("gx", "expect_column_values_to_not_be_null", "customer_360", True, "passed", "error", None),
    ]
    conn.cursor().executemany(
        "insert into ops.audit_results (run_id, logical_date, check_type, check_name, object_name, passed, "
        "status, severity, reason) values (%s, '2026-11-02', %s, %s, %s, %s, %s, %s, %s)",
        [(RUN_ID, *r) for r in rows])
    conn.execute("insert into ops.task_failures (dag_id, task_id, run_id, logical_date, try_number, exception) "
                 "values ('touchpoint_nightly', 'audit', %s, '2026-11-02', 1, "
                 "'PublicationBlocked: publication blocked: 3 check(s) failed')", (RUN_ID,))


class SlackStandIn(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"path": self.path, "body": json.loads(body)})
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def slack_endpoint():
    SlackStandIn.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlackStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", SlackStandIn.received
    server.shutdown()
    server.server_close()


class SmtpSink(socketserver.StreamRequestHandler):
    """Just enough SMTP (RFC 5321) to accept one message: EHLO, MAIL, RCPT, DATA, QUIT."""

    messages: list[dict] = []

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.reply("220 sink ESMTP")
        envelope = {"from": None, "to": [], "data": b""}
        while line := self.rfile.readline():
            command = line.decode().strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink")
            elif verb == "MAIL":
                envelope["from"] = command.split(":", 1)[1].strip(" <>")
                self.reply("250 ok")
            elif verb == "RCPT":
                envelope["to"].append(command.split(":", 1)[1].strip(" <>"))
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with .")
                chunks = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    chunks.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                envelope["data"] = b"".join(chunks)
                type(self).messages.append(dict(envelope))
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")  # RSET, NOOP


@pytest.fixture
def smtp_sink():
    SmtpSink.messages = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SmtpSink)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], SmtpSink.messages
    server.shutdown()
    server.server_close()


def send_alerts(context: dict) -> None:
    """WHEN the DAG run fails: Airflow calls each of the DAG's on_failure_callback entries."""
    for callback in night_failure_notifiers():
        callback(context)


def test_alerts_are_off_by_default():
    assert night_failure_notifiers() == []


def test_a_blocked_night_posts_its_reasons_to_the_slack_webhook(fresh_db_url, fresh_conn, monkeypatch,
                                                                 slack_endpoint):
    base, received = slack_endpoint
    monkeypatch.setenv("WAREHOUSE_URL", fresh_db_url)
    monkeypatch.setenv("AIRFLOW_CONN_TOUCHPOINT_SLACK", json.dumps(
        {"conn_type": "slackwebhook", "host": base, "password": "T000/B000/XXXX"}))
    monkeypatch.setenv("TOUCHPOINT_ALERT_SLACK_CONN_ID", "touchpoint_slack")
    record_blocked_night(fresh_conn)

    send_alerts(failure_context())

    assert len(received) == 1 and received[0]["path"] == "/T000/B000/XXXX"
    text = received[0]["body"]["text"]
    assert "Touchpoint night 2026-11-02 blocked: 3 check(s)" in text
    assert f"touchpoint_nightly / {RUN_ID}" in text and "Decision: blocked" in text
    # the failures first, with the reasons an operator reads; the check that did not run after
    assert text.index("net revenue 20.4M KRW is 12x") < text.index("web_events delivered no file")
    assert text.index("web_events delivered no file") < text.index("unique_orders (did not run)")
    assert "expect_column_values_to_not_be_null" not in text  # it passed
    assert "PublicationBlocked" in text


def test_a_webhook_url_alone_is_enough(fresh_db_url, fresh_conn, monkeypatch, slack_endpoint):
    base, received = slack_endpoint
    monkeypatch.setenv("WAREHOUSE_URL", fresh_db_url)
    monkeypatch.setenv("TOUCHPOINT_ALERT_SLACK_WEBHOOK_URL", f"{base}/services/T1/B1/abc")
    record_blocked_night(fresh_conn)

    send_alerts(failure_context())

    assert [r["path"] for r in received] == ["/services/T1/B1/abc"]
    assert "net revenue 20.4M KRW" in received[0]["body"]["text"]


def test_an_unreadable_warehouse_still_alerts_with_the_failed_task(monkeypatch, slack_endpoint):
    base, received = slack_endpoint
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://nobody:wrong@127.0.0.1:1/none")
    monkeypatch.setenv("TOUCHPOINT_ALERT_SLACK_WEBHOOK_URL", f"{base}/hook")

    send_alerts(failure_context("transform.dbt_producer_watcher"))

    text = received[0]["body"]["text"]
    assert "Touchpoint night 2026-11-02 failed in transform.dbt_producer_watcher" in text
    assert RUN_ID in text and "could not be read" in text


def test_a_failed_night_is_mailed_through_the_smtp_connection(fresh_db_url, fresh_conn, monkeypatch, smtp_sink):
    port, messages = smtp_sink
    monkeypatch.setenv("WAREHOUSE_URL", fresh_db_url)
    monkeypatch.setenv("AIRFLOW_CONN_TOUCHPOINT_SMTP", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": port,
         "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "touchpoint@example.com"}}))
    monkeypatch.setenv("TOUCHPOINT_ALERT_EMAIL_TO", "data-oncall@example.com, lead@example.com")
    monkeypatch.setenv("TOUCHPOINT_ALERT_SMTP_CONN_ID", "touchpoint_smtp")
    record_blocked_night(fresh_conn)

    send_alerts(failure_context())

    assert len(messages) == 1
    mail = message_from_bytes(messages[0]["data"], policy=policy.default)
    assert messages[0]["from"] == "touchpoint@example.com"
    assert sorted(messages[0]["to"]) == ["data-oncall@example.com", "lead@example.com"]
    assert mail["Subject"].startswith("Touchpoint night 2026-11-02 blocked")
    body = next(part for part in mail.walk() if part.get_content_type() == "text/html").get_content()
    assert "net revenue 20.4M KRW is 12x" in body and RUN_ID in body


def test_both_channels_alert_and_one_failing_does_not_stop_the_other(fresh_db_url, fresh_conn, monkeypatch,
                                                                     smtp_sink):
    port, messages = smtp_sink
    monkeypatch.setenv("WAREHOUSE_URL", fresh_db_url)
    # Slack points at a closed port: its alert fails (and is logged), the mail still goes
    monkeypatch.setenv("TOUCHPOINT_ALERT_SLACK_WEBHOOK_URL", "http://127.0.0.1:1/hook")
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": {"disable_ssl": True, "disable_tls": True}}))
    monkeypatch.setenv("TOUCHPOINT_ALERT_EMAIL_TO", "data-oncall@example.com")
    monkeypatch.setenv("TOUCHPOINT_ALERT_EMAIL_FROM", "alerts@example.com")
    record_blocked_night(fresh_conn)

    assert [a.channel for a in night_failure_notifiers()] == ["slack", "email"]
    send_alerts(failure_context())

    assert [m["from"] for m in messages] == ["alerts@example.com"]


PROBE_DAG = '''
from airflow.sdk import DAG, task

from touchpoint import alerts, pipeline
from touchpoint.publish import block

with DAG("touchpoint_alert_probe", schedule=None, on_failure_callback=alerts.night_failure_notifiers() or None,
         default_args={"on_failure_callback": pipeline.record_task_failure}):

    @task
    def audit(**context):
        import psycopg
        from datetime import date
        from touchpoint import warehouse

        failed = [{"check_type": "anomaly", "check_name": "orders", "object_name": "customer_360"}]
        with psycopg.connect(warehouse.url(), autocommit=True) as conn:
            conn.execute("insert into ops.audit_results (run_id, logical_date, check_type, check_name, "
                         "object_name, passed, status, severity, reason) values (%s, '2026-11-02', 'anomaly', "
                         "'orders', 'customer_360', false, 'failed', 'error', 'orders 412 are half their median 830')",
                         (context["run_id"],))
            block(conn, context["run_id"], date(2026, 11, 2), failed)
        raise pipeline.PublicationBlocked("publication blocked: 1 check(s) failed")

    audit()
'''

PROBE_RUN = '''
import sys
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1]).get_dag("touchpoint_alert_probe")
run = dag.test(run_conf={"data_date": "2026-11-02"})
print("STATE", run.state, run.run_id)
'''


def test_a_blocked_dag_run_alerts_through_the_dag_callback(fresh_db_url, tmp_path, slack_endpoint):
    """GIVEN a DAG wired like the nightly one WHEN its audit blocks the night under Airflow
    (dag.test, as `touchpoint run`) THEN the run fails and its DAG callback posts the reasons."""
    import os
    import subprocess
    import sys

    from touchpoint.airflow_env import airflow_env, ensure_metadata_db

    base, received = slack_endpoint
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "probe.py").write_text(PROBE_DAG)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TOUCHPOINT_ALERT"))}
    env.update(WAREHOUSE_URL=fresh_db_url, TOUCHPOINT_ALERT_SLACK_WEBHOOK_URL=f"{base}/hook",
               AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__DAGS_FOLDER=str(tmp_path / "dags"),
               AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}")
    env = airflow_env(env)
    ensure_metadata_db(env)
    proc = subprocess.run([sys.executable, "-c", PROBE_RUN, str(tmp_path / "dags")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert "STATE failed" in proc.stdout, proc.stderr[-3000:]
    run_id = proc.stdout.split("STATE failed", 1)[1].split()[0]

    assert len(received) == 1, proc.stderr[-3000:]
    text = received[0]["body"]["text"]
    assert "Touchpoint night 2026-11-02 blocked: 1 check(s)" in text
    assert f"touchpoint_alert_probe / {run_id}" in text
    assert "orders 412 are half their median 830" in text and "PublicationBlocked" in text
