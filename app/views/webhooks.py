"""Webhooks: failing deliveries (attempts, error, next retry), one delivery (`/webhooks?id=`) with
its payload, endpoint health, retry."""

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

st.subheader("Delivery")
delivery_id = kit.pick("Delivery", [r["delivery_id"] for r in rows or []],
                       key="delivery_choice", help="A failing delivery, or any delivery by its "
                                                   "address /webhooks?id=…")
st.text_input("Or open a delivery by id", key="delivery_search", on_change=kit.search_to_param,
              args=("delivery_search", "id"))
if delivery_id:
    found = kit.load(kit.service().delivery, delivery_id, what="the delivery")
    if found is None:
        st.warning(f"No webhook delivery with id {delivery_id!r}.")
    else:
        st.markdown(f"**{found['delivery_id']}** · {found['status']} · {found['event_type']} · "
                    f"{found['attempt_count']} attempt(s) · endpoint {found['endpoint_id']} "
                    f"({found['url'] or 'unknown URL'})")
        if found["last_error"]:
            st.caption(f"Last error ({kit.when(found['last_attempt_at'])}): "
                       f"{found['last_error']}")
        if found["next_retry_at"]:
            st.caption(f"Next attempt at {kit.when(found['next_retry_at'])}.")
        with st.expander("Payload"):
            st.json(found["payload"] or {}, expanded=True)
        reason = kit.why_not()
        if reason is None and found["status"] == "delivered":
            reason = "the delivery was delivered"
        if kit.supports("retry_webhook") and st.button("Retry delivery…", key="retry_webhook",
                                                       disabled=bool(reason), help=reason):
            op, target = kit.operator(), found["delivery_id"]
            kit.ask_to_confirm("webhooks", "Retry webhook delivery",
                               f"Schedule an immediate new attempt of delivery **{target}**?",
                               lambda op=op, target=target: kit.service().actions.retry_webhook(op, target),
                               target=f"delivery {target}")

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
