"""Anomaly checks of the publication gate: tonight's key figures against their history.

Every metric is one declaration in expectations/metrics/<area>.yml (the sources, each
mart area). A declaration is a SQL query returning `(metric_date, value[, denominator])`
for the days of the trailing window; tonight's row is the night's value. The baseline is

- the values recorded for the last published nights (ops.metric_values), once at least
  `min_published_nights` of them exist: each was measured the night it happened, like
  tonight's;
- otherwise the data's own history, the same query's earlier days: a backfill brings
  weeks of orders and events, so the first week after it is guarded too;
- with fewer than `min_baseline` samples either way the metric warns instead of blocking.

The rule is a robust z-score: (value - centre) / spread, the centre the baseline's median
(of the same weekday for weekday-aware metrics), the spread 1.4826 x the median absolute
deviation, floored by the noise a figure of that size has anyway (Poisson for counts,
binomial for shares, a relative floor for amounts), so a quiet metric does not alarm on
its first wobble. Level metrics (row counts, coverage) compare with the last published
night instead. Every verdict, with its band, goes to ops.metric_values for the report.
"""
from __future__ import annotations

import math
import os
import statistics
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import psycopg
import yaml

from touchpoint.config import REPO_ROOT

KINDS = ("count", "amount", "ratio", "level", "level_ratio", "delta")
MAD_SCALE = 1.4826  # makes the MAD estimate a normal distribution's standard deviation


def metrics_dir() -> Path:
    value = os.environ.get("TOUCHPOINT_METRICS_DIR")
    return Path(value) if value else REPO_ROOT / "expectations" / "metrics"


@dataclass(frozen=True)
class Settings:
    window_days: int = 28
    weekday_window_days: int = 56
    z_threshold: float = 5.0
    min_baseline: int = 5
    min_published_nights: int = 7
    amount_relative_floor: float = 0.10
    amount_log_floor: float = 0.4
    count_relative_floor: float = 0.15
    ratio_absolute_floor: float = 0.005
    min_ratio_rows: int = 30
    ratio_tail_probability: float = 1e-3
    min_ratio_day_rows: int = 30


@dataclass(frozen=True)
class Metric:
    name: str
    area: str
    description: str
    sql: str
    kind: str
    weekday_aware: bool = False
    severity: str = "error"
    z_threshold: float | None = None
    max_relative_change: float | None = None  # level metrics: both ways
    max_relative_drop: float | None = None    # level metrics: shrinking only
    params: dict = field(default_factory=dict)


def load_settings(directory: Path | None = None) -> Settings:
    path = (directory or metrics_dir()) / "_settings.yml"
    values = yaml.safe_load(path.read_text()) if path.exists() else {}
    unknown = set(values or {}) - set(Settings.__dataclass_fields__)
    if unknown:
        raise ValueError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
    return Settings(**(values or {}))


def _expansions(kind: str | None, marts: list[str]) -> list[dict]:
    from ingestion.registry import CONTRACTS

    if kind is None:
        return [{}]
    if kind == "source":
        return [{"source": name} for name in CONTRACTS]
    if kind == "source_watched_field":
        return [{"source": name, "field": f} for name, c in CONTRACTS.items() for f in c.profiled_fields]
    if kind == "source_amount_field":
        return [{"source": name, "field": f} for name, c in CONTRACTS.items() for f in c.amount_fields]
    if kind == "mart":
        return [{"mart": mart} for mart in marts]
    raise ValueError(f"unknown for_each {kind!r} (source, source_watched_field, source_amount_field, mart)")


