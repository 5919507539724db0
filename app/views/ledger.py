"""Ledger: balances per program and currency, imbalances down to the offending transactions,
force-reconcile, and the correcting-entry form."""

import streamlit as st

import console_kit as kit

kit.page_header("Ledger", "Double-entry balances: every program and currency must have debits "
                          "equal to credits.")
kit.api_banner()
kit.show_outcome("ledger")


@st.cache_data(ttl=300, show_spinner="Summing the whole ledger…")
def balances():
    # A whole-ledger aggregate (seconds on millions of entries): kept five minutes; the live
    # verdict comes from the checks below.
    return kit.service().now(), kit.service().ledger_balances()


@st.cache_data(ttl=10, show_spinner=False)
def ledger_checks():
    return kit.service().ledger_check_results()


st.subheader("Balances per program and currency")
loaded = kit.load(balances, what="the ledger balances")
rows = loaded[1] if loaded else None
if rows is not None:
    left, right = st.columns([4, 1])
    left.caption(f"Summed at {kit.when(loaded[0], '%H:%M:%S')} (kept for 5 minutes).")
    if right.button("Sum again", key="resum_ledger"):
        balances.clear()
        st.rerun()
    if not rows:
        st.info("The ledger has no entries yet.")
    else:
        kit.table(rows, hide_index=True, key="balances_table")
        off = [r for r in rows if r["difference"] != 0]
        if off:
            st.error(f"{len(off)} program/currency pair(s) do not balance.", icon=":material/error:")
        else:
            st.success("Every program and currency balances.", icon=":material/check_circle:")

st.subheader("Imbalances found by the checks")
checks = kit.load(ledger_checks, what="the stored ledger checks")
if checks is not None:
    if not checks:
        st.info("No stored ledger check yet: run `sge-recon check` or wait for the scheduler.")
    for name, result in checks.items():
        st.markdown(f"{kit.mark(result.status)} **{name}** — {result.status}, {result.failing_rows or 0} failing "
                    f"row(s)" + (f" · error: {result.error}" if result.error else ""))
        if result.rows:
            kit.table(result.rows, hide_index=True, key=f"rows_{name}")

st.subheader("Offending transactions")
program_param = st.query_params.get("program")
pairs = [(r["program_id"], r["currency"]) for r in rows or [] if r["difference"] != 0
         and (not program_param or r["program_id"] == program_param)]
if program_param:
    st.caption(f"Program **{program_param}** (from the address /ledger?program=…).")
    mine = [r for r in rows or [] if r["program_id"] == program_param]
    if mine:
        kit.table(mine, hide_index=True, key="program_balances")
    elif rows is not None:
        st.warning(f"No ledger entries for program {program_param!r}.")
if pairs:
    pair = st.selectbox("Program / currency", pairs, format_func=lambda p: f"{p[0]} · {p[1]}",
                        key="imbalance_pair")
    txns = kit.load(kit.service().unbalanced_transactions, *pair, what="the transactions")
    if txns is not None:
        kit.table(txns, hide_index=True, key="unbalanced_txns")
else:
    st.caption("None: no program/currency is out of balance.")

st.subheader("Transaction")
st.text_input("Show the entries of a transaction", key="txn_id", placeholder="transaction id",
              on_change=kit.search_to_param, args=("txn_id", "transaction"))
txn_id = st.query_params.get("transaction")
if txn_id:
    entries = kit.load(kit.service().transaction_entries, txn_id, what="the entries")
    if entries is not None:
        if entries:
            st.markdown(f"Entries of transaction **{txn_id}**")
            kit.table(entries, hide_index=True, key="txn_entries",
                      links={"program_id": ("ledger", "program"),
                             "intent_id": ("intents", "id")})
            by_currency = {}
            for e in entries:
                sign = 1 if e["type"] == "debit" else -1
                by_currency[e["currency"]] = by_currency.get(e["currency"], 0) + sign * e["amount"]
            off = {c: d for c, d in by_currency.items() if d != 0}
            if off:
                st.error("Does not balance: debits − credits = "
                         + kit.money_by_currency(off), icon=":material/error:")
            else:
                st.success("Balances in every currency.", icon=":material/check_circle:")
        else:
            st.warning(f"No ledger entries with transaction id {txn_id!r}.")

programs = kit.load(kit.service().programs, what="the programs") or []
program_ids = [p["id"] for p in programs]

st.subheader("Force reconcile")
st.caption("Asks the platform to run the ledger checks for one program now (admin API).")
if program_ids:
    program = st.selectbox("Program", program_ids, key="reconcile_program",
                           index=program_ids.index(program_param)
                           if program_param in program_ids else 0)
    reason = kit.why_not()
    if st.button("Force reconcile…", key="force_reconcile", disabled=bool(reason), help=reason):
        op = kit.operator()
        kit.ask_to_confirm("ledger", "Force reconcile",
                           f"Run the ledger checks for program **{program}** now?",
                           lambda op=op, program=program: kit.service().actions.force_reconcile(op, program),
                           target=f"program {program}")

st.subheader("Correcting entry")
st.caption("Writes one balanced journal transaction through the admin API; the reason is kept. "
           "Debits must equal credits per currency.")
if program_ids and kit.supports("ledger_correction") and kit.require_operator("correct"):
    with st.form("correction", clear_on_submit=False):
        program = st.selectbox("Program", program_ids, key="correction_program")
        reason = st.text_input("Reason", key="correction_reason",
                               placeholder="what is corrected and why (kept with the entry)")
        entries = []
        for i in range(4):
            a, t, m, c = st.columns([3, 1.3, 1.5, 1])
            entries.append({
                "account": a.text_input("Account", key=f"corr_account_{i}",
                                        placeholder="treasury" if i == 0 else ""),
                "type": t.selectbox("Type", ["debit", "credit"], index=i % 2,
                                    key=f"corr_type_{i}"),
                "amount": m.text_input("Amount", key=f"corr_amount_{i}", placeholder="0.00"),
                "currency": c.text_input("Currency", key=f"corr_currency_{i}", value="USD"),
            })
        submitted = st.form_submit_button("Post correction…")
    if submitted:
        from sge_recon.console import parse_correction
        from sge_recon.errors import ReconError

        try:
            why, parsed = parse_correction(reason, entries)
        except ReconError as exc:
            st.error(f"Not sent: {exc.message}", icon=":material/warning:")
        else:
            op = kit.operator()
            lines = "\n".join(f"- {e.type} `{e.account}` {e.amount} {e.currency}" for e in parsed)
            kit.ask_to_confirm("ledger", "Post a correcting entry",
                               f"Post this correction to **{program}**?\n\n{lines}\n\n"
                               f"Reason: {why}",
                               lambda op=op, program=program, why=why, parsed=parsed: kit.service().actions.ledger_correction(
                                   op, program, why, parsed),
                               need="correct", target=f"program {program}")

kit.show_pending_dialog()
