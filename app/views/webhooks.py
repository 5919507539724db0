"""Webhooks: failing deliveries (attempts, error, next retry), endpoint health, retry."""

import streamlit as st

import console_kit as kit

kit.page_header("Webhooks", "Deliveries are retried at 0, +1, +5, +15 min and +1 h, then give up "
                            "(failed); an endpoint failing for 24 h is disabled.")
kit.stop_if_platform_lacks("webhook_deliveries", "webhook_endpoints")
kit.api_banner()
kit.show_outcome("webhooks")


@st.cache_data(ttl=10, show_spinner=False)
def failing():
    return kit.service().failing_deliveries()


@st.cache_data(ttl=30, show_spinner=False)
def endpoints():
    return kit.service().endpoint_health()


st.subheader("Failing deliveries")
rows = kit.load(failing, what="the failing deliveries")
if rows is not None:
    if not rows:
        st.success("No failing delivery.", icon=":material/check_circle:")
    else:
        exhausted = sum(1 for r in rows if r["status"] == "failed")
        st.markdown(f"**{len(rows) - exhausted}** waiting for a retry, **{exhausted}** gave up.")
        kit.table(rows, hide_index=True, key="failing_deliveries",
                     column_order=["delivery_id", "status", "attempt_count", "last_error",
                                   "next_retry_at", "endpoint_id", "event_type", "url",
                                   "last_attempt_at"])
        if kit.supports("retry_webhook") and kit.require_operator():
            delivery = st.selectbox("Delivery to retry", [r["delivery_id"] for r in rows],
                                    key="delivery_choice")
            if st.button("Retry delivery…", key="retry_webhook"):
                op = kit.operator()
                kit.ask_to_confirm("webhooks", "Retry webhook delivery",
                                   f"Schedule an immediate new attempt of delivery "
                                   f"**{delivery}**?",
                                   lambda: kit.service().actions.retry_webhook(op, delivery))

st.subheader("Endpoint health")
eps = kit.load(endpoints, what="the endpoints")
if eps is not None:
    if not eps:
        st.info("No webhook endpoint is registered.")
    else:
        kit.table(eps, hide_index=True, key="endpoint_health",
                     column_order=["endpoint_id", "health", "consecutive_failures",
                                   "failing_since", "last_success_at", "exhausted", "enabled",
                                   "program_id", "url"])

kit.show_pending_dialog()