def load_metrics(marts: list[str], directory: Path | None = None) -> list[Metric]:
    """Every declared metric, `for_each` declarations expanded (`marts`: the candidate's tables)."""
    metrics: list[Metric] = []
    for path in sorted((directory or metrics_dir()).glob("*.yml")):
        if path.name.startswith("_"):
            continue
        spec = yaml.safe_load(path.read_text()) or {}
        area = spec.get("area")
        if not area or not isinstance(spec.get("metrics"), list):
            raise ValueError(f"{path}: a metrics file needs 'area' and a 'metrics' list")
        for item in spec["metrics"]:
            missing = {"name", "sql", "kind"} - set(item)
            if missing:
                raise ValueError(f"{path}: metric {item.get('name', '?')} lacks {', '.join(sorted(missing))}")
            if item["kind"] not in KINDS:
                raise ValueError(f"{path}: metric {item['name']}: kind must be one of {', '.join(KINDS)}")
            for params in _expansions(item.get("for_each"), marts):
                metrics.append(Metric(
                    name=item["name"].format(**params), area=area,
                    description=str(item.get("description", "")).format(**params),
                    sql=item["sql"], kind=item["kind"], weekday_aware=bool(item.get("weekday_aware", False)),
                    severity=str(item.get("severity", "error")).lower(), z_threshold=item.get("z_threshold"),
                    max_relative_change=item.get("max_relative_change"),
                    max_relative_drop=item.get("max_relative_drop"), params=params))
    names = [m.name for m in metrics]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"metric(s) declared twice: {', '.join(duplicated)}")
    return metrics


# ---------------------------------------------------------------------------------------
# The rule


@dataclass
class Verdict:
    value: float | None
    denominator: float | None = None
    level: float | None = None
    center: float | None = None
    spread: float | None = None
    lower: float | None = None
    upper: float | None = None
    score: float | None = None
    baseline_size: int = 0
    baseline_source: str = "none"
    rule: str = "robust_z"
    status: str = "passed"
    reason: str = ""


@dataclass(frozen=True)
class Sample:
    day: date
    value: float
    denominator: float | None = None


def _center_and_residuals(samples: list[Sample], tonight: date, weekday_aware: bool) -> tuple[float, list[float]]:
    values = [s.value for s in samples]
    if not weekday_aware:
        center = statistics.median(values)
        return center, [v - center for v in values]
    by_weekday: dict[int, list[float]] = {}
    for s in samples:
        by_weekday.setdefault(s.day.weekday(), []).append(s.value)
    medians = {wd: statistics.median(vs) for wd, vs in by_weekday.items()}
    same_day = by_weekday.get(tonight.weekday(), [])
    center = medians[tonight.weekday()] if len(same_day) >= 3 else statistics.median(values)  # (robust_z warns below 3)
    # The spread pools every weekday's deviations from its own median: 4 samples per
    # weekday are too few for a MAD of their own.
    residuals = [v - medians[wd] for wd, vs in by_weekday.items() if len(vs) >= 2 for v in vs]
    return center, residuals or [v - center for v in values]


