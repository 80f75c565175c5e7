"""The identity resolver: edges in, stable customer ids out.

    resolve(url, full=False, max_component_size=None) -> dict of counts

Set work stays in PostgreSQL (the node dictionary, per-identifier first/last seen and
sources, the write-back); only integer node ids cross the wire, by COPY, for the
union-find in `graph.py`. One transaction per run, under an advisory lock: a failed
run changes nothing and leaves the watermark where it was.

Incremental run (the nightly default):
1. new edges = rows of intermediate.int_identifier_edges_collected with
   `_loaded_at` > the watermark in identity.resolver_state, plus late edges: those
   within TOUCHPOINT_IDENTITY_LOOKBACK_HOURS (24) below it whose load (`_loaded_at`)
   no earlier run read (identity.resolver_loads);
2. touched identifiers = their endpoints; touched customers = the customers those
   identifiers already belong to; nodes = touched identifiers + every identifier of a
   touched customer (so a touched component is recomputed whole, nothing else is read);
3. union-find over the existing memberships and the new edges, with the over-merge
   guard;
4. each resulting component keeps the oldest customer id among its members, absorbed
   ids get a row in identity.customer_id_merges, components with no id get a new one
   from identity.customer_id_seq; identity.identifier_map is upserted;
5. the watermark moves to the largest `_loaded_at` read.

First/last seen and sources of a touched identifier are recomputed from all current
edges that hold it (both modes), so they follow superseded and corrected records.

`full=True` reads every edge (ignores the watermark) as new; existing customers are still kept whole
and keep their ids (a full run never splits a customer or drops an id). Use it after
the edges model was rebuilt with new logic, or to repair a watermark.
"""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone

import psycopg

from touchpoint.identity import graph, state

log = logging.getLogger(__name__)

LOCK_KEY = "touchpoint.identity.resolve"


def resolve(url: str, full: bool = False, max_component_size: int | None = None) -> dict:
    """Resolve new edges into identity.identifier_map; returns the run's counts."""
    cap = state.max_component_size(max_component_size)
    state.max_accounts_per_device()  # a bad setting fails before any work
    window = state.lookback()
    timings: dict[str, float] = {}
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    with psycopg.connect(url) as conn:
        # Session memory for the set work: temp tables live in temp_buffers (8MB by
        # default, which sends a full run's temp tables through the OS), which must be
        # set before the session's first temp table.
        conn.execute("set temp_buffers = '1GB'")
        conn.commit()
        state.ensure_identity_tables(conn)
        conn.commit()
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (LOCK_KEY,))
        conn.execute("set local work_mem = '256MB'")
        _check_edges_relation(conn)
        watermark_from = None if full else state.read_watermark(conn)
        run_id = conn.execute(
            """insert into identity.resolver_runs (mode, started_at, watermark_from, max_component_size)
               values (%s, %s, %s, %s) returning resolver_run_id""",
            ("full" if full else "incremental", started, watermark_from, cap),
        ).fetchone()[0]

        with _timer(timings, "read_edges"):
            new_edges, late_edges = _stage_new_edges(conn, watermark_from, window)
            new_edges += late_edges
        if new_edges == 0:
            watermark_to = state.read_watermark(conn)
            stats = _empty_stats(run_id, full, cap, watermark_from, watermark_to)
        else:
            with _timer(timings, "prepare_nodes"):
                prep = _stage_nodes(conn, full, run_id)
            with _timer(timings, "copy_out"):
                n, old_seq, hubs, ea, eb, el, labels = _copy_out(conn)
            with _timer(timings, "union_find"):
                rank, seq_of_rank = _survivorship_ranks(conn, old_seq)
                res = _with_seqs(graph.resolve_components(n, rank, ea, eb, el, cap, hubs), seq_of_rank)
            del ea, eb, el
            with _timer(timings, "write_back"):
                written = _write_back(conn, run_id, n, old_seq, res, labels, cap)
            watermark_to = conn.execute("select max(_loaded_at) from _new_edges").fetchone()[0]
            previous = state.read_watermark(conn)
            if previous is not None and (watermark_to is None or previous > watermark_to):
                watermark_to = previous
            stats = {
                "resolver_run_id": run_id,
                "mode": "full" if full else "incremental",
                "max_component_size": cap,
                "watermark_from": _iso(watermark_from),
                "watermark_to": _iso(watermark_to),
                "edges_read": new_edges,
                "late_edges_read": late_edges,
                "edge_pairs": prep["edge_pairs"],
                "identifiers_touched": prep["identifiers_touched"],
                "customers_touched": prep["customers_touched"],
                "identifiers_loaded": n,
                "components_recomputed": len(set(res.component)),
                "customers_created": written["customers_created"],
                "customers_merged": len(res.absorbed),
                "identifiers_written": written["identifiers_written"],
                "oversized_components": res.oversized_components,
                "rejected_edges": len(res.rejected),
                "new_shared_identifiers": len(res.new_hubs),
                "shared_devices": prep["shared_devices"],
                "shared_device_records_held": prep["shared_device_records_held"],
            }
        state.write_watermark(conn, watermark_to)
        _record_loads(conn, run_id, watermark_to, window)
        stats["seconds"] = round(time.perf_counter() - t0, 3)
        stats["timings"] = {k: round(v, 3) for k, v in timings.items()}
        conn.execute(
            """update identity.resolver_runs
               set finished_at = now(), watermark_to = %s, stats = %s
               where resolver_run_id = %s""",
            (watermark_to, json.dumps(stats), run_id),
        )
        conn.commit()
    log.info("identity resolve: %s", stats)
    return stats


