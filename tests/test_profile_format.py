"""The profile format is general (a made-up third platform works like SGE) and its errors are
sentences that name the profile line and what to change (DESIGN §11)."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from refplatform.sge_platform import create_sge_schema
from sge_recon.context import Recon
from sge_recon.db import Database
from sge_recon.errors import ProfileError
from sge_recon.profiles import load_profile
from sge_recon.profiles.model import profile_path

from .conftest import settings_for

SGE_YML = profile_path("sge").read_text(encoding="utf-8")

# A platform of another shape again: its own schema, separate debit/credit columns, integer
# cents, numeric currency codes, a text status column, a journal id, times in UTC timestamptz.
ACME_DDL = """
CREATE SCHEMA acme;
CREATE TABLE acme.merchant (code text PRIMARY KEY, title text NOT NULL, iso_currency int NOT NULL,
                            vault text NOT NULL, fee_bp int NOT NULL, upline_bp int NOT NULL,
                            opened timestamptz NOT NULL DEFAULT now());
CREATE TABLE acme.partner (pid text PRIMARY KEY, merchant text NOT NULL, sponsor text NULL,
                           joined timestamptz NOT NULL DEFAULT now());
CREATE TABLE acme.gl_line (line_no bigserial PRIMARY KEY, merchant text NOT NULL,
                           journal text NOT NULL, acct text NOT NULL, dr_cents bigint NOT NULL,
                           cr_cents bigint NOT NULL, iso_currency int NOT NULL,
                           posted timestamptz NOT NULL DEFAULT now());
CREATE TABLE acme.payment (ref text PRIMARY KEY, merchant text NOT NULL, cents bigint NOT NULL,
                           iso_currency int NOT NULL, state text NOT NULL,
                           started timestamptz NOT NULL, touched timestamptz NOT NULL,
                           finished timestamptz NULL);
"""

ACME_PROFILE = """
profile: acme
description: a made-up platform, to prove the format is not an SGE special case
tables:
  programs:
    from: acme.merchant m
    columns:
      id: m.code
      name: m.title
      currency: "CASE m.iso_currency WHEN 840 THEN 'USD' WHEN 978 THEN 'EUR' END"
      treasury_address: m.vault
      direct_commission_rate: m.fee_bp / 10000.0
      parent_commission_rate: m.upline_bp / 10000.0
      created_at: m.opened
  affiliates:
    from: acme.partner a
    columns: {id: a.pid, program_id: a.merchant, code: a.pid, parent_id: a.sponsor,
              created_at: a.joined}
  users:
    absent: acme keeps no end users
  settlement_intents:
    from: acme.payment p
    columns:
      id: p.ref
      program_id: p.merchant
      user_id: NULL::text
      amount: p.cents / 100.0
      currency: "CASE p.iso_currency WHEN 840 THEN 'USD' WHEN 978 THEN 'EUR' END"
      status:
        from: p.state
        map: {new: created, running: processing, done: completed, broken: failed}
      idempotency_key: p.ref
      attempts: "1"
      last_error: NULL::text
      created_at: p.started
      status_changed_at: p.touched
      completed_at: p.finished
  settlements: {absent: acme settles off-ledger}
  chain_transactions: {absent: acme is not on a chain}
  ledger_entries:
    from: acme.gl_line g
    columns:
      id: g.line_no
      program_id: g.merchant
      transaction_id: g.journal
      intent_id: NULL::text
      account: g.acct
      type: "CASE WHEN g.dr_cents > 0 THEN 'debit' ELSE 'credit' END"
      amount: (g.dr_cents + g.cr_cents) / 100.0
      currency: "CASE g.iso_currency WHEN 840 THEN 'USD' WHEN 978 THEN 'EUR' END"
      created_at: g.posted
  commissions: {absent: acme pays no commissions}
  payout_batches: {absent: acme pays no commissions}
  payout_approvals: {absent: acme pays no commissions}
  webhook_endpoints: {absent: acme sends no webhooks}
  webhook_deliveries: {absent: acme sends no webhooks}
  worker_heartbeats: {absent: acme has no workers}
  jobs: {absent: acme has no queue}
  queue_control: {absent: acme has no queue}
  rpc_calls: {absent: acme makes no RPC calls}
