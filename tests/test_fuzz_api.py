"""Fuzzing the admin API against its own OpenAPI schema (schemathesis 4, real HTTP on 127.0.0.1,
the real database): no answer is ever a 5xx, every answer conforms to the documented responses,
and a rejected call (4xx) changes no platform table — only the audit log records it.

Bounded: MAX_EXAMPLES generated cases per operation (about 11 operations), each with the admin or
an approver key as the operation wants, plus the same number without a key.
"""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from refplatform.api import MAX_BODY_BYTES
from sge_recon.db import Database

from .factories import PlatformFactory, ago
from .invariants import INVARIANT_FIGURES, assert_invariants
from .platform_helpers import ADMIN_KEY, APPROVER_1, payable_batch, running_api

MAX_EXAMPLES = 25

# Platform tables whose content a rejected call must leave untouched (the audit log is meant to
# grow with every call, refused ones too), and recon's record of force-reconcile runs.
SNAPSHOT_TABLES = [
    "public.programs", "public.affiliates", "public.users", "public.settlement_intents",
    "public.settlements", "public.chain_transactions", "public.ledger_entries",
    "public.commissions", "public.payout_batches", "public.payout_approvals",
    "public.webhook_endpoints", "public.webhook_deliveries", "public.jobs",
    "public.queue_control", "public.ledger_corrections", "recon.check_runs",
]


def snapshot(db: Database) -> dict[str, tuple]:
    """Row count and a hash of every row's text per table: any insert, update or delete shows."""
    parts = " UNION ALL ".join(
        f"SELECT '{t}' AS name, count(*) AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY"
        f" x::text), '')) AS h FROM {t} x" for t in SNAPSHOT_TABLES)
    return {r["name"]: (r["n"], r["h"]) for r in db.fetch_all(parts)}


@pytest.fixture(scope="module")
def fuzz_target(module_db_url):
    """The API over a small platform whose ids the fuzzer may stumble on."""
    db = Database(module_db_url)
    make = PlatformFactory(db)
    setup = payable_batch(make)
    program = setup["program"]
    user = make.user(program["id"])
    make.intent(program["id"], user["id"], status="failed", id="int_fuzz_failed")
    make.intent(program["id"], user["id"], status="processing", status_changed_at=ago(hours=1))
    endpoint = make.endpoint(program["id"])
    make.delivery(endpoint["id"], status="failed", attempt_count=5)
    make.journal(program["id"], [("treasury", "debit", Decimal("5.00")),
                                 ("user:x", "credit", Decimal("5.00"))])
    with running_api(module_db_url) as url:
        yield {"url": url, "db": db}


# A schema-invalid input may be refused for its size before it is read (413, documented on every
# operation): that is a rejection too, which schemathesis's default list lacks.
REJECTIONS = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                          "428", "429", "5xx"]}}})


@pytest.fixture(scope="module")
def operations(fuzz_target) -> list:
    schema = schemathesis.openapi.from_url(f"{fuzz_target['url']}/openapi.json",
                                           config=REJECTIONS)
    ops = [result.ok() for result in schema.get_all_operations()]
    assert len(ops) >= 10  # every §6 endpoint is documented
    return ops


def key_for(case) -> str:
    return APPROVER_1 if case.path.endswith("/approve") else ADMIN_KEY


def fuzz_one(case, fuzz_target, headers: dict) -> None:
    db = fuzz_target["db"]
    before = snapshot(db)
    # A schema-valid body may still break a business rule (a correction that does not balance,
    # an id that does not exist): positive_data_acceptance cannot know that, the rest applies.
    response = case.call_and_validate(base_url=fuzz_target["url"], headers=headers,
                                      excluded_checks=[positive_data_acceptance])
    INVARIANT_FIGURES["fuzz cases"] += 1
    INVARIANT_FIGURES["5xx seen"] += response.status_code >= 500
    assert response.status_code < 500, (case.method, case.path, response.text)
    if response.status_code >= 400:
        after = snapshot(db)
        changed = [t for t in SNAPSHOT_TABLES if before[t] != after[t]]
        assert not changed, f"{case.method} {case.formatted_path} -> {response.status_code} " \
                            f"changed {changed}"
        body = response.json()
        assert isinstance(body.get("error"), str) and body["error"], body
        INVARIANT_FIGURES["rejected calls without a state change"] += 1


