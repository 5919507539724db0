"""Intents: the stuck list with how long each has been stuck, search by id, retry."""

import streamlit as st

import console_kit as kit

kit.page_header("Intents", "Settlement intents stuck in payment_pending / verifying / processing "
                           f"longer than {kit.settings().INTENT_TIMEOUT_MINUTES} min.")
kit.api_banner()
kit.show_outcome("intents")


@st.cache_data(ttl=10, show_spinner=False)
def stuck():
    return kit.service().stuck_intents()


def retry_button(intent_id: str, key: str) -> None:
    if kit.supports("retry_intent") and kit.require_operator() and st.button(f"Retry intent {intent_id}…", key=key):
        op = kit.operator()
        kit.ask_to_confirm("intents", "Retry intent",
                           f"Re-enqueue intent **{intent_id}** for processing? (Idempotent: at "
                           "most one waiting job.)",
                           lambda: kit.service().actions.retry_intent(op, intent_id))


st.subheader("Stuck intents")
rows = kit.load(stuck, what="the stuck intents")
if rows is not None:
    if not rows:
        st.success("No stuck intent.", icon=":material/check_circle:")
    else:
        fail_after = kit.settings().INTENT_STUCK_FAIL_MINUTES * 60
        over = sum(1 for r in rows if r["stuck_seconds"] > fail_after)
        st.markdown(f"**{len(rows)}** stuck, **{over}** past "
                    f"{kit.settings().INTENT_STUCK_FAIL_MINUTES} min, money at stake "
                    f"**{kit.money(sum(r['amount'] for r in rows))}**.")
        for r in rows:
            r["stuck_minutes"] = round(int(r["stuck_seconds"]) / 60, 1)
        kit.table(rows, hide_index=True, key="stuck_table",
                     column_order=["intent_id", "program_id", "status", "amount", "currency",
                                   "stuck_minutes", "attempts", "last_error", "user_id"])
        chosen = st.selectbox("Intent to retry", [r["intent_id"] for r in rows],
                              key="stuck_choice")
        retry_button(chosen, "retry_stuck")

st.subheader("Search by id")
intent_id = st.text_input("Intent id", key="intent_search", placeholder="e.g. int_000123")
if intent_id.strip():
    detail = kit.load(kit.service().intent_detail, intent_id, what="the intent")
    if detail is None:
        st.warning(f"No intent with id {intent_id.strip()!r}.")
    else:
        info = detail["intent"]
        st.markdown(f"**{info['intent_id']}** · {info['status']} · {kit.money(info['amount'])} "
                    f"{info['currency']} · program {info['program_id']} · attempts "
                    f"{info['attempts']}")
        if info["last_error"]:
            st.caption(f"Last error: {info['last_error']}")
        st.json({k: str(v) for k, v in info.items()}, expanded=False)
        st.markdown("Jobs")
        kit.table(detail["jobs"], hide_index=True, key="intent_jobs")
        if detail["settlement"]:
            st.markdown("Settlement")
            kit.table([detail["settlement"]], hide_index=True, key="intent_settlement")
        if detail["entries"]:
            st.markdown("Ledger entries")
            kit.table(detail["entries"], hide_index=True, key="intent_entries")
        if detail["actions"]:
            st.markdown("Console actions on this intent")
            kit.table(detail["actions"], hide_index=True, key="intent_actions")
        if info["status"] != "completed":
            retry_button(info["intent_id"], "retry_searched")

kit.show_pending_dialog()