"""


def write(tmp_path: Path, text: str, name: str = "profile.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture
def acme_url(new_database):
    url = new_database(empty=True)
    db = Database(url)
    db.execute_script(ACME_DDL)
    db.execute_script("""
        INSERT INTO acme.merchant VALUES ('m1', 'One', 840, '0xv1', 100, 50, now()),
                                         ('m2', 'Two', 978, '0xv2', 100, 50, now());
        INSERT INTO acme.partner VALUES ('a1', 'm1', NULL, now()), ('a2', 'm1', 'a3', now()),
                                        ('a3', 'm1', 'a2', now()), ('a4', 'm2', 'a1', now());
        INSERT INTO acme.gl_line (merchant, journal, acct, dr_cents, cr_cents, iso_currency) VALUES
            ('m1', 'j1', 'treasury', 10000, 0, 840), ('m1', 'j1', 'user:x', 0, 10000, 840),
            ('m2', 'j2', 'treasury', 5000, 0, 978), ('m2', 'j2', 'user:y', 0, 4975, 978);
        INSERT INTO acme.payment VALUES
            ('p1', 'm1', 100, 840, 'done', now() - interval '1 h',
             now() - interval '1 h' + interval '3 s', now() - interval '1 h' + interval '3 s'),
            ('p2', 'm1', 250, 840, 'running', now() - interval '2 h', now() - interval '30 min',
             NULL);
    """)
    return url


def test_a_third_made_up_platform_is_reconciled_through_its_own_profile(acme_url, tmp_path):
    recon = Recon(settings_for(acme_url, PLATFORM_PROFILE=str(write(tmp_path, ACME_PROFILE))))
    report = recon.init_db()
    assert report.profile == "acme"
    assert set(report.profile_views) == {"programs", "affiliates", "settlement_intents",
                                         "ledger_entries"}
    run = recon.checks.run(trigger="test")
    results = run.by_name()
    assert [(r["program_id"], r["currency"], r["difference"])
            for r in results["ledger_balance"].rows] == [("m2", "EUR", Decimal("0.250000"))]
    assert [r["transaction_id"] for r in results["transaction_balance"].rows] == ["j2"]
    assert {r["affiliate_id"]: r["problem"] for r in results["affiliate_tree"].rows} == {
        "a2": "cycle", "a3": "cycle", "a4": "cross_program"}
    assert [r["intent_id"] for r in results["stuck_intents"].rows] == ["p2"]
    assert results["commission_accuracy"].status == "unavailable"
    assert "acme pays no commissions" in results["commission_ledger"].reason
    assert results["processing_time"].status == "pass"
    assert run.status == "fail"


def test_acme_profile_through_the_cli(acme_url, tmp_path):
    profile = write(tmp_path, ACME_PROFILE)
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": acme_url, "PLATFORM_PROFILE": str(profile),
           "SGE_RECON_HOME": str(tmp_path / "home")}
    init = subprocess.run([sys.executable, "-m", "sge_recon", "db", "init"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    assert "Profile acme: 4 contract tables mapped" in init.stdout


@pytest.fixture
def sge_url(new_database):
    url = new_database(empty=True)
    create_sge_schema(Database(url))
    return url


def init_error(url: str, profile: Path) -> str:
    recon = Recon(settings_for(url, PLATFORM_PROFILE=str(profile)))
    with pytest.raises(ProfileError) as caught:
        recon.init_db()
    return caught.value.message


def test_a_column_that_does_not_exist_is_named_with_its_line(sge_url, tmp_path):
    text = SGE_YML.replace('treasury_address: p."treasuryAddress"',
                           'treasury_address: p."treasuryAdress"')
    message = init_error(sge_url, write(tmp_path, text))
    line = line_of(text, "treasuryAdress")
    assert f"line {line}: tables.programs.columns.treasury_address" in message
    assert 'column p.treasuryAdress does not exist' in message
    assert Database(sge_url).fetch_one(
        "SELECT to_regclass('recon.check_runs') IS NULL AS nothing")["nothing"]  # no change


def test_a_new_platform_status_fails_loudly_never_as_null(sge_url, tmp_path):
    Database(sge_url).execute('ALTER TYPE "IntentStatus" ADD VALUE \'ON_HOLD\'')
    message = init_error(sge_url, write(tmp_path, SGE_YML))
    line = line_of(SGE_YML, "PENDING: payment_pending")
    assert f"line {line - 2}: tables.settlement_intents.columns.status" in message
    assert 'label(s) ON_HOLD that the map does not name' in message


def test_a_mapped_label_the_enum_lacks_is_named(sge_url, tmp_path):
    text = SGE_YML.replace("EXPIRED: failed", "EXPIRED: failed\n          TIMED_OUT: failed")
    message = init_error(sge_url, write(tmp_path, text))
    assert "TIMED_OUT is not a label of" in message and '"IntentStatus"' in message


@pytest.mark.parametrize("labels, expected", [
    ("'true': debit", "the platform's boolean has label(s) false that the map does not name"),
    ("'true': debit\n          'false': credit\n          'yes': debit",
     "yes is not a label of boolean (labels: true, false)"),
    # YAML's True is not PostgreSQL's text of the value: true is then the value not mapped
    ("'True': debit\n          'false': credit", "has label(s) true that the map does not name"),
])
def test_a_map_over_a_boolean_names_true_and_false_and_nothing_else(sge_url, tmp_path, labels,
                                                                     expected):
    """The ledger's type is a map over `e.amount >= 0`: both values mapped, as every label of an
    enum is (a value mapped by nobody would read as unmapped:<value> on every such entry)."""
    text = SGE_YML.replace("'true': debit\n          'false': credit", labels)
    assert text != SGE_YML
    message = init_error(sge_url, write(tmp_path, text))
    assert f"line {line_of(SGE_YML, 'from: e.amount >= 0')}: " \
        "tables.ledger_entries.columns.type" in message
    assert expected in message


def test_a_naive_timestamp_needs_its_zone(sge_url, tmp_path):
    text = SGE_YML.replace("""created_at: a."createdAt" AT TIME ZONE 'UTC'""",
                           """created_at: a."createdAt\"""")
    message = init_error(sge_url, write(tmp_path, text))
    assert "tables.affiliates.columns.created_at is timestamp without time zone" in message
    assert "AT TIME ZONE 'UTC'" in message


