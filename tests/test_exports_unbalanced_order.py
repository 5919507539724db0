"""The sample of unbalanced transactions (`export verify`'s report lines, the export's
spanning_transactions) is in one order whatever the connection: by transaction, currency and
program. Ordered by transaction and currency alone, a transaction unbalanced in two programs came
out in either order, so the bounded path (one thread) and its fallback (unbounded, every core)
wrote different reports for the same files, as did two runs unbounded."""

from __future__ import annotations

from contextlib import closing


def test_a_transaction_unbalanced_in_two_programs_is_sampled_in_one_order(tmp_path):
    import duckdb

    from sge_recon.db import exports as store

    with duckdb.connect() as con:  # 1,000 transactions, each unbalanced in pB and in pA
        con.execute(
            "COPY (SELECT i AS id, CASE WHEN i % 4 < 2 THEN 'pB' ELSE 'pA' END AS program_id, "
            "'t' || lpad((i // 4)::VARCHAR, 5, '0') AS transaction_id, 'treasury' AS account, "
            "CASE WHEN i % 2 = 0 THEN 'debit' ELSE 'credit' END AS type, "
            "(CASE i % 4 WHEN 1 THEN 4 WHEN 3 THEN 3 ELSE 5 END)::DECIMAL(38,6) AS amount, "
            f"'USD' AS currency FROM range(4000) t(i)) TO '{tmp_path / 'ledger.parquet'}' "
            "(FORMAT parquet, ROW_GROUP_SIZE 100)")
    path = store.in_folder(tmp_path, "ledger.parquet")
    with store.bounded_audit_db(tmp_path) as bounded:
        samples = [store.unbalanced(bounded, path, 6)]
    for _ in range(3):
        with closing(store.open_audit_db(tmp_path)) as unbounded:
            samples.append(store.unbalanced(unbounded, path, 6))
    expected = [(f"t0000{n}", p) for n in range(3) for p in ("pA", "pB")]
    for count, rows in samples:
        assert count == 2000
        assert [(r["transaction_id"], r["program_id"]) for r in rows] == expected
