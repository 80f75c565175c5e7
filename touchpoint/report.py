"""The run report: one self-contained HTML page per night under <local dir>/reports/.

`touchpoint report --date D` (and the DAG, after publication) writes it. It reads only
the ops tables and raw.quarantine, so it works for any night, also one that stopped
before the audit: a section without data says so instead of failing.

Charts are drawn by plotly; its JavaScript bundle is embedded once in the page so the
file opens without network access (an e-mail attachment, a file share). Every text
taken from the warehouse is HTML-escaped before it is put into the page.
"""
from __future__ import annotations

import html
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from touchpoint.config import settings

log = logging.getLogger(__name__)

# Nights of metric history charted, tonight included.
CHART_NIGHTS = 28
# How many check names are listed under one reason before "and N more".
CHECKS_PER_REASON = 8

STATUS_COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "warned": "#ef6c00", "not_run": "#757575"}


def reports_dir() -> Path:
    return settings().local_dir / "reports"


@dataclass
class ReportData:
    data_date: date
    run_id: str | None
    decision: dict | None = None
    failed_checks: list[dict] = field(default_factory=list)  # failed (or warned) checks
    not_run_checks: list[dict] = field(default_factory=list)
    task_failures: list[dict] = field(default_factory=list)  # last failed try per task
    loads: list[dict] = field(default_factory=list)
    source_metrics: dict[str, list[dict]] = field(default_factory=dict)
    freshness: dict[str, dict] = field(default_factory=dict)
    quarantine: list[dict] = field(default_factory=list)
    check_counts: list[dict] = field(default_factory=list)
    mart_counts: dict[str, int] = field(default_factory=dict)
    mart_counts_origin: str = ""
    metrics: dict[str, list[dict]] = field(default_factory=dict)  # metric -> nights, oldest first
    data_docs_href: str | None = None
    data_docs_pages: dict[str, str] = field(default_factory=dict)  # mart -> validation page href


# ---------------------------------------------------------------------------- reading


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s)", (relation,)).fetchone()["to_regclass"] is not None


def latest_run_id(conn: psycopg.Connection, data_date: date) -> str | None:
    """The run that last audited, decided on or measured the date (None: nothing recorded)."""
    parts = []
    if _exists(conn, "ops.audit_results"):
        parts.append("select run_id, max(checked_at) as at from ops.audit_results"
                     " where logical_date = %(d)s group by run_id")
    if _exists(conn, "ops.publication_log"):
        # a rollback is an operator's action, not a run of the date
        parts.append("select run_id, max(decided_at) from ops.publication_log"
                     " where logical_date = %(d)s and decision <> 'rolled_back' group by run_id")
    if _exists(conn, "ops.metric_values"):
        parts.append("select run_id, max(recorded_at) from ops.metric_values"
                     " where logical_date = %(d)s group by run_id")
    if _exists(conn, "ops.task_failures"):
        # a later run that died before the audit is the night's latest word
        parts.append("select run_id, max(failed_at) from ops.task_failures"
                     " where logical_date = %(d)s and run_id is not null group by run_id")
    if not parts:
        return None
    row = conn.execute(f"select run_id from ({' union all '.join(parts)}) as runs"
                       " order by at desc nulls last limit 1", {"d": data_date}).fetchone()
    return row["run_id"] if row else None


def check_reason(check: dict) -> str:
    """One sentence saying why a check failed or did not run, whatever wrote it."""
    details = check.get("details") or {}
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            details = {"message": details}
    for value in (check.get("reason"), details.get("reason"), details.get("message"), details.get("exception")):
        if value:
            return str(value)
    if details.get("status"):
        return f"{check.get('check_type', 'check')} {check.get('check_name', '')}: {details['status']}".strip()
    if "observed_value" in details:
        return f"observed value {details['observed_value']!r} outside the expectation"
    if details.get("unexpected_count") is not None:
        return f"{details['unexpected_count']} unexpected value(s)"
    return "failed (no reason recorded)"


