"""`touchpoint erase` end to end on a real PostgreSQL (issue 10, right to erasure).

One warehouse for the module: a generated sample (200 people, 4 delivery days, 1% bad
rows) loaded, built by dbt, resolved and published twice (two kept versions). A
generated person with rows in several sources is erased by email; nothing of theirs may
remain in raw, staging, intermediate, identity, the candidate marts, marts_history or
the marts views, and the log holds no PII. Then their landing files are delivered again
and one source is reloaded from landing in full: the loader suppresses them, the
manifest reconciles (read = loaded + quarantined + suppressed), and the next night
builds, passes its dbt tests and publishes without them.
"""
from __future__ import annotations

import datetime as dt
import shutil

import psycopg
import pytest
from psycopg import sql

from ingestion.loader import ingest
from ingestion.registry import CONTRACTS
from ingestion.suppression import row_predicate
from touchpoint import cli
from touchpoint.config import settings
from touchpoint.dbt import run_dbt
from touchpoint.erase import ErasureError, erase, find_person
from touchpoint.generator import generate
from touchpoint.identity.resolve import resolve
from touchpoint.normalize import normalize, render
from touchpoint.publish import publish
from touchpoint.pseudonyms import pseudonym, warehouse_pads
from touchpoint.runlock import RunLockHeld, exclusive_run

CUSTOMERS = 200
DAYS = 4
START = dt.date(2026, 11, 1)
REDELIVERY = START + dt.timedelta(days=DAYS)
SEED = 11
SEARCHED_SCHEMAS = ("raw", "staging", "intermediate", "identity", settings().candidate_schema, "marts_history")


def build_night(url: str, work, run_id: str, day: dt.date) -> None:
    """What the nightly DAG does after ingestion: dbt (with its tests), identity, publication."""
    paths = ["--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    run_dbt(["build", "--select", "staging", "+int_identifier_edges_collected", "--resource-type", "seed",
             "--resource-type", "model", "--quiet", *paths], url=url)
    resolve(url)
    run_dbt(["build", "--quiet", *paths], url=url)  # every model and every dbt test, sources' included
    with psycopg.connect(url, autocommit=True) as conn:
        assert publish(conn, run_id, day).decision == "published"


@pytest.fixture(scope="module")
def built(module_db_url, tmp_path_factory):
    work = tmp_path_factory.mktemp("erase")
    generate(CUSTOMERS, DAYS, START, SEED, work / "generated", 0.01)
    landing = work / "generated" / "landing"
    for offset in range(DAYS - 1):
        ingest(START + dt.timedelta(days=offset), landing_dir=landing, url=module_db_url)
    build_night(module_db_url, work, "night_1", START + dt.timedelta(days=DAYS - 2))
    ingest(START + dt.timedelta(days=DAYS - 1), landing_dir=landing, url=module_db_url)
    build_night(module_db_url, work, "night_2", START + dt.timedelta(days=DAYS - 1))
    return module_db_url, work, landing


