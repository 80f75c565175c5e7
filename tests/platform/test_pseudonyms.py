"""The pseudonym key (issue 10): HMAC as RFC 2104 defines it, kept per warehouse,
never switched silently, rotated on purpose."""
from __future__ import annotations

import hashlib
import hmac
import stat

import pytest

from touchpoint import pseudonyms
from touchpoint.cli import main


@pytest.fixture
def own_key_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.delenv(pseudonyms.KEY_ENV, raising=False)
    return tmp_path / "local"


def test_pads_give_the_standard_hmac():
    for key in (bytes(range(32)), b"k" * 100):  # a long key is hashed first (RFC 2104)
        for value in ("minji.kim@example.com", "+821012345678", "김소연", ""):
            assert pseudonyms.pseudonym(value, pseudonyms.pads(key)) == \
                hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def test_sql_and_python_agree(fresh_conn):
    key_pads = pseudonyms.warehouse_pads(fresh_conn)
    (in_sql,) = fresh_conn.execute(
        "select encode(sha256(outer_pad || sha256(inner_pad || convert_to(%s, 'UTF8'))), 'hex') "
        "from identity.pseudonym_key", ("이서연@example.kr",)).fetchone()
    assert in_sql == pseudonyms.pseudonym("이서연@example.kr", key_pads)


def test_a_new_warehouse_gets_a_random_key_kept_in_a_private_file(fresh_conn, own_key_dir):
    fresh_conn.execute("delete from identity.pseudonym_key")
    fingerprint = pseudonyms.ensure_key(fresh_conn)
    key_file = own_key_dir / "pseudonym-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert fingerprint == pseudonyms.fingerprint(bytes.fromhex(key_file.read_text().strip()))
    assert pseudonyms.ensure_key(fresh_conn) == fingerprint  # idempotent


def test_a_different_configured_key_is_refused(fresh_conn, own_key_dir, monkeypatch):
    monkeypatch.setenv(pseudonyms.KEY_ENV, "ab" * 32)
    with pytest.raises(pseudonyms.PseudonymKeyError, match="rotate-key"):
        pseudonyms.ensure_key(fresh_conn)
    monkeypatch.setenv(pseudonyms.KEY_ENV, "not hex")
    with pytest.raises(pseudonyms.PseudonymKeyError, match="64 hex characters"):
        pseudonyms.ensure_key(fresh_conn)


def test_rotation_changes_every_pseudonym_and_rebuilds_the_marts(fresh_db_url, fresh_conn, own_key_dir,
                                                                 monkeypatch):
    # GIVEN a warehouse with candidate marts built with the current key
    monkeypatch.setenv("WAREHOUSE_URL", fresh_db_url)
    fresh_conn.execute("create schema if not exists marts_candidate")
    for mart in pseudonyms.PSEUDONYMISED_MARTS:
        fresh_conn.execute(f"create table marts_candidate.{mart} (x int)")
    before = pseudonyms.pseudonym("+821012345678", pseudonyms.warehouse_pads(fresh_conn))
    # WHEN the operator rotates the key
    assert main(["warehouse", "rotate-key"]) == 0
    # THEN pseudonyms change, the new key is in the private file and in the warehouse,
    # and the pseudonymised candidate marts are gone (the next night rebuilds them)
    after = pseudonyms.pseudonym("+821012345678", pseudonyms.warehouse_pads(fresh_conn))
    assert after != before
    new_key = bytes.fromhex((own_key_dir / "pseudonym-key").read_text().strip())
    assert pseudonyms.pseudonym("+821012345678", pseudonyms.pads(new_key)) == after
    assert pseudonyms.ensure_key(fresh_conn) == pseudonyms.fingerprint(new_key)
    left = fresh_conn.execute("select count(*) from pg_tables where schemaname = 'marts_candidate'").fetchone()[0]
    assert left == 0
    # AND with the key managed in the environment, rotation takes it from there
    monkeypatch.setenv(pseudonyms.KEY_ENV, "cd" * 32)
    assert main(["warehouse", "rotate-key", "--key-from-env"]) == 0
    assert pseudonyms.ensure_key(fresh_conn) == pseudonyms.fingerprint(bytes.fromhex("cd" * 32))
    assert main(["warehouse", "rotate-key"]) == 1  # would not match the variable: refused, no traceback


def test_bi_cannot_read_the_key(fresh_conn):
    # schema identity is not granted to BI (tests/platform/test_bi_role.py checks the
    # schema); the key table has no grant of its own either
    grants = fresh_conn.execute("select count(*) from information_schema.role_table_grants "
                                "where table_schema = 'identity' and table_name = 'pseudonym_key' "
                                "and grantee <> current_user").fetchone()[0]
    assert grants == 0
