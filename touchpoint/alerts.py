"""Alerts: a blocked or failed night notifies through Airflow's own notifiers.

Off by default. Each configured channel adds one callable to the nightly DAG's
`on_failure_callback`; a DAG-level callback fires when the run fails, and a blocked night
fails it (the audit task raises). The callable reads the night's verdict from the
warehouse (ops.publication_log, ops.audit_results, ops.task_failures), writes a short
message and sends it with the official provider's notifier: SlackWebhookNotifier
(apache-airflow-providers-slack) or SmtpNotifier (apache-airflow-providers-smtp). When
the warehouse cannot be read, the message still says which run and task failed.

Settings (README, "Alerts"):
- TOUCHPOINT_ALERT_SLACK_CONN_ID: an Airflow connection of type `slackwebhook`, or
- TOUCHPOINT_ALERT_SLACK_WEBHOOK_URL: the webhook URL itself (registered as connection
  `touchpoint_alert_slack` through an AIRFLOW_CONN_ variable in this process);
- TOUCHPOINT_ALERT_EMAIL_TO: comma-separated recipients, sent through
  TOUCHPOINT_ALERT_SMTP_CONN_ID (default `smtp_default`), from
  TOUCHPOINT_ALERT_EMAIL_FROM (else the connection's `from_email`).
"""
from __future__ import annotations

import html
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)

SLACK_URL_CONN_ID = "touchpoint_alert_slack"
# The message lists this many checks; the rest are counted ("and 12 more").
TOP_CHECKS = 5
TOP_TASKS = 3
REASON_CHARS = 300


@dataclass(frozen=True)
class AlertSettings:
    slack_conn_id: str | None
    slack_webhook_url: str | None
    email_to: tuple[str, ...]
    smtp_conn_id: str
    email_from: str | None


def alert_settings() -> AlertSettings:
    def value(name: str) -> str | None:
        return os.environ.get(name, "").strip() or None

    recipients = tuple(a.strip() for a in (value("TOUCHPOINT_ALERT_EMAIL_TO") or "").split(",") if a.strip())
    return AlertSettings(
        slack_conn_id=value("TOUCHPOINT_ALERT_SLACK_CONN_ID"),
        slack_webhook_url=value("TOUCHPOINT_ALERT_SLACK_WEBHOOK_URL"),
        email_to=recipients,
        smtp_conn_id=value("TOUCHPOINT_ALERT_SMTP_CONN_ID") or "smtp_default",
        email_from=value("TOUCHPOINT_ALERT_EMAIL_FROM"),
    )


# --- what the message says -------------------------------------------------------------

@dataclass
class NightVerdict:
    """What an operator needs from a failed night, as far as it could be read."""

    dag_id: str
    run_id: str
    data_date: str | None
    decision: str  # blocked | failed before a decision | published | unknown
    failed_tasks: list[tuple[str, str]] = field(default_factory=list)  # (task id, error)
    checks: list[tuple[str, str]] = field(default_factory=list)  # (check, reason), top first
    checks_total: int = 0
    warehouse_error: str | None = None

    @property
    def subject(self) -> str:
        night = f"Touchpoint night {self.data_date or '?'}"
        if self.decision == "blocked":
            return f"{night} blocked: {self.checks_total} check(s) did not pass; BI keeps the last published marts"
        task = self.failed_tasks[0][0] if self.failed_tasks else "a task"
        return f"{night} failed in {task}; BI keeps the last published marts"

    def lines(self) -> list[str]:
        out = [f"DAG run: {self.dag_id} / {self.run_id}",
               f"Data date: {self.data_date or 'unknown'}",
               f"Decision: {self.decision}"]
        if self.checks:
            out.append(f"Checks that did not pass ({self.checks_total}), top first:")
            out += [f"  - {name}: {reason}" for name, reason in self.checks]
            if self.checks_total > len(self.checks):
                out.append(f"  ... and {self.checks_total - len(self.checks)} more (ops.audit_results)")
        if self.failed_tasks:
            out.append("Failed task(s):")
            out += [f"  - {task}: {error}" if error else f"  - {task}" for task, error in self.failed_tasks]
        if self.warehouse_error:
            out.append(f"(The warehouse could not be read for details: {self.warehouse_error})")
        if self.decision == "blocked":
            out.append("To publish it anyway (logged): touchpoint publish --force --reason \"...\"")
        return out

    def text(self) -> str:
        return "\n".join([f"*{self.subject}*", *self.lines()])

    def html(self) -> str:
        body = "<br>\n".join(html.escape(line).replace("  ", "&nbsp;&nbsp;") for line in self.lines())
        return f"<p><b>{html.escape(self.subject)}</b></p>\n<p>{body}</p>"