class _timer:
    def __init__(self, into: dict, name: str):
        self.into, self.name = into, name

    def __enter__(self):
        self.t = time.perf_counter()

    def __exit__(self, *exc):
        self.into[self.name] = self.into.get(self.name, 0.0) + time.perf_counter() - self.t


def _exec(conn: psycopg.Connection, query, params=None):
    """conn.execute, with the statement's duration logged at DEBUG."""
    t = time.perf_counter()
    cur = conn.execute(query, params)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%.2fs %s", time.perf_counter() - t, " ".join(str(query).split())[:100])
    return cur


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _empty_stats(run_id, full, cap, watermark_from, watermark_to) -> dict:
    return {
        "resolver_run_id": run_id, "mode": "full" if full else "incremental", "max_component_size": cap,
        "watermark_from": _iso(watermark_from), "watermark_to": _iso(watermark_to),
        "edges_read": 0, "late_edges_read": 0, "edge_pairs": 0, "identifiers_touched": 0, "customers_touched": 0,
        "identifiers_loaded": 0, "components_recomputed": 0, "customers_created": 0,
        "customers_merged": 0, "identifiers_written": 0, "oversized_components": 0,
        "rejected_edges": 0, "new_shared_identifiers": 0, "shared_devices": 0, "shared_device_records_held": 0,
    }


def _check_edges_relation(conn: psycopg.Connection) -> None:
    found = conn.execute("select to_regclass(%s)", (state.EDGES_RELATION,)).fetchone()[0]
    if found is None:
        raise RuntimeError(
            f"{state.EDGES_RELATION} does not exist: build it first with "
            "`touchpoint dbt -- build --select +int_identifier_edges_collected`"
        )


def _stage_new_edges(conn: psycopg.Connection, watermark, window) -> tuple[int, int]:
    """Edges above the watermark, plus late edges: rows up to `lookback` below it whose
    `_loaded_at` (one value per load: the time the load started) is not among the values
    earlier runs read (identity.resolver_loads).  A load that started before the previous
    run's newest row but committed after that run lands below the watermark and would
    otherwise be skipped for good.  Returns (edges above the watermark, late edges)."""
    _exec(conn,
        f"""
        create temp table _new_edges on commit drop as
        select identifier_a_type, identifier_a_value, identifier_b_type, identifier_b_value,
               source, record_id, seen_at, _loaded_at
        from {state.EDGES_RELATION}
        where %(wm)s::timestamptz is null or _loaded_at > %(wm)s::timestamptz
        """,
        {"wm": watermark},
    )
    fresh = _exec(conn, "select count(*) from _new_edges").fetchone()[0]
    if watermark is None or not window:
        return fresh, 0
    # Distinct _loaded_at values in the window by a skip scan of the _loaded_at index
    # (one probe per load, not one row per edge).
    late_loads = [row[0] for row in _exec(conn,
        f"""
        with recursive loads as (
            select min(_loaded_at) as loaded_at
            from {state.EDGES_RELATION}
            where _loaded_at > %(wm)s::timestamptz - %(window)s::interval and _loaded_at <= %(wm)s::timestamptz
            union all
            select (select min(_loaded_at) from {state.EDGES_RELATION}
                    where _loaded_at > loads.loaded_at and _loaded_at <= %(wm)s::timestamptz)
            from loads
            where loads.loaded_at is not null
        )
        select loads.loaded_at
        from loads
        where loads.loaded_at is not null
            and not exists (select 1 from identity.resolver_loads as seen where seen.loaded_at = loads.loaded_at)
        """,
        {"wm": watermark, "window": window},
    )]
    if not late_loads:
        return fresh, 0
    late = _exec(conn,
        f"""
        insert into _new_edges
        select identifier_a_type, identifier_a_value, identifier_b_type, identifier_b_value,
               source, record_id, seen_at, _loaded_at
        from {state.EDGES_RELATION}
        where _loaded_at = any(%(loads)s)
        """,
        {"loads": late_loads},
    ).rowcount
    log.warning("identity resolve: %d edge(s) of %d load(s) committed after the previous run below its"
                " watermark; applying them now", late, len(late_loads))
    return fresh, late


