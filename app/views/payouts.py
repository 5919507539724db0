"""Payouts: pending batches with the SLA clock and approval state; approve (two people, each
with their own key typed here and never stored); execute."""

import streamlit as st

import console_kit as kit

sla = kit.settings().PAYOUT_SLA_HOURS
approvals = ("one approval by someone other than its creator" if kit.service().admin_api == "sge"
             else "two approvals")
kit.page_header("Payouts", f"Batches need {approvals} and execution within {sla} h "
                           "(approval SLA from creation, execution SLA from approval).")
kit.api_banner()
kit.show_outcome("payouts")

if st.session_state.pop("clear_approver_key", False):
    st.session_state["approver_key"] = ""


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
        kit.table(rows, hide_index=True, key="open_batches",
                     column_order=["batch_id", "program_id", "status", "approvals", "approvers",
                                   "affiliate_count", "total_amount", "sla_left_hours",
                                   "created_at", "approved_at"])
        if kit.require_operator():
            batch = st.selectbox("Batch", [r["batch_id"] for r in rows], key="batch_choice")
            chosen = next(r for r in rows if r["batch_id"] == batch)
            left, right = st.columns(2)
            sge = kit.service().admin_api == "sge"
            with left:
                if sge:
                    st.markdown("**Approve** (as you)")
                    st.caption(f"The SGE API approves as the operator (X-Admin-Id: "
                               f"{kit.operator()}), who must not be the batch's creator.")
                    key = ""
                else:
                    st.markdown("**Approve** (approver key)")
                    key = st.text_input("Your approver key", type="password", key="approver_key",
                                        help="Used for this one request; never stored or logged.")
                if st.button("Approve…", key="approve_batch",
                             disabled=chosen["status"] != "pending_approval"):
                    op, typed = kit.operator(), key
                    st.session_state["clear_approver_key"] = True

                    kit.ask_to_confirm(
                        "payouts", "Approve payout batch",
                        f"Approve batch **{batch}** ({kit.money(chosen['total_amount'])} to "
                        f"{chosen['affiliate_count']} affiliates) with your approver key? It "
                        f"has {chosen['approvals']} approvals.",
                        lambda: kit.service().actions.approve_batch(op, batch, typed))
            with right:
                st.markdown("**Execute** (as you)" if sge else "**Execute** (admin key)")
                st.caption("Only an approved batch can be executed, exactly once.")
                if st.button("Execute…", key="execute_batch", type="primary",
                             disabled=chosen["status"] != "approved"):
                    op = kit.operator()
                    kit.ask_to_confirm(
                        "payouts", "Execute payout batch",
                        f"Pay batch **{batch}**: {kit.money(chosen['total_amount'])} to "
                        f"{chosen['affiliate_count']} affiliates? This moves money.",
                        lambda: kit.service().actions.execute_batch(op, batch))

st.subheader("Recent batches")
recent = kit.load(recent_batches, what="the recent batches")
if recent is not None:
    kit.table(recent, hide_index=True, key="recent_batches")

kit.show_pending_dialog()