def check_status(check: dict) -> str:
    status = check.get("status")
    if status:
        return status
    details = check.get("details") or {}
    if isinstance(details, dict) and str(details.get("status", "")).startswith("not run"):
        return "not_run"
    return "passed" if check.get("passed") else "failed"


def group_by_reason(checks: list[dict]) -> list[tuple[str, list[dict]]]:
    """[(reason, checks)] in the order the checks come: the audit ranks them (root causes
    first, see touchpoint.audit.rank), and `touchpoint run` and the alerts use that order too."""
    groups: dict[str, list[dict]] = {}
    for check in checks:
        groups.setdefault(check_reason(check), []).append(check)
    return list(groups.items())


def _read_decision(conn: psycopg.Connection, data: ReportData) -> None:
    if data.run_id and _exists(conn, "ops.publication_log"):
        data.decision = conn.execute(
            "select * from ops.publication_log where run_id = %s order by publication_id desc limit 1",
            (data.run_id,)).fetchone()
    checks: list[dict] = []
    if data.decision is not None:
        checks = data.decision.get("failed_checks") or []
    elif data.run_id and _exists(conn, "ops.audit_results"):
        # audited but no decision (the decision step itself failed): the audit's verdicts
        checks = [r for r in conn.execute(
            "select * from ops.audit_results where run_id = %s order by check_type, check_name, object_name",
            (data.run_id,)).fetchall() if check_status(r) in ("failed", "not_run")]
    for check in checks:
        (data.not_run_checks if check_status(check) == "not_run" else data.failed_checks).append(check)
    if data.run_id and _exists(conn, "ops.task_failures"):
        data.task_failures = conn.execute(
            "select distinct on (task_id) task_id, try_number, exception, failed_at from ops.task_failures"
            " where run_id = %s order by task_id, failed_at desc", (data.run_id,)).fetchall()
        data.task_failures.sort(key=lambda f: f["failed_at"])


def _read_loads(conn: psycopg.Connection, data: ReportData) -> None:
    if not _exists(conn, "ops.load_manifest"):
        return
    data.loads = conn.execute(
        "select source, count(*) as files, sum(rows_read) as rows_read, sum(rows_loaded) as rows_loaded,"
        " sum(rows_quarantined) as rows_quarantined from ops.load_manifest"
        " where logical_date = %s and is_current group by source order by source",
        (data.data_date,)).fetchall()
    if data.run_id and _exists(conn, "ops.metric_values"):
        rows = conn.execute(
            "select * from ops.metric_values where run_id = %s and area = 'sources' order by metric",
            (data.run_id,)).fetchall()
        sources = {load["source"] for load in data.loads}
        for row in rows:
            source = next((s for s in sorted(sources, key=len, reverse=True) if s in row["metric"]), None)
            data.source_metrics.setdefault(source or row["metric"], []).append(row)
    if data.run_id and _exists(conn, "ops.source_freshness"):
        for row in conn.execute("select * from ops.source_freshness where run_id = %s order by source",
                                (data.run_id,)).fetchall():
            data.freshness[row["source"].split(".")[-1]] = row


def _read_quarantine(conn: psycopg.Connection, data: ReportData) -> None:
    if _exists(conn, "raw.quarantine"):
        data.quarantine = conn.execute(
            "select source, reason, count(*) as rows from raw.quarantine where logical_date = %s"
            " group by source, reason order by source, count(*) desc, reason",
            (data.data_date,)).fetchall()