def _record_loads(conn: psycopg.Connection, run_id: int, watermark_to, window) -> None:
    """Remember the loads read (their _loaded_at) within the lookback below the new watermark."""
    if watermark_to is None:
        return
    _exec(conn,
        """
        insert into identity.resolver_loads (loaded_at, resolver_run_id)
        select distinct _loaded_at, %(run)s from _new_edges
        where _loaded_at > %(wm)s::timestamptz - %(window)s::interval
        on conflict (loaded_at) do nothing
        """,
        {"run": run_id, "wm": watermark_to, "window": window},
    )
    _exec(conn, "delete from identity.resolver_loads where loaded_at <= %(wm)s::timestamptz - %(window)s::interval",
          {"wm": watermark_to, "window": window})


def _stage_nodes(conn: psycopg.Connection, full: bool, run_id: int) -> dict:
    # Touched identifiers: the endpoints of the new edges. Their first/last seen and
    # sources are recomputed from every current edge that holds them (index probes by
    # identifier), not folded into the stored values: a superseded record version or a
    # corrected timestamp must not leave its old value behind, so that an incremental
    # night and a full refresh agree (tests/e2e/test_full_refresh_equality.py).
    if full:
        # every edge is new: its endpoints are all there is
        endpoints_sql = """
            select identifier_a_type as identifier_type, identifier_a_value as identifier_value,
                   seen_at, source
            from _new_edges
            union all
            select identifier_b_type, identifier_b_value, seen_at, source
            from _new_edges
            where identifier_b_type is not null
        """
    else:
        _exec(conn, """
            create temp table _touched_ids on commit drop as
            select identifier_a_type as identifier_type, identifier_a_value as identifier_value
            from _new_edges
            union
            select identifier_b_type, identifier_b_value
            from _new_edges
            where identifier_b_type is not null
        """)
        _exec(conn, "analyze _touched_ids")
        endpoints_sql = f"""
            select ids.identifier_type, ids.identifier_value, edges.seen_at, edges.source
            from _touched_ids as ids
            join {state.EDGES_RELATION} as edges
                on edges.identifier_a_type = ids.identifier_type
                and edges.identifier_a_value = ids.identifier_value
            union all
            select ids.identifier_type, ids.identifier_value, edges.seen_at, edges.source
            from _touched_ids as ids
            join {state.EDGES_RELATION} as edges
                on edges.identifier_b_type = ids.identifier_type
                and edges.identifier_b_value = ids.identifier_value
        """
    _exec(conn, f"create temp table _touched_endpoints on commit drop as {endpoints_sql}")
    # Sources as bits (a run sees a handful of sources), so that the per-identifier
    # aggregate is one hash aggregate; the sorted source arrays come from the few
    # distinct bit masks.
    _exec(conn, """
        create temp table _sources on commit drop as
        select source, (row_number() over (order by source) - 1)::integer as bit
        from (select distinct source from _touched_endpoints) as s
    """)
    if _exec(conn, "select count(*) from _sources").fetchone()[0] > 63:
        raise RuntimeError("more than 63 edge sources in one run: widen the source mask")
    _exec(conn, """
        create temp table _touched on commit drop as
        select endpoints.identifier_type, endpoints.identifier_value,
               min(endpoints.seen_at) as first_seen_at,
               max(endpoints.seen_at) as last_seen_at,
               bit_or(1::bigint << s.bit) as source_mask
        from _touched_endpoints as endpoints
        join _sources as s using (source)
        group by endpoints.identifier_type, endpoints.identifier_value
    """)
    _exec(conn, """
        create temp table _source_sets on commit drop as
        select masks.source_mask,
               array(select s.source from _sources as s
                     where masks.source_mask & (1::bigint << s.bit) <> 0
                     order by s.source) as sources
        from (select distinct source_mask from _touched) as masks
    """)
    _exec(conn, "analyze _touched")
    # Customers those identifiers already belong to, and every identifier of them.
    _exec(conn, 
        """
        create temp table _touched_customers on commit drop as
        select distinct map.customer_id
        from identity.identifier_map as map
        join _touched using (identifier_type, identifier_value)
        """
    )
    _exec(conn, "analyze _touched_customers")
    _exec(conn, 
        """
        create temp table _nodes on commit drop as
        select
            (row_number() over (
                order by least(t.first_seen_at, m.first_seen_at), identifier_type, identifier_value
            ) - 1)::integer as node_id,
            identifier_type,
            identifier_value,
            m.customer_id as old_customer_id,
            t.identifier_type is not null as is_touched,
            t.first_seen_at,
            t.last_seen_at,
            ss.sources
        from _touched as t
        left join _source_sets as ss using (source_mask)
        full join (
            -- lateral: one customer_id index probe per touched customer, never a scan
            select map.identifier_type, map.identifier_value, map.customer_id, map.first_seen_at
            from _touched_customers as c
            cross join lateral (
                select * from identity.identifier_map as im where im.customer_id = c.customer_id
            ) as map
        ) as m using (identifier_type, identifier_value)
        """
    )
    _exec(conn, "analyze _nodes")
    shared = _guard_shared_devices(conn, run_id)
    # Edge labels (source and endpoint types) for merge reasons and the guard report.
    _exec(conn, 
        """
        create temp table _labels on commit drop as
        select (row_number() over (order by source, identifier_a_type, identifier_b_type) - 1)::integer as label_id,
               source, identifier_a_type, identifier_b_type
        from (select distinct source, identifier_a_type, identifier_b_type
              from _new_edges where identifier_b_type is not null) as l
        """
    )
    # One row per connected pair of nodes (an edge seen in many records counts once).
    _exec(conn, 
        """
        create temp table _pairs on commit drop as
        select na.node_id as a, nb.node_id as b, min(l.label_id) as label_id
        from _new_edges as e
        join _nodes as na
            on na.identifier_type = e.identifier_a_type and na.identifier_value = e.identifier_a_value
        join _nodes as nb
            on nb.identifier_type = e.identifier_b_type and nb.identifier_value = e.identifier_b_value
        join _labels as l
            on l.source = e.source and l.identifier_a_type = e.identifier_a_type
            and l.identifier_b_type = e.identifier_b_type
        where e.identifier_b_type is not null and na.node_id <> nb.node_id
            and not exists (
                select from _shared_device_records as held
                where held.source = e.source and held.record_id = e.record_id
                    and ((held.device_type = e.identifier_a_type and held.device_value = e.identifier_a_value)
                         or (held.device_type = e.identifier_b_type and held.device_value = e.identifier_b_value)))
        group by na.node_id, nb.node_id
        """
    )
    counts = _exec(conn, 
        """select (select count(*) from _touched), (select count(*) from _touched_customers),
                  (select count(*) from _pairs)"""
    ).fetchone()
    return {"identifiers_touched": counts[0], "customers_touched": counts[1], "edge_pairs": counts[2], **shared}