def robust_z(metric: Metric, tonight: Sample | None, samples: list[Sample], day: date,
             settings: Settings) -> Verdict:
    threshold = metric.z_threshold or settings.z_threshold
    value = tonight.value if tonight else None
    verdict = Verdict(value=value, denominator=tonight.denominator if tonight else None,
                      baseline_size=len(samples))
    if value is None:
        verdict.status, verdict.reason = "passed", "no value tonight (nothing to measure)"
        return verdict
    total = sum(s.denominator or 0 for s in samples)
    if metric.kind == "ratio":
        # A share's baseline is as good as the rows behind it: one backfill delivery of
        # 10,000 rows says more about the normal quarantine share than five quiet nights.
        enough = bool(samples) and total >= settings.min_ratio_rows
        short = f"{total:,.0f} of {settings.min_ratio_rows} baseline rows"
    else:
        enough = len(samples) >= settings.min_baseline
        short = f"{len(samples)} of {settings.min_baseline} baseline days"
    same_weekday = sum(s.day.weekday() == day.weekday() for s in samples)
    if enough and metric.weekday_aware and same_weekday < 3:
        # A week of history cannot tell a weekly campaign day from an anomaly.
        enough, short = False, f"{same_weekday} of 3 days of the same weekday for its weekly pattern"
    if not enough:
        verdict.status = "warned"
        verdict.reason = f"too little history to judge ({short})"
        return verdict
    positive = [s for s in samples if s.value > 0]
    if metric.kind == "amount" and value > 0 and len(positive) >= settings.min_baseline:
        # A day of returns only averages below zero: not a price level, left out.
        return _log_scale_z(metric, verdict, value, positive, day, settings, threshold)
    center, residuals = _center_and_residuals(samples, day, metric.weekday_aware)
    mad_spread = MAD_SCALE * statistics.median([abs(r) for r in residuals])
    if metric.kind == "ratio":
        pooled = sum(s.value * (s.denominator or 0) for s in samples) / total if total else center
        center = pooled
        n = max(tonight.denominator or 0, 1)
        p = min(max(pooled, 0.5 / max(total, 1)), 1 - 0.5 / max(total, 1))
        # Tonight's share is noisy by its own size (binomial), plus the day-to-day
        # variation beyond that, measured on the baseline days large enough to show it
        # (a day of 3 rows varies by chance alone).
        large = [s for s in samples if (s.denominator or 0) >= settings.min_ratio_day_rows]
        tau = MAD_SCALE * statistics.median([abs(s.value - pooled) for s in large]) if len(large) >= 3 else 0.0
        spread = max(math.sqrt(p * (1 - p) / n + tau ** 2), settings.ratio_absolute_floor)
        # Small nights: a share of 2 rows is 0%, 50% or 100%. Besides the z-score, the
        # night's count must be improbable under the baseline share itself (exact
        # binomial tail, the share estimated with one pseudo-row each way).
        successes = round(value * n)
        baseline_share = (pooled * total + 1) / (total + 2)
        tail = _binomial_tail(successes, int(n), baseline_share, upper=value > pooled)
    elif metric.kind == "count":
        # Events come in bursts (a session is a dozen events, a campaign day doubles
        # them): Poisson noise alone is too tight a floor for a day's count.
        # The Poisson floor takes the mean where it exceeds the median: a source quiet on
        # most days (tickets at 1,000 customers) has a median of 0 but not a rate of 0.
        rate = max(center, statistics.fmean(s.value for s in samples), 0)
        spread = max(mad_spread, math.sqrt(rate + 1), settings.count_relative_floor * abs(center))
    else:  # amount
        spread = max(mad_spread, settings.amount_relative_floor * abs(center), 1e-9)
    score = (value - center) / spread
    if metric.kind == "ratio" and tail > settings.ratio_tail_probability:
        score = math.copysign(min(abs(score), threshold), score)  # within chance for its size
    verdict.center, verdict.spread, verdict.score = center, spread, score
    lower, upper = center - threshold * spread, center + threshold * spread
    if metric.kind in ("count", "amount", "ratio"):
        lower = max(lower, 0.0)
    if metric.kind == "ratio":
        upper = min(upper, 1.0)
    verdict.lower, verdict.upper = lower, upper
    if abs(score) > threshold:
        verdict.status = "failed" if metric.severity == "error" else "warned"
        direction = "above" if score > 0 else "below"
        verdict.reason = (f"{metric.description}: {_fmt(value, metric.kind)} is {direction} the expected range "
                          f"{_fmt(lower, metric.kind)}-{_fmt(upper, metric.kind)} (baseline "
                          f"{_fmt(center, metric.kind)} over {len(samples)} days, z={score:+.1f})")
    return verdict


def _binomial_tail(k: int, n: int, p: float, upper: bool) -> float:
    """P(X >= k) (upper) or P(X <= k) for X ~ Binomial(n, p), summed in log space."""
    if n <= 0:
        return 1.0
    p = min(max(p, 1e-12), 1 - 1e-12)
    terms = range(k, n + 1) if upper else range(0, k + 1)
    log_terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                 + i * math.log(p) + (n - i) * math.log1p(-p) for i in terms]
    top = max(log_terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in log_terms))