def query(url: str, statement, params=None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(statement, params).fetchall()


def people_by_richness(url: str) -> list[tuple[str, dict[str, list[str]]]]:
    """Customers with an email, an account, a phone and a cookie, richest first."""
    rows = query(url, "select customer_id, identifier_type, identifier_value from identity.identifier_map "
                      "order by customer_id, identifier_type, identifier_value")
    people: dict[str, dict[str, list[str]]] = {}
    for customer, kind, value in rows:
        people.setdefault(customer, {}).setdefault(kind, []).append(value)
    wanted = {"email", "account_id", "phone", "cookie_id"}
    rich = [(c, ids) for c, ids in people.items() if wanted <= ids.keys()]
    return sorted(rich, key=lambda item: (-sum(map(len, item[1].values())), item[0]))


def raw_sources_of(url: str, identifiers: dict[str, list[str]]) -> set[str]:
    """Sources with a raw row that carries one of these identifiers (via the suppression predicate's twin)."""
    found = set()
    with psycopg.connect(url) as conn:
        for source, contract in CONTRACTS.items():
            for kind, call in contract.identifier_fields:
                values = identifiers.get(kind, [])
                if values and conn.execute(sql.SQL("select exists (select from {} where {} = any(%s))").format(
                        sql.Identifier("raw", source), sql.SQL(render(call).replace("%", "%%"))),
                        (values,)).fetchone()[0]:
                    found.add(source)
    return found


def table_rows_naming(url: str, needles: list[str]) -> dict[str, int]:
    """Rows of every table and view of the searched schemas (and marts) whose text holds a needle."""
    hits = {}
    with psycopg.connect(url) as conn:
        relations = conn.execute(
            "select table_schema, table_name from information_schema.tables where table_schema = any(%s)",
            (list(SEARCHED_SCHEMAS) + ["marts"],)).fetchall()
        for schema, table in relations:
            if (schema, table) == ("raw", "quarantine"):
                continue  # redacted in place; checked on its own
            n = conn.execute(sql.SQL("select count(*) from {} as t where lower(t::text) like any(%s)").format(
                sql.Identifier(schema, table)), ([f"%{n.lower()}%" for n in needles],)).fetchone()[0]
            if n:
                hits[f"{schema}.{table}"] = n
    return hits


def reconciles(url: str) -> None:
    """Raw holds what the current loads loaded less what erasure removed; quarantine what they quarantined."""
    with psycopg.connect(url) as conn:
        for source in CONTRACTS:
            in_raw = conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier("raw", source))).fetchone()[0]
            expected = conn.execute(
                "select coalesce(sum(rows_loaded - rows_erased), 0) from ops.load_manifest "
                "where source = %s and is_current", (source,)).fetchone()[0]
            assert in_raw == expected, source
            bad = conn.execute("select count(*) from ops.load_manifest where is_current and source = %s "
                               "and rows_read <> rows_loaded + rows_quarantined + rows_suppressed",
                               (source,)).fetchone()[0]
            assert bad == 0, source
        assert conn.execute("select count(*) from raw.quarantine").fetchone()[0] == conn.execute(
            "select sum(rows_quarantined) from ops.load_manifest where is_current").fetchone()[0]


@pytest.fixture(scope="module")
def erased(built):
    """The richest generated person, erased by email (as typed: mixed case, spaces), after a dry run."""
    url, work, landing = built
    customer, identifiers = people_by_richness(url)[0]
    sources = raw_sources_of(url, identifiers)
    assert len(sources) >= 3, sources
    email = identifiers["email"][0]
    before = {t: n for t, n in table_counts(url).items()}
    dry = erase(url, email=f"  {email.upper()} ", dry_run=True, landing_dir=landing)
    after_dry = table_counts(url)
    real = erase(url, email=f"  {email.upper()} ", landing_dir=landing)
    return {"customer": customer, "identifiers": identifiers, "sources": sources, "email": email,
            "dry": dry, "real": real, "before": before, "after_dry": after_dry}


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        relations = conn.execute(
            "select table_schema, table_name from information_schema.tables where table_schema = any(%s) "
            "and table_type = 'BASE TABLE'", (list(SEARCHED_SCHEMAS) + ["ops"],)).fetchall()
        return {f"{s}.{t}": conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(s, t))).fetchone()[0]
                for s, t in relations if (s, t) != ("ops", "erasure_log")}


def needles_of(person: dict, url: str) -> list[str]:
    values = [v for vs in person["identifiers"].values() for v in vs] + [person["customer"]]
    with psycopg.connect(url) as conn:
        pads = warehouse_pads(conn)
    return values + [pseudonym(v, pads) for vs in person["identifiers"].values() for v in vs]