def test_money_as_float_is_refused(sge_url, tmp_path):
    text = SGE_YML.replace("amount: s.amount\n", "amount: s.amount::float8\n")
    message = init_error(sge_url, write(tmp_path, text))
    assert "tables.settlements.columns.amount is double precision" in message
    assert "exact" in message


def with_fingerprint(text: str, value: str) -> str:
    """The SGE profile with its (two-line) ledger fingerprint replaced by ``value``."""
    start = text.index("    fingerprint: [")
    end = text.index("]", start) + 1
    return text[:start] + f"    fingerprint: {value}" + text[end:]


def test_a_view_of_someone_elses_on_the_profile_views_stops_db_init_with_a_sentence(
        new_database):
    url = new_database(empty=True)
    create_sge_schema(Database(url))
    Recon(settings_for(url, PLATFORM_PROFILE="sge")).init_db()
    Database(url).execute("CREATE VIEW public.my_ledger AS SELECT id, amount "
                          "FROM recon_platform.ledger_entries")
    with pytest.raises(ProfileError) as caught:
        Recon(settings_for(url, PLATFORM_PROFILE="sge")).init_db()
    assert caught.value.message == (
        "db init recreates the view recon_platform.ledger_entries, but my_ledger depends on it; "
        "drop or move that object (sge-recon owns the recon_platform schema) and run db init "
        "again")
    assert Database(url).fetch_one("SELECT count(*) AS n FROM public.my_ledger")["n"] == 0


