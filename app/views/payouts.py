"""Payouts: pending batches with the SLA clock and approval state; one batch (`/payouts?id=`) with
its line items (affiliates, amounts, currency, the commissions behind each line, the total checked
against them); approve (the signed-in approver, with the key its account is bound to); execute
(admin)."""

import streamlit as st

import console_kit as kit

sla = kit.settings().PAYOUT_SLA_HOURS
approvals = ("one approval by someone other than its creator" if kit.service().admin_api == "sge"
             else "two approvals")
kit.page_header("Payouts", f"Batches need {approvals} and execution within {sla} h "
                           "(approval SLA from creation, execution SLA from approval).",
                platform_data=True)
kit.api_banner()
kit.show_outcome("payouts")


@st.cache_data(ttl=10, show_spinner=False)
def open_batches():
    return kit.service().open_payout_batches()


@st.cache_data(ttl=30, show_spinner=False)
def recent_batches():
    return kit.service().recent_payout_batches()


st.subheader("Pending batches")
rows = kit.load(open_batches, what="the payout batches")
if rows is not None:
    if not rows:
        st.success("No batch waiting for approval or execution.", icon=":material/check_circle:")
    else:
        breached = [r for r in rows if r["sla_breached"]]
        if breached:
            st.error(f"{len(breached)} batch(es) past the {sla} h SLA.", icon=":material/alarm:")
        nan = kit.unstated(rows, "total_amount")
        st.markdown("Waiting to be paid: **"
                    + kit.money_by_currency(kit.totals_by_currency(rows, "total_amount"))
                    + "**" + (f" and **{nan}** batch(es) whose total is not a number (NaN) or "
                              "infinite" if nan else ""))
        kit.table(rows, hide_index=True, key="open_batches",
                  column_order=["batch_id", "program_id", "status", "approvals", "approvers",
                                "affiliate_count", "total_amount", "currency", "sla_left_hours",
                                "created_at", "approved_at"])

st.subheader("Batch")
batch_id = kit.pick("Batch", [r["batch_id"] for r in rows or []], key="batch_choice",
                    help="Pick a pending batch, or open any batch by its address "
                         "/payouts?id=…")
st.text_input("Or open a batch by id", key="batch_search", on_change=kit.search_to_param,
              args=("batch_search", "id"))