def test_dry_run_reports_counts_and_changes_nothing(erased):
    dry = erased["dry"]
    assert dry.dry_run and dry.customers_affected == 1
    assert sum(dry.rows_deleted.values()) > 0
    # GIVEN a dry run THEN no table changed (its own log row aside)
    before = erased["before"]
    assert {table: erased["after_dry"].get(table) for table in before} == before
    # and it reported exactly what the real erasure then did
    assert dry.rows_deleted == erased["real"].rows_deleted
    assert dry.landing_files == erased["real"].landing_files


def test_erase_by_email_leaves_nothing_of_the_person(built, erased):
    url = built[0]
    real = erased["real"]
    assert real.customers_affected == 1
    assert real.identifiers_suppressed == sum(map(len, erased["identifiers"].values()))
    # rows were removed in every layer
    layers = {table.split(".")[0] for table in real.rows_deleted}
    assert {"raw", "staging", "intermediate", "identity", settings().candidate_schema, "marts_history"} <= layers
    assert {f"raw.{s}" for s in erased["sources"]} <= set(real.rows_deleted)
    # THEN no table, view or kept version holds any of their identifiers, pseudonyms or ids
    assert table_rows_naming(url, needles_of(erased, url)) == {}
    with psycopg.connect(url) as conn:
        for source, contract in CONTRACTS.items():
            assert conn.execute(sql.SQL("select count(*) from {} where ").format(
                sql.Identifier("raw", source)) + sql.SQL(row_predicate(contract))).fetchone()[0] == 0, source
        for mart in ("customer_360", "customer_identity_map"):
            assert conn.execute(sql.SQL("select count(*) from {} where customer_id = %s").format(
                sql.Identifier("marts", mart)), (erased["customer"],)).fetchone()[0] == 0
        # every kept version, not only the served one
        assert conn.execute("select count(distinct _valid_from_version) from marts_history.customer_360").fetchone()[0] >= 2
    # the landing files holding them are listed (relative to the landing dir) and left as they are
    landing = built[2]
    assert {f.split("/")[0] for f in real.landing_files} >= erased["sources"]
    assert all((landing / f).is_file() for f in real.landing_files)
    reconciles(url)


def test_erasure_log_counts_and_holds_no_pii(built, erased):
    url = built[0]
    rows = query(url, "select l.*::text, identifier_kind, rows_deleted, dry_run, customers_affected, landing_files "
                      "from ops.erasure_log as l order by erasure_id")
    dry_row, real_row = rows[-2], rows[-1]
    assert dry_row[3] is True and real_row[3] is False
    assert real_row[1] == "email" and real_row[4] == 1
    assert real_row[2] == erased["real"].rows_deleted
    assert real_row[5] == erased["real"].landing_files
    for text, *_ in (dry_row, real_row):
        for needle in needles_of(erased, url):
            assert needle.lower() not in text.lower()
        assert erased["email"].split("@")[0] not in text.lower()


def test_other_kinds_of_identifier_resolve_the_person(built, erased):
    url = built[0]
    others = [p for p in people_by_richness(url) if p[0] != erased["customer"]]
    (phone_customer, phone_ids), (account_customer, account_ids), (id_customer, _) = others[:3]
    with psycopg.connect(url) as conn:
        # a phone as typed in KR national form resolves like its E.164 form
        national = "0" + phone_ids["phone"][0][3:]
        assert normalize(conn, "phone", national) == phone_ids["phone"][0]
        assert find_person(conn, "phone", phone_ids["phone"][0]).customer_ids == [phone_customer]
    by_phone = erase(url, phone=national[:3] + "-" + national[3:7] + "-" + national[7:], landing_dir=built[2])
    by_account = erase(url, account_id=account_ids["account_id"][0].lower(), landing_dir=built[2])
    by_id = erase(url, customer_id=id_customer, landing_dir=built[2])
    for result in (by_phone, by_account, by_id):
        assert result.customers_affected == 1 and result.rows_deleted.get("identity.identifier_map", 0) > 0
    left = query(url, "select count(*) from identity.identifier_map where customer_id = any(%s)",
                 ([phone_customer, account_customer, id_customer],))[0][0]
    assert left == 0