def _read_check_counts(conn: psycopg.Connection, data: ReportData) -> None:
    if data.run_id and _exists(conn, "ops.audit_results"):
        data.check_counts = conn.execute(
            "select check_type,"
            " count(*) filter (where coalesce(status, case when passed then 'passed' else 'failed' end) = 'passed')"
            "   as passed,"
            " count(*) filter (where coalesce(status, case when passed then 'passed' else 'failed' end) = 'failed')"
            "   as failed,"
            " count(*) filter (where status = 'warned') as warned,"
            " count(*) filter (where status = 'not_run') as not_run"
            " from ops.audit_results where run_id = %s group by check_type order by check_type",
            (data.run_id,)).fetchall()
        pages = conn.execute(
            "select distinct object_name, details ->> 'data_docs' as page from ops.audit_results"
            " where run_id = %s and check_type = 'gx' and details ? 'data_docs'",
            (data.run_id,)).fetchall()
        data.data_docs_pages = {r["object_name"]: r["page"] for r in pages if r["page"]}


def _read_mart_counts(conn: psycopg.Connection, data: ReportData) -> None:
    counts = (data.decision or {}).get("mart_row_counts") or {}
    if counts:
        data.mart_counts = dict(sorted(counts.items()))
        data.mart_counts_origin = ("published tonight" if data.decision["decision"] == "published"
                                   else "tonight's candidate, not published")
        return
    views = conn.execute("select table_name from information_schema.views where table_schema = 'marts'"
                         " order by table_name").fetchall()
    for view in views:
        data.mart_counts[view["table_name"]] = conn.execute(
            sql.SQL("select count(*) as n from marts.{}").format(sql.Identifier(view["table_name"]))).fetchone()["n"]
    data.mart_counts_origin = "currently published in schema marts"


def _read_metrics(conn: psycopg.Connection, data: ReportData) -> None:
    if not _exists(conn, "ops.metric_values"):
        return
    first = data.data_date - timedelta(days=CHART_NIGHTS - 1)
    # one point per (metric, night): tonight's run for the date, the latest run otherwise
    rows = conn.execute(
        "select distinct on (metric, logical_date) * from ops.metric_values"
        " where logical_date between %(first)s and %(last)s"
        " order by metric, logical_date, (run_id = %(run)s) desc, recorded_at desc",
        {"first": first, "last": data.data_date, "run": data.run_id or ""}).fetchall()
    for row in rows:
        data.metrics.setdefault(row["metric"], []).append(row)


def _data_docs(data: ReportData, out_dir: Path) -> None:
    from touchpoint.audit import data_docs_dir

    docs = data_docs_dir()
    if (docs / "index.html").is_file():
        data.data_docs_href = quote(Path(os.path.relpath(docs / "index.html", out_dir)).as_posix())
        data.data_docs_pages = {
            mart: quote(Path(os.path.relpath(docs / page, out_dir)).as_posix())
            for mart, page in data.data_docs_pages.items() if (docs / page).is_file()}
    else:
        data.data_docs_pages = {}


def gather(url: str, data_date: date, run_id: str | None = None) -> ReportData:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        data = ReportData(data_date, run_id or latest_run_id(conn, data_date))
        _read_decision(conn, data)
        _read_loads(conn, data)
        _read_quarantine(conn, data)
        _read_check_counts(conn, data)
        _read_mart_counts(conn, data)
        _read_metrics(conn, data)
    return data


# ---------------------------------------------------------------------------- rendering


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    return f"{int(value):,}"


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """An HTML table; cells must already be escaped. `numeric`: right-aligned column indexes
    (default: all but the first)."""
    numeric = set(range(1, len(headers))) if numeric is None else numeric
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="{"num" if i in numeric else ""}">{cell}</td>'
                         for i, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _empty(text: str) -> str:
    return f'<p class="empty">{esc(text)}</p>'


def _badge(status: str) -> str:
    return f'<span class="badge" style="background:{STATUS_COLOURS.get(status, "#455a64")}">{esc(status)}</span>'