if batch_id:
    found = kit.load(kit.service().payout_batch, batch_id, what="the batch")
    if found is None:
        st.warning(f"No payout batch with id {kit.md(repr(batch_id))}.")
    else:
        batch, currency = found["batch"], found["batch"]["currency"]
        st.markdown(f"**{kit.md(batch['batch_id'])}** · {kit.md(batch['status'])} · program "
                    f"{kit.md(batch['program_id'])} · **{kit.money(batch['total_amount'], currency)}** "
                    f"to {batch['affiliate_count']} affiliates · approvals "
                    f"{batch['approvals']}"
                    + (f" ({kit.md(', '.join(batch['approvers']))})" if batch["approvers"] else ""))
        if found["consistent"]:
            st.success(f"Checked: the {len(found['lines'])} lines add up to the batch total "
                       f"{kit.money(found['lines_total'], currency)} and its affiliate count.",
                       icon=":material/fact_check:")
        else:
            st.error("This batch does not add up: " + kit.md("; ".join(found["problems"]))
                     + ". Do not approve or execute it before finding out why.",
                     icon=":material/report:")
        st.markdown("**Line items** (one per affiliate)")
        # where the platform keeps line items of its own (SGE's "Payout"), what it pays each
        # affiliate stands beside the commissions that say what it should pay
        kit.table([{"affiliate_id": line["affiliate_id"], "code": line["affiliate_code"],
                    "amount": line["amount"], "currency": line["currency"],
                    **({"platform pays": line["platform_pays"]}
                       if found["items"] is not None else {}),
                    "commissions": line["commissions"],
                    "commission ids": line["commission_ids"]} for line in found["lines"]],
                  hide_index=True, key="batch_lines")
        with st.expander(f"The {len(found['commissions'])} commissions behind the lines"):
            kit.table(found["commissions"], hide_index=True, key="batch_commissions")

        bid, total = batch["batch_id"], kit.money(batch["total_amount"], currency)
        who = kit.account()
        gate = kit.load(kit.service().payout_breaker, bid, what="the payout circuit breaker")
        if gate is not None and gate.held:
            st.error(kit.md_line("Execution refused: {}.", gate.reason), icon=":material/block:")
            if gate.overrides:
                kit.table([{"override": o["id"], "requested_by": o["requested_by"],
                            "reason": o["reason"], "requested_at": o["requested_at"],
                            "confirmed_by": o["confirmed_by"] or "", "used_at": o["used_at"]}
                           for o in gate.overrides], hide_index=True, key="breaker_overrides")
            if gate.ready_override:
                st.warning(f"Override #{gate.ready_override['id']} is confirmed: the next "
                           "execution goes through once.", icon=":material/key:")
            admin_reason = kit.why_not("execute")
            why = st.text_input("Reason for an override", key="override_reason",
                                disabled=bool(admin_reason),
                                placeholder="why this batch must be paid despite the ledger")
            if st.button("Request override…", key="request_override",
                         disabled=bool(admin_reason), help=admin_reason):
                op = kit.operator()
                kit.ask_to_confirm(
                    "payouts", "Request a breaker override",
                    kit.md_line("Request an override for batch **{}** (a different admin must "
                                "confirm it)?\n\n> {}", bid, why),
                    lambda op, bid=bid, why=why:
                        kit.service().actions.request_breaker_override(op, bid, why),
                    need="execute", target=f"batch {bid}")
            me = who.name if who else None
            for o in gate.overrides:
                if o["confirmed_by"] or o["used_at"]:
                    continue
                no = admin_reason or ("you requested it: a different admin must confirm"
                                      if o["requested_by"] == me else None)
                if st.button(f"Confirm override #{o['id']}…", key=f"confirm_override_{o['id']}",
                             disabled=bool(no), help=no):
                    op = kit.operator()
                    kit.ask_to_confirm(
                        "payouts", "Confirm a breaker override",
                        kit.md_line(f"Confirm override **#{o['id']}** by {{}} for batch **{{}}** "
                                    "({}): the batch may then be executed once?",
                                    o["requested_by"], bid, o["reason"]),
                        lambda op, oid=o["id"]:
                            kit.service().actions.confirm_breaker_override(op, oid),
                        need="execute", target=f"override #{o['id']}")
        left, right = st.columns(2)
        with left:
            st.markdown("**Approve** (approver account)")
            reason = kit.why_not("approve")
            if reason is None and batch["status"] != "pending_approval":
                reason = kit.md_line("the batch is {}, not pending approval", batch["status"])
            if reason is None and not found["consistent"]:
                reason = "the batch does not add up (see above)"
            if kit.service().admin_api == "sge":
                st.caption(kit.md_line("The SGE API approves as your SGE admin id **{}** ",
                                       who.platform_id) +
                           "(X-Admin-Id), which must not be the batch's creator; one approval."
                           if who and who.platform_id else
                           "The SGE API approves as the account's SGE admin id (X-Admin-Id), "
                           "which this account does not have: an admin sets it with `sge-recon "
                           "users set-platform-id NAME ID`.")
            else:
                st.caption(f"As **{who.name}** with approver key {who.approver_slot}: the "
                           "console uses your key; nobody types one." if who and
                           who.approver_slot else "Two different approver accounts must approve.")
            if st.button("Approve…", key="approve_batch", disabled=bool(reason), help=reason):
                account = who
                kit.ask_to_confirm(
                    "payouts", "Approve payout batch",
                    kit.md_line(f"Approve batch **{{}}**: {{}} to {batch['affiliate_count']} "
                                "affiliates, as **{}** ", bid, total, account.name)
                    + (kit.md_line("(SGE admin id {})? ", account.platform_id)
                       if kit.service().admin_api == "sge" else
                       f"(approver key {account.approver_slot})? ") +
                    kit.md_line("It has {} approvals.", batch["approvals"]),
                    lambda op, bid=bid, shown=batch["total_amount"],
                    count=batch["affiliate_count"]:
                        kit.service().approve_batch_as(kit.account(), bid, shown, count),
                    need="approve", target=f"batch {bid}")
        with right:
            st.markdown("**Execute** (admin account)")
            st.caption("Only an approved batch can be executed, exactly once.")
            reason = kit.why_not("execute")
            if reason is None and batch["status"] != "approved":
                reason = kit.md_line("the batch is {}, not approved", batch["status"])
            if reason is None and not found["consistent"]:
                reason = "the batch does not add up (see above)"
            if reason is None and gate is not None and gate.held and not gate.ready_override:
                reason = gate.reason
            if st.button("Execute…", key="execute_batch", type="primary", disabled=bool(reason),
                         help=reason):
                op = kit.operator()
                kit.ask_to_confirm(
                    "payouts", "Execute payout batch",
                    kit.md_line(f"Pay batch **{{}}**: {{}} to {batch['affiliate_count']} "
                                "affiliates? This moves money.", bid, total),
                    lambda op, bid=bid, shown=batch["total_amount"],
                    count=batch["affiliate_count"]:
                        kit.service().execute_batch_as_shown(op, bid, shown, count),
                    need="execute", target=f"batch {bid}")

st.subheader("Recent batches")
recent = kit.load(recent_batches, what="the recent batches")
if recent is not None:
    kit.table(recent, hide_index=True, key="recent_batches")

kit.show_pending_dialog()
