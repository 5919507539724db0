"""Webhooks: failing deliveries (attempts, error, next retry); every delivery filtered by endpoint,
status, event type and time; one delivery (`/webhooks?id=`) with its payload and every attempt;
endpoint health with disable/enable; retry one, or recover a time range."""

from datetime import date, datetime, time, timedelta, timezone

import streamlit as st

import console_kit as kit

kit.page_header("Webhooks", "Deliveries are retried at 0, +1, +5, +15 min and +1 h, then give up "
                            "(failed); an endpoint failing for 24 h is disabled.",
                platform_data=True)
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

st.subheader("All deliveries")
choices = kit.load(kit.service().webhooks.filter_choices, what="the filters") or \
    {"endpoints": [], "event_types": []}
ANY = "any"
f1, f2, f3, f4 = st.columns([2, 2, 2, 3])
endpoint_filter = f1.selectbox("Endpoint", [ANY] + choices["endpoints"], key="filter_endpoint",
                               format_func=kit.shown_controls)
status_filter = f2.selectbox("Status", [ANY, "failed", "retry_scheduled", "pending", "delivered"],
                             key="filter_status")
event_filter = f3.selectbox("Event type", [ANY] + choices["event_types"], key="filter_event",
                            format_func=kit.shown_controls)
today = kit.service().now().date()  # the console's clock (the database's), as the deliveries'
period = f4.date_input("Created (UTC days)", value=(today - timedelta(days=7), today),
                       max_value=today, key="filter_days")


def day_range(value) -> tuple[datetime | None, datetime | None]:
    """The picked days as [first day 00:00, day after the last 00:00) in UTC."""
    days = list(value) if isinstance(value, (list, tuple)) else [value]
    days = [d for d in days if isinstance(d, date)]
    if not days:
        return None, None
    start = datetime.combine(days[0], time(), tzinfo=timezone.utc)
    end = datetime.combine(days[-1], time(), tzinfo=timezone.utc) + timedelta(days=1)
    return start, end


since, until = day_range(period)
found_rows = kit.load(lambda: kit.service().webhooks.deliveries(
    endpoint_id=None if endpoint_filter == ANY else endpoint_filter,
    status=None if status_filter == ANY else status_filter,
    event_type=None if event_filter == ANY else event_filter, since=since, until=until),
    what="the deliveries")
if found_rows is not None:
    st.caption(f"{len(found_rows)} deliveries (newest first, at most 200).")
    kit.table(found_rows, hide_index=True, key="all_deliveries",
              column_order=["delivery_id", "status", "event_type", "endpoint_id", "program_id",
                            "attempt_count", "last_error", "created_at", "last_attempt_at",
                            "next_retry_at"])
    reason = kit.why_not()
    if kit.supports("retry_webhook") and st.button(
            "Recover failed deliveries in this range…", key="recover_deliveries",
            disabled=bool(reason) or since is None, help=reason or
            "Re-sends every failed or retry-waiting delivery of the chosen endpoint (or all) "
            "created in the chosen days; each is its own retry, recorded."):
        op = kit.operator()
        endpoint = None if endpoint_filter == ANY else endpoint_filter
        where = kit.md_line("endpoint **{}**", endpoint) if endpoint else "**every endpoint**"
        kit.ask_to_confirm(
            "webhooks", "Recover failed deliveries",
            f"Re-send the failed and retry-waiting deliveries of {where} created from "
            f"**{since:%Y-%m-%d}** to **{until - timedelta(days=1):%Y-%m-%d}** (UTC)?",
            lambda op, e=endpoint, a=since, b=until:
                kit.service().actions.recover_deliveries(op, e, a, b),
            target=f"{endpoint or 'all endpoints'}, {since:%Y-%m-%d}…"
                   f"{until - timedelta(days=1):%Y-%m-%d}")