def _decision_section(data: ReportData) -> str:
    d = data.decision
    if d is None:
        if not data.run_id:
            headline = "No run recorded for this date: nothing was audited or decided."
        elif data.failed_checks or data.not_run_checks:
            headline = "No publication decision recorded: the audit ran but the decision step did not finish."
        else:
            headline = "No publication decision recorded: the run stopped before the audit."
        parts = [f'<p class="decision none">{esc(headline)}</p>']
    else:
        kind = d["decision"]
        text = {"published": "Published", "blocked": "Blocked", "rolled_back": "Rolled back"}.get(kind, kind)
        extra = f" as {d['version_schema']}" if d.get("version_schema") else ""
        if kind == "blocked":
            extra = (f": {len(data.failed_checks)} check(s) failed, {len(data.not_run_checks)} did not run;"
                     " schema marts still serves the previous publication")
        parts = [f'<p class="decision {esc(kind)}">{esc(text + extra)}</p>',
                 f'<p class="meta">decided at {esc(d.get("decided_at"))}</p>']
        if d.get("forced"):
            parts.append(f'<p class="forced">Forced by {esc(d.get("decided_by"))} overriding a block: '
                         f'{esc(d.get("force_reason"))}</p>')
    parts.append(_checks_by_reason("Failed checks", data.failed_checks))
    parts.append(_checks_by_reason("Checks that did not run", data.not_run_checks))
    if data.task_failures:
        items = "".join(
            f"<li><code>{esc(f['task_id'])}</code> (try {esc(f['try_number'])}): "
            f"{esc((f['exception'] or 'no exception recorded').splitlines()[0][:300])}</li>"
            for f in data.task_failures)
        parts.append(f"<h3>Failed tasks ({len(data.task_failures)})</h3><ul>{items}</ul>")
    return "\n".join(p for p in parts if p)


def _checks_by_reason(title: str, checks: list[dict]) -> str:
    if not checks:
        return ""
    items = []
    for reason, group in group_by_reason(checks):
        names = [f"{c.get('check_type', '')} {c.get('check_name', '')} {c.get('object_name') or ''}".strip()
                 for c in group]
        shown = "".join(f"<li><code>{esc(n)}</code></li>" for n in names[:CHECKS_PER_REASON])
        more = f"<li>and {len(names) - CHECKS_PER_REASON} more</li>" if len(names) > CHECKS_PER_REASON else ""
        items.append(f'<li><span class="reason">{esc(reason)}</span> <span class="count">'
                     f'({len(group)} check{"s" if len(group) != 1 else ""})</span><ul>{shown}{more}</ul></li>')
    return f'<h3>{esc(title)} ({len(checks)}), top reasons first</h3><ol class="reasons">{"".join(items)}</ol>'


def _baseline_cell(rows: list[dict]) -> str:
    parts = []
    for m in rows:
        band = ""
        if m.get("lower_bound") is not None or m.get("upper_bound") is not None:
            band = f" expected {number(m.get('lower_bound'))}–{number(m.get('upper_bound'))}"
        parts.append(f"{esc(m['metric'])}: {esc(number(m.get('value')))}{esc(band)} {_badge(m['status'])}")
    return "<br>".join(parts) if parts else '<span class="empty">no baseline recorded</span>'


def _sources_section(data: ReportData) -> str:
    if not data.loads and not data.source_metrics:
        return _empty("No files were loaded for this date.")
    rows = []
    for load in data.loads:
        fresh = data.freshness.get(load["source"])
        rows.append([
            f"<code>{esc(load['source'])}</code>",
            esc(number(load["files"])), esc(number(load["rows_read"])), esc(number(load["rows_loaded"])),
            esc(number(load["rows_quarantined"])),
            _badge(fresh["status"]) if fresh else "–",
            _baseline_cell(data.source_metrics.get(load["source"], [])),
        ])
    loaded = {load["source"] for load in data.loads}
    for source, metrics in sorted(data.source_metrics.items()):
        if source not in loaded:  # a source with a baseline but no delivery tonight
            rows.append([f"<code>{esc(source)}</code>", "0", "0", "0", "0", "–", _baseline_cell(metrics)])
    return _table(["source", "files", "read", "loaded", "quarantined", "freshness", "against baseline"], rows,
                  numeric={1, 2, 3, 4})


