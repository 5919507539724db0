"""Migrations edited after they were applied: a database that applied an earlier text of 0010 or
0036 (both were extended later) gets what was added once `db init` has run (migration 0040), and
`db init` records each migration's sha256 and refuses a file changed since it was applied."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from sge_recon.db import init_db
from sge_recon.db.accounts import create_session, session_account
from sge_recon.db.alert_outbox import enqueue_alert
from sge_recon.db.schema import migrations
from sge_recon.errors import SchemaMismatch


def as_first_applied(db) -> None:
    """The recon schema of a database that applied 0010 and 0036 as they were first written."""
    db.execute("DROP TABLE recon.console_sessions")  # added to 0010 later
    db.execute("ALTER TABLE recon.alert_deliveries DROP COLUMN dedup_key")  # added to 0036 later
    db.execute("DELETE FROM recon.schema_version WHERE version >= 40")


def test_db_init_brings_back_what_was_added_to_an_applied_migration(db):
    as_first_applied(db)
    init_db(db)
    now = datetime.now(timezone.utc)
    slot = "weekly_payout_reminder:2026-11-30T09:00:00+00:00"
    with db.transaction() as conn:  # the weekly reminder, queued once per channel and slot
        first = enqueue_alert(conn, incident_id=None, channel="slack", event="payout_reminder",
                              payload={"text": "3 batches await approval"}, now=now,
                              dedup_key=slot)
        again = enqueue_alert(conn, incident_id=None, channel="slack", event="payout_reminder",
                              payload={"text": "3 batches await approval"}, now=now,
                              dedup_key=slot)
    assert first is not None and again is None
    db.execute("INSERT INTO recon.console_users (name, role) VALUES ('ops', 'operator')")
    with db.transaction() as conn:  # a console sign-in is kept
        create_session(conn, "a" * 64, "ops", 3600)
        assert session_account(conn, "a" * 64)["name"] == "ops"
    missing = db.fetch_all(
        "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE c.relnamespace = 'recon'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped "
        "AND c.relname IN ('console_sessions', 'alert_deliveries') "
        "AND col_description(c.oid, a.attnum) IS NULL")
    assert missing == []


def test_the_repair_keeps_comments_later_migrations_wrote(db):
    """0033 rewrote sign_in_attempts.reason's comment; 0040 never puts 0010's text back."""
    as_first_applied(db)
    init_db(db)
    comment = db.fetch_one("SELECT col_description('recon.sign_in_attempts'::regclass, "
                           "(SELECT attnum FROM pg_attribute WHERE attrelid = "
                           "'recon.sign_in_attempts'::regclass AND attname = 'reason')) AS c")["c"]
    assert "empty_password" in comment


def recorded(db) -> dict[int, str | None]:
    return {r["version"]: r["sha256"]
            for r in db.fetch_all("SELECT version, sha256 FROM recon.schema_version")}


def test_db_init_records_each_applied_migrations_checksum(db):
    files = {v: hashlib.sha256(p.read_bytes().replace(b"\r\n", b"\n")).hexdigest()
             for v, _, p in migrations()}
    assert recorded(db) == files


def test_db_init_refuses_a_migration_file_changed_after_it_was_applied(db):
    """What 0036 went through: applied, then its file extended. The database recorded the
    checksum of the text it applied; the file on disk is another one now."""
    applied_text = b"ALTER TABLE recon.job_runs ADD COLUMN IF NOT EXISTS runner text NULL;\n"
    db.execute("UPDATE recon.schema_version SET sha256 = %s WHERE version = 36",
               (hashlib.sha256(applied_text).hexdigest(),))
    db.execute("DELETE FROM recon.schema_version WHERE version = 40")  # an upgrade is pending
    before = recorded(db)
    with pytest.raises(SchemaMismatch) as caught:
        init_db(db)
    message = str(caught.value)
    assert "0036_once_per_slot.sql changed after it was applied" in message
    assert "Nothing was changed" in message and "new migration" in message
    assert recorded(db) == before  # 0040 not applied, nothing recorded


def test_a_database_from_before_checksums_gets_them_recorded_not_refused(db):
    db.execute("UPDATE recon.schema_version SET sha256 = NULL")
    init_db(db)
    assert None not in recorded(db).values()
    init_db(db)  # and the next init finds every file as applied