def _guard_shared_devices(conn: psycopg.Connection, run_id: int) -> dict:
    """Shared devices merge nobody: Segment's rule, "one user id per anonymous id".

    A device identifier (cookie, app instance) touched tonight whose current edges link
    it to more than `max_accounts_per_device()` distinct CRM accounts (a family tablet,
    a store kiosk) stays attached to the account it was first seen with. Tonight's
    records that hold the device and another account do not apply the device's edges
    (`_shared_device_records`, read by `_pairs`); the accounts' own edges stay. Found
    devices are upserted into identity.shared_identifiers. Records without an account
    (a guest session) still link the device as before.
    """
    devices = list(state.ANONYMOUS_IDENTIFIER_TYPES)
    _exec(conn, f"""
        create temp table _device_accounts on commit drop as
        select links.device_type, links.device_value, links.account_id,
               min(links.seen_at) as first_seen_at, max(links.seen_at) as last_seen_at
        from (
            select edges.identifier_a_type as device_type, edges.identifier_a_value as device_value,
                   edges.identifier_b_value as account_id, edges.seen_at
            from _touched as touched
            join {state.EDGES_RELATION} as edges
                on edges.identifier_a_type = touched.identifier_type
                and edges.identifier_a_value = touched.identifier_value
            where touched.identifier_type = any(%(devices)s) and edges.identifier_b_type = 'account_id'
            union all
            select edges.identifier_b_type, edges.identifier_b_value, edges.identifier_a_value, edges.seen_at
            from _touched as touched
            join {state.EDGES_RELATION} as edges
                on edges.identifier_b_type = touched.identifier_type
                and edges.identifier_b_value = touched.identifier_value
            where touched.identifier_type = any(%(devices)s) and edges.identifier_a_type = 'account_id'
        ) as links
        group by links.device_type, links.device_value, links.account_id
    """, {"devices": devices})
    _exec(conn, """
        create temp table _shared_devices on commit drop as
        select device_type, device_value,
               (array_agg(account_id order by first_seen_at, account_id))[1] as attached_account_id,
               array_agg(account_id order by first_seen_at, account_id) as account_ids,
               min(first_seen_at) as first_seen_at, max(last_seen_at) as last_seen_at
        from _device_accounts
        group by device_type, device_value
        having count(*) > %(cap)s
    """, {"cap": state.max_accounts_per_device()})
    # Tonight's records holding a shared device and an account other than its own.
    _exec(conn, f"""
        create temp table _shared_device_records on commit drop as
        select distinct tonight.source, tonight.record_id, shared.device_type, shared.device_value
        from _new_edges as tonight
        join _shared_devices as shared
            on (tonight.identifier_a_type = shared.device_type and tonight.identifier_a_value = shared.device_value)
            or (tonight.identifier_b_type = shared.device_type and tonight.identifier_b_value = shared.device_value)
        where exists (
            select from {state.EDGES_RELATION} as record
            where record.source = tonight.source and record.record_id = tonight.record_id
                and ((record.identifier_a_type = 'account_id' and record.identifier_a_value <> shared.attached_account_id)
                     or (record.identifier_b_type = 'account_id'
                         and record.identifier_b_value <> shared.attached_account_id)))
    """)
    found = _exec(conn, """
        insert into identity.shared_identifiers as known (identifier_type, identifier_value, attached_account_id,
            account_ids, account_count, first_seen_at, last_seen_at, detected_at, updated_at, resolver_run_id)
        select device_type, device_value, attached_account_id, account_ids, cardinality(account_ids),
               first_seen_at, last_seen_at, now(), now(), %(run)s
        from _shared_devices
        on conflict (identifier_type, identifier_value) do update
        set attached_account_id = excluded.attached_account_id, account_ids = excluded.account_ids,
            account_count = excluded.account_count, first_seen_at = excluded.first_seen_at,
            last_seen_at = excluded.last_seen_at, updated_at = now(), resolver_run_id = excluded.resolver_run_id
    """, {"run": run_id}).rowcount
    held = _exec(conn, "select count(*) from _shared_device_records").fetchone()[0]
    return {"shared_devices": found, "shared_device_records_held": held}