def _log_scale_z(metric: Metric, verdict: Verdict, value: float, samples: list[Sample], day: date,
                 settings: Settings, threshold: float) -> Verdict:
    """Money on a log scale: prices are skewed, and a wrong amount is wrong by a factor.

    A day of three receipts may average four times the usual (one coat); amounts x100
    are a factor of 100. The spread of log values is floored at `amount_log_floor`.
    """
    logs = [Sample(s.day, math.log(s.value), s.denominator) for s in samples]
    center, residuals = _center_and_residuals(logs, day, metric.weekday_aware)
    spread = max(MAD_SCALE * statistics.median([abs(r) for r in residuals]), settings.amount_log_floor)
    score = (math.log(value) - center) / spread
    verdict.center, verdict.spread, verdict.score = math.exp(center), spread, score
    verdict.lower, verdict.upper = math.exp(center - threshold * spread), math.exp(center + threshold * spread)
    verdict.rule = "robust_z_log"
    if abs(score) > threshold:
        verdict.status = "failed" if metric.severity == "error" else "warned"
        factor = value / math.exp(center)
        verdict.reason = (f"{metric.description}: {_fmt(value, metric.kind)} is {factor:,.1f}x the baseline "
                          f"{_fmt(math.exp(center), metric.kind)} (expected {_fmt(verdict.lower, metric.kind)}-"
                          f"{_fmt(verdict.upper, metric.kind)} over {len(samples)} days, z={score:+.1f})")
    return verdict


def level_change(metric: Metric, tonight: Sample | None, last: Sample | None) -> Verdict:
    """Level metrics: tonight against the last published night, within a relative band."""
    value = tonight.value if tonight else None
    verdict = Verdict(value=value, denominator=tonight.denominator if tonight else None,
                      rule="change_vs_last_published", baseline_size=1 if last else 0)
    if value is None:
        verdict.reason = "no value tonight"
        return verdict
    if last is None:
        verdict.status, verdict.reason = "warned", "first publication: nothing to compare with yet"
        return verdict
    verdict.baseline_source, verdict.center = "published_nights", last.value
    drop = metric.max_relative_drop if metric.max_relative_drop is not None else metric.max_relative_change
    rise = metric.max_relative_change
    verdict.lower = last.value * (1 - drop) if drop is not None else None
    verdict.upper = last.value * (1 + rise) if rise is not None else None
    verdict.score = (value - last.value) / last.value if last.value else None
    outside = (verdict.lower is not None and value < verdict.lower) or (verdict.upper is not None and value > verdict.upper)
    if outside:
        verdict.status = "failed" if metric.severity == "error" else "warned"
        verdict.reason = (f"{metric.description}: {_fmt(value, metric.kind)} against {_fmt(last.value, metric.kind)} "
                          f"on the last published night ({verdict.score:+.1%})")
    return verdict


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "-"
    if kind in ("ratio", "level_ratio"):
        return f"{value:.1%}"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


# ---------------------------------------------------------------------------------------
# Reading the warehouse


def _query(conn: psycopg.Connection, metric: Metric, start: date, day: date, schemas: dict[str, str]) -> dict[date, Sample]:
    text = metric.sql.format(start=f"date '{start.isoformat()}'", day=f"date '{day.isoformat()}'",
                             **schemas, **metric.params)
    rows = conn.execute(text).fetchall()
    samples = {}
    for row in rows:
        if row[0] is None or row[1] is None:
            continue
        denominator = float(row[2]) if len(row) > 2 and row[2] is not None else None
        if metric.kind in ("ratio", "level_ratio"):
            if not denominator:
                continue
            samples[row[0]] = Sample(row[0], float(row[1]) / denominator, denominator)
        else:
            samples[row[0]] = Sample(row[0], float(row[1]), denominator)
    return samples