def _short(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def _data_date(context: dict) -> str | None:
    from touchpoint.pipeline import data_date_for

    dag_run = context.get("dag_run")
    try:
        return data_date_for(getattr(dag_run, "conf", None), context.get("data_interval_start"),
                             context.get("logical_date")).isoformat()
    except Exception:  # noqa: BLE001 - the warehouse's logical_date may still tell
        return None


def night_verdict(context: dict, url: str | None = None) -> NightVerdict:
    """The run's verdict from ops.*; never raises (an alert must go out regardless)."""
    dag = context.get("dag")
    dag_run = context.get("dag_run")
    ti = context.get("ti") or context.get("task_instance")
    verdict = NightVerdict(
        dag_id=getattr(dag, "dag_id", None) or getattr(dag_run, "dag_id", None) or "touchpoint_nightly",
        run_id=context.get("run_id") or getattr(dag_run, "run_id", None) or "?",
        data_date=_data_date(context),
        decision="unknown",
    )
    if ti is not None and getattr(ti, "task_id", None):
        verdict.failed_tasks = [(ti.task_id, "")]
    try:
        import psycopg

        from touchpoint import warehouse

        with psycopg.connect(url or warehouse.url(), autocommit=True, connect_timeout=10) as conn:
            _read_verdict(conn, verdict)
    except Exception as exc:  # noqa: BLE001
        verdict.warehouse_error = _short(f"{type(exc).__name__}: {exc}")
        log.warning("alert for %s without warehouse details: %s", verdict.run_id, verdict.warehouse_error)
    return verdict


def _read_verdict(conn, verdict: NightVerdict) -> None:
    row = conn.execute(
        "select decision, logical_date from ops.publication_log where run_id = %s "
        "order by publication_id desc limit 1", (verdict.run_id,)).fetchone()
    if row is None:
        verdict.decision = "failed before a publication decision (nothing was published)"
    else:
        verdict.decision = row[0]
        verdict.data_date = verdict.data_date or row[1].isoformat()
    # Checks that did not pass: failures of error severity first, then checks that could
    # not run, then the rest; older rows have no status/reason, only passed/details.
    checks = conn.execute(
        """
        select check_type || ':' || check_name || coalesce(' on ' || object_name, ''),
               coalesce(status, 'failed'),
               coalesce(reason, details ->> 'reason', details ->> 'message', details ->> 'status')
        from ops.audit_results
        where run_id = %s and (status in ('failed', 'not_run') or (status is null and not passed))
        order by case coalesce(status, 'failed') when 'failed' then 0 else 1 end,
                 case coalesce(severity, 'error') when 'error' then 0 else 1 end,
                 check_type, check_name, object_name
        """, (verdict.run_id,)).fetchall()
    verdict.checks_total = len(checks)
    verdict.checks = [(name if status == "failed" else f"{name} (did not run)", _short(reason) or "failed")
                      for name, status, reason in checks[:TOP_CHECKS]]
    tasks = conn.execute(
        "select distinct on (task_id) task_id, exception from ops.task_failures where run_id = %s "
        "order by task_id, failed_at desc", (verdict.run_id,)).fetchall()
    if tasks:
        verdict.failed_tasks = [(task, _short(error)) for task, error in tasks[:TOP_TASKS]]


# --- the notifiers ---------------------------------------------------------------------

class NightFailureAlert:
    """A DAG on_failure_callback: compose the night's message, send it through a notifier.

    The message is composed when the run fails, from the warehouse, so the notifier is
    built then with the finished text (and `notify` is called directly: Airflow's
    template rendering would treat braces in a check's reason as Jinja).
    """

    def __init__(self, channel: str, make_notifier: Callable[[NightVerdict], Any]):
        self.channel = channel
        self.make_notifier = make_notifier
        self.__name__ = f"touchpoint_{channel}_alert"  # Airflow logs callbacks by name

    def __repr__(self) -> str:
        return f"NightFailureAlert({self.channel})"

    def __call__(self, context: dict) -> None:
        verdict = night_verdict(context)
        try:
            self.make_notifier(verdict).notify(context)
            log.info("%s alert sent for %s", self.channel, verdict.run_id)
        except Exception:  # noqa: BLE001 - one channel failing must not stop the others
            log.exception("%s alert for %s could not be sent", self.channel, verdict.run_id)


def _slack_conn_id(cfg: AlertSettings) -> str:
    if cfg.slack_conn_id:
        return cfg.slack_conn_id
    # A bare URL becomes an Airflow connection through the environment (Airflow's env
    # secrets backend), so the official hook sends it; an explicit connection wins.
    os.environ.setdefault(f"AIRFLOW_CONN_{SLACK_URL_CONN_ID.upper()}",
                          json.dumps({"conn_type": "slackwebhook", "password": cfg.slack_webhook_url}))
    return SLACK_URL_CONN_ID


def _slack(cfg: AlertSettings) -> Callable[[NightVerdict], Any]:
    def make(verdict: NightVerdict):
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        return SlackWebhookNotifier(slack_webhook_conn_id=_slack_conn_id(cfg), text=verdict.text())
    return make


def _email(cfg: AlertSettings) -> Callable[[NightVerdict], Any]:
    def make(verdict: NightVerdict):
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        return SmtpNotifier(to=list(cfg.email_to), from_email=cfg.email_from, subject=verdict.subject,
                            html_content=verdict.html(), smtp_conn_id=cfg.smtp_conn_id)
    return make


def night_failure_notifiers(cfg: AlertSettings | None = None) -> list[NightFailureAlert]:
    """The nightly DAG's on_failure_callback: one alert per configured channel, none by default."""
    cfg = cfg or alert_settings()
    alerts = []
    if cfg.slack_conn_id or cfg.slack_webhook_url:
        alerts.append(NightFailureAlert("slack", _slack(cfg)))
    if cfg.email_to:
        alerts.append(NightFailureAlert("email", _email(cfg)))
    return alerts