st.subheader("Delivery")
delivery_id = kit.pick("Delivery", [r["delivery_id"] for r in rows or []],
                       key="delivery_choice", help="A failing delivery, or any delivery by its "
                                                   "address /webhooks?id=…")
st.text_input("Or open a delivery by id", key="delivery_search", on_change=kit.search_to_param,
              args=("delivery_search", "id"))
if delivery_id:
    found = kit.load(kit.service().delivery, delivery_id, what="the delivery")
    if found is None:
        st.warning(f"No webhook delivery with id {kit.md(repr(delivery_id))}.")
    else:
        st.markdown(f"**{kit.md(found['delivery_id'])}** · {kit.md(found['status'])} · "
                    f"{kit.md(found['event_type'])} · {found['attempt_count']} attempt(s) · "
                    f"endpoint {kit.md(found['endpoint_id'])} "
                    f"({kit.md(found['url'] or 'unknown URL')})")
        if found["last_error"]:
            st.caption(f"Last error ({kit.when(found['last_attempt_at'])}): "
                       f"{kit.md(found['last_error'])}")
        if found["next_retry_at"]:
            st.caption(f"Next attempt at {kit.when(found['next_retry_at'])}.")
        with st.expander("Payload"):
            st.json(kit.shown_json(found["payload"] or {}), expanded=True)
        tries = kit.load(kit.service().webhooks.attempts, found["delivery_id"],
                         what="the attempts")
        if tries is None:
            st.caption("The platform keeps no attempt history: the last attempt only (above).")
        elif tries:
            st.markdown("Attempts")
            kit.table(tries, hide_index=True, key="delivery_attempts",
                      column_order=["attempt", "attempted_at", "ok", "status_code", "error"])
        reason = kit.why_not()
        if reason is None and found["status"] == "delivered":
            reason = "the delivery was delivered"
        if kit.supports("retry_webhook") and st.button("Retry delivery…", key="retry_webhook",
                                                       disabled=bool(reason), help=reason):
            op, target = kit.operator(), found["delivery_id"]
            kit.ask_to_confirm("webhooks", "Retry webhook delivery",
                               f"Schedule an immediate new attempt of delivery **{kit.md(target)}**?",
                               lambda op, target=target: kit.service().actions.retry_webhook(op, target),
                               target=f"delivery {target}")

st.subheader("Endpoint health")
eps = kit.load(endpoints, what="the endpoints")
if eps is not None:
    if not eps:
        st.info("No webhook endpoint is registered.")
    else:
        kit.table(eps, hide_index=True, key="endpoint_health",
                  column_order=["endpoint_id", "health", "consecutive_failures",
                                   "failing_since", "last_success_at", "exhausted", "retrying",
                                   "enabled",
                                   "program_id", "url"])
        by_id = {e["endpoint_id"]: e for e in eps}
        picked = st.selectbox("Endpoint to disable or enable", list(by_id), index=None,
                              format_func=kit.shown_controls,
                              key="endpoint_choice", placeholder="Choose an endpoint")
        reason = kit.why_not()
        if picked and kit.supports("disable_endpoint"):
            op, enabled = kit.operator(), by_id[picked]["enabled"]
            verb = "Disable" if enabled else "Enable"
            if st.button(kit.md_line(f"{verb} endpoint {{}}…", picked), key="toggle_endpoint",
                         disabled=bool(reason), help=reason):
                run = ((lambda op, e=picked: kit.service().actions.disable_endpoint(op, e))
                       if enabled else
                       (lambda op, e=picked: kit.service().actions.enable_endpoint(op, e)))
                kit.ask_to_confirm(
                    "webhooks", f"{verb} webhook endpoint",
                    (f"Stop delivering to **{kit.md(picked)}** ({kit.md(by_id[picked]['url'])})? "
                     "Deliveries wait until it is enabled again." if enabled else
                     f"Deliver to **{kit.md(picked)}** ({kit.md(by_id[picked]['url'])}) again?"),
                    run, target=f"endpoint {picked}")

kit.show_pending_dialog()