def _quarantine_section(data: ReportData) -> str:
    if not data.quarantine:
        return _empty("No rows were quarantined for this date.")
    rows = [[f"<code>{esc(q['source'])}</code>", esc(q["reason"]), esc(number(q["rows"]))]
            for q in data.quarantine]
    return _table(["source", "reason", "rows"], rows, numeric={2})


def _checks_section(data: ReportData) -> str:
    if data.check_counts:
        rows = [[esc(c["check_type"]), esc(number(c["passed"])), esc(number(c["failed"])),
                 esc(number(c["warned"])), esc(number(c["not_run"]))] for c in data.check_counts]
        total = [sum(c[k] for c in data.check_counts) for k in ("passed", "failed", "warned", "not_run")]
        rows.append(["<strong>all</strong>"] + [f"<strong>{esc(number(t))}</strong>" for t in total])
        html_ = _table(["check type", "passed", "failed", "warned", "not run"], rows)
    else:
        html_ = _empty("No checks were recorded for this run (it stopped before the audit).")
    if data.data_docs_href:
        links = "".join(f'<li><a href="{esc(href)}">{esc(mart)}</a></li>'
                        for mart, href in sorted(data.data_docs_pages.items()))
        # GX's templates load their styles and the index's table script from CDNs: offline
        # the index lists nothing, while the validation pages stay readable (unstyled).
        html_ += (f'<p>Great Expectations Data Docs of the latest audit: <a href="{esc(data.data_docs_href)}">'
                  'index</a> (its list needs network access)'
                  f'{"; this run&#x27;s validation pages:" if links else ""}</p>'
                  + (f"<ul>{links}</ul>" if links else ""))
    else:
        html_ += _empty("Great Expectations Data Docs have not been built yet.")
    return html_


def _marts_section(data: ReportData) -> str:
    if not data.mart_counts:
        return _empty("No mart row counts recorded and nothing published in schema marts yet.")
    rows = [[f"<code>{esc(name)}</code>", esc(number(count))] for name, count in data.mart_counts.items()]
    return f'<p class="meta">{esc(data.mart_counts_origin)}</p>' + _table(["mart", "rows"], rows)


def _figure(metric: str, nights: list[dict], data_date: date):
    import plotly.graph_objects as go

    dates = [n["logical_date"].isoformat() for n in nights]
    fig = go.Figure()
    band = [n for n in nights if n.get("lower_bound") is not None and n.get("upper_bound") is not None]
    if band:
        band_dates = [n["logical_date"].isoformat() for n in band]
        fig.add_trace(go.Scatter(x=band_dates, y=[n["upper_bound"] for n in band], mode="lines",
                                 line={"width": 0}, hoverinfo="skip", showlegend=False, name="upper bound"))
        fig.add_trace(go.Scatter(x=band_dates, y=[n["lower_bound"] for n in band], mode="lines",
                                 line={"width": 0}, fill="tonexty", fillcolor="rgba(33, 150, 243, 0.18)",
                                 name="anomaly band"))
    fig.add_trace(go.Scatter(x=dates, y=[n.get("value") for n in nights], mode="lines+markers",
                             line={"color": "#37474f"}, marker={"size": 5}, name="value"))
    tonight = next((n for n in nights if n["logical_date"] == data_date), None)
    if tonight is not None:
        fig.add_trace(go.Scatter(
            x=[data_date.isoformat()], y=[tonight.get("value")], mode="markers", name=f"tonight ({tonight['status']})",
            marker={"size": 13, "color": STATUS_COLOURS.get(tonight["status"], "#455a64"),
                    "line": {"width": 2, "color": "white"}}))
    fig.update_layout(
        title={"text": esc(metric), "font": {"size": 14}}, height=280, template="plotly_white",
        margin={"l": 50, "r": 20, "t": 40, "b": 40}, legend={"orientation": "h", "y": -0.25},
        # half a day of margin either side, so tonight's marker is drawn whole
        xaxis={"range": [f"{data_date - timedelta(days=CHART_NIGHTS)} 12:00", f"{data_date} 12:00"]})
    return fig, tonight


