"""Ledger: balances per program and currency, imbalances down to the offending transactions,
force-reconcile, and the correcting-entry form."""

import streamlit as st

import console_kit as kit
from sge_recon.console import mark_balances, transaction_offsets
from sge_recon.errors import ReconError, UsageError

kit.page_header("Ledger", "Double-entry balances: every program and currency must have debits "
                          "equal to credits.",
                platform_data=True)
kit.api_banner()
kit.show_outcome("ledger")


@st.cache_data(ttl=10, show_spinner="Summing the ledger…")
def balances():
    # The checkpoint's totals plus the entries since (milliseconds at any size): kept as long as
    # the live verdict below (ledger_flags), so the sums and the verdict are of the same moment.
    return kit.service().now(), kit.service().ledger_balances()


@st.cache_data(ttl=60, show_spinner=False)
def program_accounts(program_id: str) -> list[str]:
    # a DISTINCT over the program's entries: not on every rerun of the form (an action clears it)
    return kit.service().corrections.accounts(program_id)


@st.cache_data(ttl=10, show_spinner=False)
def ledger_checks():
    return kit.service().ledger_check_results()


@st.cache_data(ttl=10, show_spinner=False)
def ledger_flags():
    # ledger_balance's verdict, computed now by the check (cheap: checkpoint + new entries)
    return kit.service().ledger_flags()


st.subheader("Balances per program and currency")
loaded = kit.load(balances, what="the ledger balances")
flags = kit.load(ledger_flags, what="the ledger_balance check")
rows = mark_balances(loaded[1], flags) if loaded and flags else loaded[1] if loaded else None
if rows is not None:
    left, right = st.columns([4, 1])
    left.caption(f"Summed at {kit.when(loaded[0], '%H:%M:%S')} (kept for 10 s).")
    if right.button("Sum again", key="resum_ledger"):
        balances.clear()
        st.rerun()
    if not rows:
        st.info("The ledger has no entries yet.")
    else:
        kit.table(rows, hide_index=True, key="balances_table")
        if flags is None or not flags.known:
            st.warning("No verdict: ledger_balance could not run"
                       + (f" ({flags.problem})." if flags else "."), icon=":material/help:")
        elif flags.count:
            st.error(f"{flags.count} program/currency pair(s) do not balance.",
                     icon=":material/error:")
        else:
            st.success("Every program and currency balances.", icon=":material/check_circle:")

st.subheader("Imbalances found by the checks")
checks = kit.load(ledger_checks, what="the stored ledger checks")
if checks is not None:
    if not checks:
        st.info("No stored ledger check yet: run `sge-recon check` or wait for the scheduler.")
    for name, result in checks.items():
        st.markdown(f"{kit.mark(result.status)} **{name}** — {result.status}, {result.failing_rows or 0} failing "
                    f"row(s)" + (kit.md_line(" · error: {}", result.error) if result.error else ""))
        if result.rows:
            kit.table(result.rows, hide_index=True, key=f"rows_{name}")

st.subheader("Offending transactions")
program_param = st.query_params.get("program")
pairs = [p for p in (flags.pairs if flags else [])
         if not program_param or p[0] == program_param]
if program_param:
    st.caption(f"Program **{kit.md(program_param)}** (from the address /ledger?program=…).")
    mine = [r for r in rows or [] if r["program_id"] == program_param]
    if mine:
        kit.table(mine, hide_index=True, key="program_balances")
    elif rows is not None:
        st.warning(f"No ledger entries for program {kit.md(repr(program_param))}.")