def _published_history(conn: psycopg.Connection, metric: str, start: date, day: date) -> list[Sample]:
    """The metric as recorded on each published night of the window, latest publication per night."""
    rows = conn.execute(
        """
        select distinct on (values_.logical_date) values_.logical_date, values_.value, values_.denominator,
            values_.level
        from ops.metric_values as values_
        join ops.publication_log as log_ on log_.run_id = values_.run_id and log_.decision = 'published'
        where values_.metric = %s and values_.logical_date >= %s and values_.logical_date < %s
            and values_.value is not null
        order by values_.logical_date, log_.publication_id desc
        """,
        (metric, start, day),
    ).fetchall()
    return [Sample(r[0], float(r[1]), float(r[2]) if r[2] is not None else None) for r in rows]


def _last_published(conn: psycopg.Connection, metric: str, day: date) -> Sample | None:
    row = conn.execute(
        """
        select values_.logical_date, values_.value, values_.denominator, values_.level
        from ops.metric_values as values_
        join ops.publication_log as log_ on log_.run_id = values_.run_id and log_.decision = 'published'
        where values_.metric = %s and values_.logical_date < %s
        order by log_.publication_id desc limit 1
        """,
        (metric, day),
    ).fetchone()
    if row is None:
        return None
    return Sample(row[0], float(row[3] if row[3] is not None else row[1]), row[2])


def evaluate_metric(conn: psycopg.Connection, metric: Metric, day: date, schemas: dict[str, str],
                    settings: Settings, first_days: dict | None = None) -> Verdict:
    """One metric's verdict for the night. `first_days` memoises where each source's
    (and the marts') history begins across the metrics of one evaluation."""
    if metric.kind in ("level", "level_ratio"):
        tonight = _query(conn, metric, day, day, schemas).get(day)
        if metric.kind == "level_ratio":
            # A young warehouse's coverage moves with every night's new prospects: judge
            # it once it has settled over a few published nights.
            nights = _published_history(conn, metric.name, day - timedelta(days=settings.window_days), day)
            if len(nights) < settings.min_baseline:
                return Verdict(value=tonight.value if tonight else None,
                               denominator=tonight.denominator if tonight else None,
                               rule="change_vs_last_published", baseline_size=len(nights), status="warned",
                               reason=f"too little history to judge ({len(nights)} of {settings.min_baseline}"
                                      " published nights)")
        return level_change(metric, tonight, _last_published(conn, metric.name, day))
    if metric.kind == "delta":
        total = _query(conn, metric, day, day, schemas).get(day)
        last = _last_published(conn, metric.name, day)
        if total is None:
            return Verdict(value=None, reason="no value tonight")
        if last is None:
            return Verdict(value=None, level=total.value, status="warned",
                           reason="first publication: no earlier total to measure tonight's growth from")
        tonight = Sample(day, total.value - last.value)
        window_start = day - timedelta(days=settings.window_days)
        history = _published_history(conn, metric.name, window_start, day)
        verdict = robust_z(replace(metric, kind="count"), tonight, history, day, settings)
        verdict.level, verdict.baseline_source = total.value, "published_nights" if history else "none"
        return verdict
    window = settings.weekday_window_days if metric.weekday_aware else settings.window_days
    start = day - timedelta(days=window)
    series = _query(conn, metric, start, day, schemas)
    # The history begins where the data does: days before it are not quiet, they are
    # before the data (a CRM signup from last month is not a month of history).
    first_days = {} if first_days is None else first_days
    key = (metric.params.get("source"), metric.kind == "count")
    if key not in first_days:
        first_days[key] = _first_data_day(conn, metric)
    first = first_days[key] or min(series, default=day)
    series = {d: s for d, s in series.items() if d >= first}
    if metric.kind == "count":  # from there on, a day without rows counts zero
        days = (start + timedelta(days=i) for i in range(window + 1))
        series = {d: series.get(d, Sample(d, 0.0)) for d in days if d >= first}
    tonight = series.get(day)
    published = _published_history(conn, metric.name, start, day)
    # Published nights replace the data's history once they can carry the rule: enough
    # nights, and for a weekday-aware metric three of tonight's weekday (a weekly email
    # campaign is normal on its day, whatever the week's first nights say).
    same_weekday = sum(s.day.weekday() == day.weekday() for s in published)
    if len(published) >= settings.min_published_nights and (not metric.weekday_aware or same_weekday >= 3):
        samples, source = published, "published_nights"
    else:
        samples, source = [s for d, s in sorted(series.items()) if d < day], "data_history"
    verdict = robust_z(metric, tonight, samples, day, settings)
    verdict.baseline_source = source if samples else "none"
    return verdict


