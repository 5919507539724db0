"""Intents: the stuck list with how long each has been stuck, one intent by id (`/intents?id=`),
retry."""

import streamlit as st

import console_kit as kit

kit.page_header("Intents", "Settlement intents stuck in payment_pending / verifying / processing "
                           f"longer than {kit.settings().INTENT_TIMEOUT_MINUTES} min.",
                platform_data=True)
kit.api_banner()
kit.show_outcome("intents")


@st.cache_data(ttl=10, show_spinner=False)
def stuck():
    return kit.service().stuck_list()


def retry_button(intent_id: str, key: str) -> None:
    reason = kit.why_not()
    if kit.supports("retry_intent") and st.button(kit.md_line("Retry intent {}…", intent_id), key=key,
                                                   disabled=bool(reason), help=reason):
        kit.ask_to_confirm("intents", "Retry intent",
                           kit.md_line("Re-enqueue intent **{}** for processing? (Idempotent: "
                                       "at most one waiting job.)", intent_id),
                           lambda op: kit.service().actions.retry_intent(op, intent_id),
                           target=f"intent {intent_id}")


st.subheader("Stuck intents")
found = kit.load(stuck, what="the stuck intents")
rows = found.rows if found is not None else None
if found is not None:
    # the check stuck_intents' verdict: its failing rows, exact count, fail count and money
    if found.unknown:
        st.warning(f"Unknown: {found.unknown}.", icon=":material/help:")
    elif not rows:
        st.success("No stuck intent.", icon=":material/check_circle:")
    else:
        st.markdown(f"**{found.count}** stuck, **{found.past_fail}** past "
                    f"{kit.settings().INTENT_STUCK_FAIL_MINUTES} min, money at stake "
                    f"**{kit.money_by_currency(found.money, apart=found.money_apart)}**.")
        if found.count > len(rows):
            st.caption(f"The oldest {len(rows):,} of {found.count:,}.")
        for r in rows:
            r["stuck_minutes"] = round(int(r["stuck_seconds"]) / 60, 1)
        kit.table(rows, hide_index=True, key="stuck_table",
                  column_order=["intent_id", "program_id", "status", "retry", "retried_by",
                                "retried_at", "amount", "currency", "stuck_minutes", "attempts",
                                "last_error", "user_id"])
        scheduled = sum(1 for r in rows if r["retry"])
        if scheduled:
            st.caption(f"{scheduled} of them retried from the console: listed until they really "
                       "complete.")

st.subheader("Intent")
intent_id = kit.pick("Intent", [r["intent_id"] for r in rows or []], key="stuck_choice",
                     help="A stuck intent, or any intent by its id (the page's address "
                          "/intents?id=… opens it directly).")
st.text_input("Or search by id", key="intent_search", placeholder="e.g. int_000123",
              on_change=kit.search_to_param, args=("intent_search", "id"))
if intent_id:
    detail = kit.load(kit.service().intent_detail, intent_id, what="the intent")
    if detail is None:
        st.warning(f"No intent with id {kit.md(repr(intent_id))}.")
    else:
        info = detail["intent"]
        st.markdown(f"**{kit.md(info['intent_id'])}** · {kit.md(info['status'])} · "
                    f"{kit.money(info['amount'], info['currency'])} · program "
                    f"{kit.md(info['program_id'])} · attempts {info['attempts']}")
        st.page_link("views/ledger.py", label=kit.md_line("Ledger of program {}", info["program_id"]),
                     query_params={"program": info["program_id"]},
                     icon=":material/account_balance:")
        if info["last_error"]:
            st.caption(f"Last error: {kit.md(info['last_error'])}")
        waiting = [j for j in detail["jobs"] if j["status"] in ("waiting", "delayed", "active")]
        if info["status"] != "completed" and waiting:
            st.info(f"Retry scheduled: a {waiting[0]['status']} job (run at "
                    f"{kit.when(waiting[0]['run_at'])}); it is still {info['status']} until "
                    "it really completes.", icon=":material/schedule:")
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
            retry_button(info["intent_id"], "retry_stuck")

kit.show_pending_dialog()