def _copy_ints(conn: psycopg.Connection, query: str) -> list[int]:
    """All integers of a COPY ... TO STDOUT, row-major."""
    chunks: list[bytes] = []
    with conn.cursor() as cur:
        with cur.copy(f"copy ({query}) to stdout") as copy:
            for chunk in copy:
                chunks.append(bytes(chunk))
    return list(map(int, b"".join(chunks).split()))


def _copy_out(conn: psycopg.Connection):
    n = _exec(conn, "select count(*) from _nodes").fetchone()[0]
    old_seq = [0] * n
    flat = _copy_ints(
        conn,
        "select node_id, substr(old_customer_id, %d)::bigint from _nodes where old_customer_id is not null"
        % (len(state.CUSTOMER_ID_PREFIX) + 1),
    )
    for i in range(0, len(flat), 2):
        old_seq[flat[i]] = flat[i + 1]
    hubs = set(_copy_ints(
        conn,
        """select n.node_id from _nodes as n
           where exists (select 1 from identity.oversized_components as o
                         where o.shared_identifier_type = n.identifier_type
                           and o.shared_identifier_value = n.identifier_value)""",
    ))
    flat = _copy_ints(conn, "select a, b, label_id from _pairs")
    ea, eb, el = flat[0::3], flat[1::3], flat[2::3]
    del flat
    labels = {row[0]: (row[1], row[2], row[3]) for row in _exec(conn, 
        "select label_id, source, identifier_a_type, identifier_b_type from _labels")}
    return n, old_seq, hubs, ea, eb, el, labels