if pairs:
    pair = st.selectbox("Program / currency", pairs, format_func=lambda p: kit.shown_controls(f"{p[0]} · {p[1]}"),
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
            st.markdown(f"Entries of transaction **{kit.md(txn_id)}**")
            kit.table(entries, hide_index=True, key="txn_entries",
                      links={"program_id": ("ledger", "program"),
                             "intent_id": ("intents", "id")})
            off = transaction_offsets(entries)
            if off:
                st.error("Does not balance: debits − credits = "
                         + kit.money_by_currency(off), icon=":material/error:")
            else:
                st.success("Balances in every currency.", icon=":material/check_circle:")
        else:
            st.warning(f"No ledger entries with transaction id {kit.md(repr(txn_id))}.")

programs = kit.load(kit.service().programs, what="the programs") or []
program_ids = [p["id"] for p in programs]

st.subheader("Force reconcile")
st.caption("Asks the platform to run the ledger checks for one program now (admin API).")
if program_ids:
    program = st.selectbox("Program", program_ids, key="reconcile_program",
                           format_func=kit.shown_controls,
                           index=program_ids.index(program_param)
                           if program_param in program_ids else 0)
    reason = kit.why_not()
    if st.button("Force reconcile…", key="force_reconcile", disabled=bool(reason), help=reason):
        op = kit.operator()
        kit.ask_to_confirm("ledger", "Force reconcile",
                           kit.md_line("Run the ledger checks for program **{}** now?", program),
                           lambda op, program=program: kit.service().actions.force_reconcile(op, program),
                           target=f"program {program}")

st.subheader("Correcting entry")
desk = kit.service().corrections
proposal = None
unproposed = None  # why a transaction that does not balance has no proposal
if txn_id and program_ids:
    try:
        proposal = desk.propose(txn_id)
    except ReconError as exc:
        proposal = None  # balanced or unknown: nothing to complete
        if entries and transaction_offsets(entries):  # e.g. a NaN amount: said, not hidden
            unproposed = exc.message
if unproposed:
    st.warning(kit.md(unproposed), icon=":material/warning:")
if proposal is not None:
    st.caption(kit.md_line("Transaction **{}** does not balance. Proposed: post its missing "
                           "leg(s) against **{}**, so the transaction and program **{}** balance "
                           "and the amount stays visible until finance explains it. Edit before "
                           "posting if the right account is known.", txn_id, desk.suspense,
                           proposal.program_id))
else:
    st.caption("Writes one balanced journal transaction through the admin API; the reason is "
               "kept. To fix a one-sided transaction, open it above (its id, or a link from "
               "the offending transactions): the form then proposes its missing leg.")
if program_ids and kit.supports("ledger_correction") and kit.require_operator("correct"):
    completing = proposal.transaction_id if proposal else None
    program = proposal.program_id if proposal else st.selectbox(
        "Program", program_ids, key="correction_program", format_func=kit.shown_controls)
    accounts = kit.load(program_accounts, program, what="the program's accounts") or \
        [desk.suspense]
    proposed = [e.to_json() for e in proposal.entries] if proposal else []
    suffix = f"_{completing}" if completing else ""  # a proposal's fields start from it afresh
    with st.form(f"correction-{completing or 'new'}", clear_on_submit=False):
        reason = st.text_input("Reason", key=f"correction_reason{suffix}",
                               value=proposal.reason if proposal else "",
                               placeholder="what is corrected and why (kept with the entry)")
        entries = []
        for i in range(4):
            row = proposed[i] if i < len(proposed) else {}
            a, t, m, c = st.columns([3, 1.3, 1.5, 1])
            entries.append({
                "account": a.selectbox("Account", accounts, key=f"corr_account_{i}{suffix}",
                                       format_func=kit.shown_controls,
                                       index=accounts.index(row["account"])
                                       if row.get("account") in accounts else None,
                                       placeholder="choose an account"),
                "type": t.selectbox("Type", ["debit", "credit"], key=f"corr_type_{i}{suffix}",
                                    index=["debit", "credit"].index(row["type"]) if row
                                    else i % 2),
                "amount": m.text_input("Amount", key=f"corr_amount_{i}{suffix}",
                                       value=row.get("amount", ""), placeholder="0.00"),
                "currency": c.text_input("Currency", key=f"corr_currency_{i}{suffix}",
                                         value=row.get("currency", "USD")),
            })
        submitted = st.form_submit_button("Preview and post…")
    if submitted:
        try:
            # the operator: what they posted alone in the last 24 hours counts with this one
            parsed, lines, second = desk.preview(program, entries, completing, kit.operator())
            if not " ".join((reason or "").split()):
                raise UsageError("type the reason for the correction; it is kept with the entry")
        except ReconError as exc:
            st.error(f"Not sent: {exc.message}", icon=":material/warning:")
        else:
            op = kit.operator()
            # the Idempotency-Key belongs to the intended correction, kept by the library
            # (recon.correction_attempts): the same correction sent again while its outcome is
            # unknown — a second click, a retry after a timeout, a reloaded page — posts once
            legs = "\n".join(kit.md_line(f"- {e.type} account **{{}}** {{}}", e.account,
                                          kit.money(e.amount, e.currency)) for e in parsed)
            effect = "\n".join(kit.md_line(
                "- {} {}: debits − credits {} → **{}**", ln.scope, ln.currency,
                kit.money(ln.before, ln.currency), kit.money(ln.after, ln.currency))
                for ln in lines)
            who = (kit.md_line("\n\nA second admin is needed: {}. This records a "
                               "**request**; a second admin confirms it before it is posted.",
                               second.why) if second else "")
            kit.ask_to_confirm(
                "ledger", "Request a correction" if second else "Post a correcting entry",
                (kit.md_line("Complete transaction **{}**", completing) if completing
                 else "Post a new correcting transaction")
                + kit.md_line(" of program **{}**:\n\n", program)
                + f"{legs}\n\nDry run (before → after):\n\n{effect}\n\n"
                + kit.md_line("Reason: {}", reason) + who,
                lambda op, p=program, r=reason, rows=entries, t=completing:
                    desk.submit(op, p, r, rows, t),
                need="correct", target=f"transaction {completing}" if completing
                else f"program {program}")

waiting = kit.load(desk.pending, what="the corrections waiting") or []
if waiting:
    st.markdown("**Corrections waiting for a second admin**")
    kit.table([{"request": w["id"], "program_id": w["program_id"],
                "transaction_id": w["transaction_id"], "requested_by": w["requested_by"],
                "requested_at": w["requested_at"], "reason": w["reason"],
                "entries": "; ".join(f"{e['type']} {e['account']} {e['amount']} {e['currency']}"
                                     for e in w["entries"])} for w in waiting],
              hide_index=True, key="corrections_waiting")
    chosen = st.selectbox("Request", [w["id"] for w in waiting], index=None,
                          key="correction_request", placeholder="choose a request",
                          format_func=lambda i: f"#{i}")
    if chosen is not None and kit.require_operator("correct"):
        op, mine = kit.operator(), next(w for w in waiting if w["id"] == chosen)
        left, right = st.columns(2)
        own = mine["requested_by"] == op
        # a request made before the profile was switched may wait on a platform that has no
        # correction endpoint (SGE): it can only be withdrawn there
        unsupported = kit.service().action_unsupported("ledger_correction")
        if left.button(f"Confirm and post #{chosen}…", key="confirm_correction",
                       disabled=own or bool(unsupported),
                       help="You requested it: a second admin confirms" if own else
                       f"Not possible: {unsupported}" if unsupported else None):
            kit.ask_to_confirm("ledger", f"Confirm correction #{chosen}",
                               kit.md_line(f"Post correction request **#{chosen}** of {{}} to "
                                           "program **{}**?", mine["requested_by"],
                                           mine["program_id"]),
                               lambda op, i=chosen: desk.confirm(op, i), need="correct",
                               target=f"correction request #{chosen}")
        if right.button(f"Withdraw #{chosen}…", key="withdraw_correction"):
            kit.ask_to_confirm("ledger", f"Withdraw correction #{chosen}",
                               f"Withdraw request **#{chosen}** (nothing is posted)?",
                               lambda op, i=chosen: desk.withdraw(op, i), need="correct",
                               target=f"correction request #{chosen}")

kit.show_pending_dialog()