def test_a_fingerprint_column_that_does_not_exist_is_named_with_its_line(sge_url, tmp_path):
    text = SGE_YML.replace('e."settlementId", e.account,\n', 'e."settlmentId", e.account,\n', 1)
    assert text != SGE_YML
    message = init_error(sge_url, write(tmp_path, text))
    assert f"line {line_of(text, 'fingerprint: [')}: tables.ledger_entries.fingerprint: " \
        'e."settlmentId"' in message
    assert "does not exist" in message


def test_a_fingerprint_of_a_type_without_a_hash_is_refused_with_its_line(sge_url, tmp_path):
    text = SGE_YML.replace("fingerprint: [e.id,", "fingerprint: [\"'(1,2)'::point\", e.id,")
    message = init_error(sge_url, write(tmp_path, text))
    assert f"line {line_of(text, 'fingerprint: [')}: tables.ledger_entries.fingerprint (point, " \
        in message
    assert "could not identify an extended hash function for type point" in message


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.replace("fingerprint: [e.id,", "fingerprint: [e.id, e.id,"),
     "tables.ledger_entries.fingerprint names an expression twice"),
    (lambda t: with_fingerprint(t, "e.id"),
     "tables.ledger_entries.fingerprint must be a non-empty list of SQL expressions"),
    (lambda t: with_fingerprint(t, "[]"),
     "tables.ledger_entries.fingerprint must be a non-empty list of SQL expressions"),
    (lambda t: t.replace("  rpc_calls:\n    absent: the SGE platform does not record its RPC "
                         "calls\n", ""), "tables: no entry for rpc_calls"),
    (lambda t: t.replace("      name: p.name\n", ""), "no expression for name"),
    (lambda t: t.replace("  programs:\n    from:", "  programs:\n    colour: red\n    from:"),
     "tables.programs: unknown key 'colour'"),
    (lambda t: t.replace("  jobs:\n    absent:", "  jobz:\n    absent:"),
     "unknown key 'jobz'"),
    (lambda t: t.replace("profile: sge", "profile: &p sge\nalias: *p"),
     "anchors and aliases are not allowed"),
    (lambda t: t + "\n  programs: {absent: twice}\n", "'programs' appears twice"),
    (lambda t: t.replace("tables:", "tables: [\n"), "not valid YAML"),
    (lambda t: t.replace("  webhook_endpoints:\n    absent: the SGE platform sends no outbound "
                         "webhooks", "  webhook_endpoints:\n    absent: x\n    from: y"),
     "`absent` stands alone"),
])
def test_malformed_profiles_are_sentences_naming_the_line(tmp_path, edit, expected):
    text = edit(SGE_YML)
    with pytest.raises(ProfileError) as caught:
        load_profile(str(write(tmp_path, text)))
    message = caught.value.message
    assert expected in message
    assert str(tmp_path / "profile.yml") in message


def test_an_unknown_profile_name_says_what_exists(tmp_path):
    with pytest.raises(ProfileError) as caught:
        load_profile("sgee")
    assert "neither a shipped profile (contract, sge) nor a readable file" in caught.value.message


def test_cli_reports_a_profile_error_without_a_traceback(sge_url, tmp_path):
    text = SGE_YML.replace('name: p.name', 'name: p.nam')
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": sge_url,
           "PLATFORM_PROFILE": str(write(tmp_path, text)), "SGE_RECON_HOME": str(tmp_path / "h")}
    done = subprocess.run([sys.executable, "-m", "sge_recon", "db", "init"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert done.stderr.startswith("Error: ") and "Traceback" not in done.stderr
    assert f"line {line_of(text, 'p.nam')}: tables.programs.columns.name" in done.stderr


def test_back_to_the_contract_profile_drops_the_views(new_database):
    url = new_database()
    db = Database(url)
    create_sge_schema(db)
    Recon(settings_for(url, PLATFORM_PROFILE="sge")).init_db()
    assert db.fetch_one("SELECT to_regclass('recon_platform.ledger_entries') IS NOT NULL AS v")["v"]
    Recon(settings_for(url)).init_db()
    assert db.fetch_one("SELECT to_regnamespace('recon_platform') IS NULL AS gone")["gone"]