def _first_data_day(conn: psycopg.Connection, metric: Metric) -> date | None:
    """Counting zero for days before the data begins would fake a quiet history."""
    from ingestion.registry import CONTRACTS

    source = metric.params.get("source")
    if not source:
        return _data_start(conn)
    contract = CONTRACTS[source]
    if metric.kind == "count" and contract.event_time_field and contract.event_time_field == contract.version_field:
        # A snapshot source (CRM accounts dated by their last update): the backfill holds
        # only each record's latest version, so its past days are undercounted. Its daily
        # counts are history only from the first delivery on (its shares are unbiased).
        row = conn.execute("select min(logical_date) from ops.delivery_profiles where source = %s",
                           (source,)).fetchone()
    else:
        row = conn.execute("select min(event_date) from ops.delivery_profiles where source = %s",
                           (source,)).fetchone()
    return row[0]


def _data_start(conn: psycopg.Connection) -> date | None:
    """The first day the event data covers: the median over the event sources of their
    earliest event day, so one source with a few old records (a review from last year)
    does not stretch the history. Snapshot sources (dated by their last update) are left out."""
    from ingestion.registry import CONTRACTS

    event_sources = [name for name, c in CONTRACTS.items()
                     if c.event_time_field and c.event_time_field != c.version_field]
    rows = conn.execute(
        "select min(event_date) from ops.delivery_profiles where source = any(%s) and event_date is not null"
        " group by source", (event_sources,)).fetchall()
    firsts = sorted(r[0] for r in rows)
    return firsts[len(firsts) // 2] if firsts else None


def evaluate(conn: psycopg.Connection, run_id: str, day: date, schemas: dict[str, str],
             marts: list[str], directory: Path | None = None, areas: set[str] | None = None) -> list[dict]:
    """Evaluate every metric (of `areas`, default all) for the night, record it in
    ops.metric_values, return audit checks."""
    settings = load_settings(directory)
    checks, rows, first_days = [], [], {}
    for metric in load_metrics(marts, directory):
        if areas is not None and metric.area not in areas:
            continue
        try:
            with conn.transaction():
                verdict = evaluate_metric(conn, metric, day, schemas, settings, first_days)
        except psycopg.Error as exc:
            verdict = Verdict(value=None, status="not_run",
                              reason=f"{metric.name} could not be measured: {str(exc).strip().splitlines()[0]}")
        rows.append((run_id, day, metric.name, metric.area, metric.description, verdict.value, verdict.center,
                     verdict.spread, verdict.lower, verdict.upper, verdict.baseline_size, verdict.baseline_source,
                     verdict.score, verdict.rule, metric.severity, verdict.status, verdict.reason or None,
                     verdict.denominator, verdict.level))
        checks.append({
            "check_type": "anomaly", "check_name": metric.name, "object_name": metric.area,
            "passed": verdict.status in ("passed", "warned"), "status": verdict.status,
            "severity": metric.severity, "reason": verdict.reason or None,
            "details": {k: v for k, v in {"value": verdict.value, "baseline": verdict.center,
                                          "lower": verdict.lower, "upper": verdict.upper, "z": verdict.score,
                                          "baseline_days": verdict.baseline_size,
                                          "baseline_source": verdict.baseline_source}.items() if v is not None},
        })
    with conn.transaction():
        conn.execute("delete from ops.metric_values where run_id = %s", (run_id,))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into ops.metric_values (run_id, logical_date, metric, area, description, value,"
                " baseline_center, baseline_spread, lower_bound, upper_bound, baseline_size, baseline_source,"
                " score, rule, severity, status, reason, denominator, level)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [tuple(_finite(v) for v in row) for row in rows])
    return checks


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