# Added to an anonymous customer's sequence number for the union-find, which keeps the
# smallest value of a component: any known customer then beats any anonymous one, and
# within each group the oldest (smallest) id wins.
ANONYMOUS_RANK_OFFSET = 1 << 40


def _survivorship_ranks(conn: psycopg.Connection, old_seq: list[int]) -> tuple[list[int], dict[int, int]]:
    """Per node, the rank its customer id competes with when components merge.

    Known beats anonymous: a customer whose identifiers are all device identifiers
    (state.ANONYMOUS_IDENTIFIER_TYPES) ranks after every known one, so a CRM customer
    keeps its id when an older anonymous cookie turns out to be theirs. `_nodes` holds
    every identifier of each touched customer, so "all" is exact.
    """
    anonymous = {int(row[0][len(state.CUSTOMER_ID_PREFIX):]) for row in conn.execute(
        "select old_customer_id from _nodes where old_customer_id is not null group by old_customer_id "
        "having bool_and(identifier_type = any(%s))", (list(state.ANONYMOUS_IDENTIFIER_TYPES),)).fetchall()}
    if not anonymous:
        return old_seq, {}
    rank = [seq + ANONYMOUS_RANK_OFFSET if seq in anonymous else seq for seq in old_seq]
    return rank, {seq + ANONYMOUS_RANK_OFFSET: seq for seq in anonymous}


def _with_seqs(res: graph.Resolution, seq_of_rank: dict[int, int]) -> graph.Resolution:
    """The resolution with ranks turned back into customer sequence numbers."""
    if not seq_of_rank:
        return res

    def seq(value: int) -> int:
        return seq_of_rank.get(value, value)
    res.survivor = {c: seq(r) for c, r in res.survivor.items()}
    res.absorbed = {seq(old): (seq(new), label) for old, (new, label) in res.absorbed.items()}
    return res