def _charts_section(data: ReportData) -> str:
    import plotly.io as pio

    if not data.metrics:
        return _empty("No metrics recorded yet.")
    by_area: dict[str, list[str]] = {}
    for metric, nights in data.metrics.items():
        by_area.setdefault(nights[-1]["area"], []).append(metric)
    parts = []
    index = 0
    for area in sorted(by_area):
        parts.append(f"<h3>{esc(area)}</h3><div class=\"charts\">")
        for metric in sorted(by_area[area]):
            nights = data.metrics[metric]
            fig, tonight = _figure(metric, nights, data.data_date)
            div = pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=f"chart-{index}",
                              config={"displaylogo": False, "responsive": True})
            latest = tonight or nights[-1]
            note = esc(latest.get("description") or "")
            if tonight is not None and tonight.get("reason") and tonight["status"] != "passed":
                note += f'<br><span class="reason">{esc(tonight["reason"])}</span>'
            if tonight is None:
                note += "<br><em>no value recorded for this night</em>"
            parts.append(f'<figure class="chart" data-metric="{esc(metric)}">{div}'
                         f"<figcaption>{note}</figcaption></figure>")
            index += 1
        parts.append("</div>")
    return "\n".join(parts)


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px;
       color: #263238; padding: 0 1rem; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 1px solid #cfd8dc; padding-bottom: 0.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #cfd8dc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #eceff1; }
.badge { color: white; border-radius: 3px; padding: 0 0.4rem; font-size: 0.8rem; }
.decision { font-size: 1.3rem; font-weight: 600; padding: 0.6rem 1rem; border-radius: 4px; }
.decision.published { background: #e8f5e9; color: #1b5e20; }
.decision.blocked { background: #ffebee; color: #b71c1c; }
.decision.rolled_back, .decision.none { background: #fff3e0; color: #e65100; }
.forced { background: #fff8e1; padding: 0.4rem 1rem; }
.meta, .empty { color: #607d8b; } .reason { font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 1rem; }
figure.chart { margin: 0; border: 1px solid #eceff1; padding: 0.3rem; }
figcaption { font-size: 0.85rem; color: #546e7a; padding: 0 0.5rem 0.4rem; }
"""


def render(data: ReportData) -> str:
    import plotly.offline

    sections = [
        ("Publication decision", _decision_section(data)),
        ("Rows loaded per source", _sources_section(data)),
        ("Quarantine reasons", _quarantine_section(data)),
        ("Checks", _checks_section(data)),
        ("Mart row counts", _marts_section(data)),
        (f"Metrics over the last {CHART_NIGHTS} nights", _charts_section(data)),
    ]
    body = "\n".join(f"<section><h2>{esc(title)}</h2>\n{content}</section>" for title, content in sections)
    # plotly.js goes in once, before any chart; "</script" cannot occur inside it unescaped
    plotly_js = plotly.offline.get_plotlyjs().replace("</script", "<\\/script")
    title = f"Touchpoint run report {data.data_date.isoformat()}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title><style>{STYLE}</style>"
        f"<script type=\"text/javascript\">{plotly_js}</script></head><body>"
        f"<h1>{esc(title)}</h1><p class=\"meta\">run <code>{esc(data.run_id or 'none')}</code></p>"
        f"{body}</body></html>\n"
    )


def write_report(url: str, data_date: date, run_id: str | None = None, out_dir: Path | None = None) -> Path:
    """Write <out_dir or local dir/reports>/<date>.html and return its path."""
    out = Path(out_dir) if out_dir else reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    data = gather(url, data_date, run_id)
    _data_docs(data, out)
    path = out / f"{data_date.isoformat()}.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(data), encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a page
    log.info("run report for %s (run %s): %s", data_date, data.run_id, path)
    return path