def test_an_absorbed_customer_id_is_followed_to_the_one_in_use(built, erased):
    url = built[0]
    merges = query(url, "select old_customer_id, new_customer_id from identity.customer_id_merges "
                        "where new_customer_id in (select customer_id from identity.identifier_map)")
    if not merges:
        pytest.skip("the sample has no merge left to follow")
    old, new = merges[0]
    result = erase(url, customer_id=old, dry_run=True)
    assert result.customers_affected == 1
    with psycopg.connect(url) as conn:
        assert find_person(conn, "customer_id", old).customer_ids == [new]


def test_unknown_or_invalid_identifiers_are_clear_errors(built, erased, monkeypatch, capsys):
    url = built[0]
    with pytest.raises(ErasureError, match="nobody matches"):
        erase(url, email="nobody.at.all@example.com")
    with pytest.raises(ErasureError, match="not a valid"):
        erase(url, phone="call me maybe")
    with pytest.raises(ErasureError, match="block list"):
        erase(url, email="test@test.com")
    with pytest.raises(ErasureError, match="exactly one"):
        erase(url, email="a@b.kr", phone="01012345678")
    # the command: exit 1, one line, no traceback
    monkeypatch.setenv("WAREHOUSE_URL", url)
    assert cli.main(["erase", "--email", "nobody.at.all@example.com"]) == 1
    err = capsys.readouterr().err
    assert "nobody matches" in err and "Traceback" not in err
    # and the email given is not echoed
    assert "nobody.at.all" not in err


def test_erase_waits_for_no_night_it_refuses_while_one_runs(built, erased):
    url = built[0]
    with exclusive_run(url, "test night"):
        import os

        holder = os.environ.pop("TOUCHPOINT_RUN_LOCK_HOLDER")  # as if another process held it
        try:
            with pytest.raises(RunLockHeld, match="test night"):
                erase(url, email=erased["email"], wait_seconds=0)
        finally:
            os.environ["TOUCHPOINT_RUN_LOCK_HOLDER"] = holder


def test_a_redelivered_file_or_a_full_reload_does_not_bring_the_person_back(built, erased):
    url, work, landing = built
    real = erased["real"]
    # GIVEN the brand delivers the files holding the person again (copies in a new delivery folder)
    for rel in real.landing_files:
        source, _, name = rel.split("/")
        target = landing / source / REDELIVERY.isoformat()
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(landing / rel, target / f"redelivered_{name}")
    redelivered = ingest(REDELIVERY, landing_dir=landing, url=url)
    manifest = query(url, "select sum(rows_suppressed) from ops.load_manifest where logical_date = %s",
                     (REDELIVERY,))[0][0]
    assert manifest == sum(r.rows_suppressed for r in redelivered) > 0
    # AND one source is reloaded from landing in full
    full_source = "crm_customers"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("delete from raw.crm_customers")
        conn.execute("delete from raw.quarantine where source = %s", (full_source,))
        conn.execute("delete from ops.load_manifest where source = %s", (full_source,))
    reloaded = [r for offset in range(DAYS)
                for r in ingest(START + dt.timedelta(days=offset), [full_source], landing, url)]
    # THEN the loader drops their rows, counts them as suppressed, and everything reconciles
    for result in redelivered + reloaded:
        assert result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_suppressed
    assert sum(r.rows_suppressed for r in redelivered) >= sum(
        n for t, n in real.rows_deleted.items() if t.startswith("raw.")) // 2
    assert sum(r.rows_suppressed for r in reloaded) >= real.rows_deleted["raw.crm_customers"]
    reconciles(url)
    # WHEN the next night runs (dbt with every test, identity, publication)
    build_night(url, work, "night_3", REDELIVERY)
    # THEN the person is nowhere, in no layer and no version
    assert table_rows_naming(url, needles_of(erased, url)) == {}
    reconciles(url)