def fuzz_operations(operations, fuzz_target, mode: str, authorised: bool,
                    examples: int) -> int:
    """Fuzz every operation; returns how many had inputs of that mode to generate."""
    fuzzed = 0
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=GenerationMode(mode))

        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def fuzz(case):
            headers = {"Authorization": f"Bearer {key_for(case)}"} if authorised else {}
            fuzz_one(case, fuzz_target, headers)

        try:
            fuzz()
            fuzzed += 1
        except Unsatisfiable:  # no input can be made invalid (e.g. GET /health): nothing to try
            assert mode == "negative", operation.label
    return fuzzed


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fuzzed_calls_with_a_key_never_5xx_and_rejections_change_nothing(operations, fuzz_target,
                                                                        mode):
    fuzzed = fuzz_operations(operations, fuzz_target, mode, authorised=True,
                             examples=MAX_EXAMPLES)
    # every operation with a body or a path id gets schema-invalid inputs too
    assert fuzzed >= (len(operations) if mode == "positive" else 6), fuzzed


@pytest.mark.slow
def test_fuzzed_calls_without_a_key_are_refused_and_change_nothing(operations, fuzz_target):
    fuzz_operations(operations, fuzz_target, "positive", authorised=False, examples=5)


@pytest.mark.slow
def test_the_platform_is_still_consistent_after_the_fuzzing(fuzz_target):
    """Runs after the fuzzing (file order): whatever the accepted calls did, money still adds up."""
    db = fuzz_target["db"]
    assert db.fetch_one("SELECT count(*) AS n FROM public.admin_audit_log")["n"] > 0
    assert_invariants(db.url, expected={"worker_status", "queue_depth", "processing_time",
                                        "stuck_intents", "webhook_exhausted", "payout_batch_sla",
                                        "commission_ledger"})


# -- hostile bodies: oversized, malformed, deeply nested, look-alike text ----------------------
POST_PATHS = ["/admin/ledger/corrections", "/admin/reconciliation/force-reconcile",
              "/admin/reconciliation/retry-intent", "/admin/queue/pause"]
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["1\n", "\u0661\u0662", "\uff11", "1e3", "NaN", "Infinity", "-0", "0x10",
                     "1" * 40, "9" * 32 + ".999999", "treasury\u200b", "tr\u0435asury",
                     "USD\n", "usd", "user:u1\r\n", "\u202etreasury", "", " ", "\x00"]))
hostile_entry = st.fixed_dictionaries({"account": hostile_text, "type": st.sampled_from(
    ["debit", "credit", "Debit", "", "debit\n"]), "amount": hostile_text, "currency": hostile_text})


@st.composite
def hostile_bodies(draw) -> bytes:
    kind = draw(st.sampled_from(["json", "json", "bytes", "nested", "oversized", "edge"]))
    if kind == "json":
        body = {"programId": draw(st.sampled_from(["prog_x", "p\n", "\u0440rog"])),
                "reason": draw(hostile_text),
                "entries": draw(st.lists(hostile_entry, max_size=4))}
        return json.dumps(body).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=2000))
    if kind == "nested":
        depth = draw(st.integers(min_value=100, max_value=30000))
        return b"[" * depth + b"]" * depth
    size = MAX_BODY_BYTES + 1 if kind == "edge" else draw(
        st.integers(min_value=MAX_BODY_BYTES + 1, max_value=4 * 1024 * 1024))
    return b'{"reason": "' + b"x" * size + b'"}'


def test_hostile_bodies_never_5xx_are_bounded_and_change_nothing(fuzz_target):
    db, url = fuzz_target["db"], fuzz_target["url"]
    seen: dict[int, int] = {}

    @settings(max_examples=60, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(body=hostile_bodies(), path=st.sampled_from(POST_PATHS),
           key=st.sampled_from([None, ADMIN_KEY, "wrong-key"]))
    def fuzz(body, path, key):
        before = snapshot(db)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        r = httpx.post(url + path, content=body, headers=headers, timeout=30)
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        INVARIANT_FIGURES["fuzz cases"] += 1
        INVARIANT_FIGURES["5xx seen"] += r.status_code >= 500
        assert r.status_code < 500, (path, r.status_code, r.text[:300])
        assert isinstance(r.json(), dict)
        if len(body) > MAX_BODY_BYTES:
            assert r.status_code == 413 and "64 KiB" in r.json()["error"]
        if r.status_code >= 400:
            assert snapshot(db) == before, (path, r.status_code)
            INVARIANT_FIGURES["rejected calls without a state change"] += 1
        audit = db.fetch_one("SELECT octet_length(coalesce(body::text, '')) AS n "
                             "FROM public.admin_audit_log ORDER BY id DESC LIMIT 1")
        assert audit["n"] <= MAX_BODY_BYTES * 2  # bounded (a JSON body may escape to 2x)
        if key != ADMIN_KEY and path != "/admin/queue/pause":
            assert audit["n"] < 2000  # refused before auth: a redacted summary only

    fuzz()
    assert seen.get(413) and (seen.get(422) or seen.get(401)), seen