def _write_back(conn, run_id, n, old_seq, res: graph.Resolution, labels, cap) -> dict:
    # New ids for components without one, oldest component (earliest first seen) first.
    # Nodes are numbered by first_seen_at, so the first time a component shows up in
    # node order is its earliest sighting.
    earliest: dict[int, int] = {}
    for node, c in enumerate(res.component):
        if c not in res.survivor and c not in earliest:
            earliest[c] = node
    new_components = sorted(earliest, key=earliest.__getitem__)
    seq_of = dict(res.survivor)
    if new_components:
        first = _reserve_sequence(conn, len(new_components))
        for offset, c in enumerate(new_components):
            seq_of[c] = first + offset

    # node -> final customer seq, for nodes that are touched or changed customer
    _exec(conn, "create temp table _assign (node_id integer not null, customer_seq bigint not null) on commit drop")
    with conn.cursor() as cur:
        with cur.copy("copy _assign (node_id, customer_seq) from stdin") as copy:
            buf: list[str] = []
            component = res.component
            for node in range(n):
                buf.append(f"{node}\t{seq_of[component[node]]}\n")
                if len(buf) >= 100_000:
                    copy.write("".join(buf))
                    buf.clear()
            if buf:
                copy.write("".join(buf))
    _exec(conn, "analyze _assign")
    cid = f"'{state.CUSTOMER_ID_PREFIX}' || lpad(a.customer_seq::text, {state.CUSTOMER_ID_DIGITS}, '0')"

    # Members of touched customers that only change customer (no new sightings).
    moved = _exec(conn, 
        f"""
        update identity.identifier_map as map
        set customer_id = {cid},
            updated_at = now()
        from _assign as a
        join _nodes as n using (node_id)
        where not n.is_touched
          and map.identifier_type = n.identifier_type and map.identifier_value = n.identifier_value
          and map.customer_id <> {cid}
        """
    ).rowcount
    map_is_empty = _exec(conn, "select not exists (select from identity.identifier_map)").fetchone()[0]
    upsert = "" if map_is_empty else f"""
        on conflict (identifier_type, identifier_value) do update
        set customer_id = excluded.customer_id,
            updated_at = case
                when map.customer_id = excluded.customer_id then map.updated_at
                else excluded.updated_at
            end,
            first_seen_at = excluded.first_seen_at,
            last_seen_at = excluded.last_seen_at,
            sources = excluded.sources"""
    cur = _exec(conn, 
        f"""
        insert into identity.identifier_map as map
            (identifier_type, identifier_value, customer_id, first_seen_at, last_seen_at, sources, updated_at)
        select n.identifier_type, n.identifier_value, {cid}, n.first_seen_at, n.last_seen_at, n.sources, now()
        from _nodes as n
        join _assign as a using (node_id)
        where n.is_touched
        {upsert}
        """
    )
    written = cur.rowcount + moved

    if res.absorbed:
        with conn.cursor() as cur:
            with cur.copy("copy identity.customer_id_merges (old_customer_id, new_customer_id, merged_at, reason, "
                          "resolver_run_id) from stdin") as copy:
                now = datetime.now(timezone.utc)
                for old, (new, label) in sorted(res.absorbed.items()):
                    copy.write_row((state.format_customer_id(old), state.format_customer_id(new), now,
                                    _merge_reason(labels.get(label)), run_id))

    if res.rejected:
        _exec(conn, 
            """create temp table _rejected (a integer, b integer, label_id integer, hub integer, hub_degree integer,
                                             size_a integer, size_b integer, known_hub boolean) on commit drop"""
        )
        with conn.cursor() as cur:
            with cur.copy("copy _rejected from stdin") as copy:
                for r in res.rejected:
                    copy.write_row((r.a, r.b, r.label, r.hub, r.hub_degree, r.size_a, r.size_b, r.known_hub))
        _exec(conn, 
            """
            insert into identity.oversized_components (
                resolver_run_id, detected_at, identifier_a_type, identifier_a_value, identifier_b_type,
                identifier_b_value, source, shared_identifier_type, shared_identifier_value,
                shared_identifier_degree, component_a_size, component_b_size, merged_size,
                max_component_size, reason)
            select %(run)s, now(), na.identifier_type, na.identifier_value, nb.identifier_type, nb.identifier_value,
                   l.source, nh.identifier_type, nh.identifier_value, r.hub_degree, r.size_a, r.size_b,
                   r.size_a + r.size_b, %(cap)s,
                   case
                       when r.known_hub then format(
                           'shared identifier %%s was quarantined by an earlier run; its edges are not applied',
                           nh.identifier_type)
                       else format(
                           'shared identifier %%s links %%s identifiers; applying its edges would create a '
                           'component above %%s identifiers', nh.identifier_type, r.hub_degree, %(cap)s)
                   end
            from _rejected as r
            join _nodes as na on na.node_id = r.a
            join _nodes as nb on nb.node_id = r.b
            join _nodes as nh on nh.node_id = r.hub
            join _labels as l on l.label_id = r.label_id
            """,
            {"run": run_id, "cap": cap},
        )
    return {"customers_created": len(new_components), "identifiers_written": written}


def _merge_reason(label: tuple[str, str, str] | None) -> str:
    if label is None:
        return "shared identifier"
    source, type_a, type_b = label
    return f"shared record: {source} links {type_a} and {type_b}"


def _reserve_sequence(conn: psycopg.Connection, count: int) -> int:
    """First of `count` consecutive customer sequence numbers (under the resolver lock)."""
    first = conn.execute("select nextval('identity.customer_id_seq')").fetchone()[0]
    if count > 1:
        conn.execute("select setval('identity.customer_id_seq', %s)", (first + count - 1,))
    return first
