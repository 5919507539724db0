"""Incidents: the incident log — open / acknowledged / resolved, priority, notes, linked check
results; acknowledge, resolve, add a note."""

from datetime import time, timedelta

import streamlit as st

import console_kit as kit
from sge_recon.check_names import LEDGER_TAMPER, QUEUE_DEPTH, STUCK_INTENTS, WEBHOOK_EXHAUSTED

kit.page_header("Incidents", "Opened by the alerting job (P0 ledger imbalance, P1 workers down, "
                             "P2 queue > 500, P3 webhook failures).")
kit.show_outcome("incidents")

statuses = st.multiselect("Status", ["open", "acknowledged", "accepted", "resolved"],
                          default=["open", "acknowledged", "accepted"], key="incident_status")


@st.cache_data(ttl=10, show_spinner=False)
def incidents(statuses):
    return kit.service().incidents(list(statuses))


at_stake = kit.incident_money


rows = kit.load(incidents, tuple(statuses or ["open", "acknowledged", "accepted", "resolved"]),
                what="the incidents")
order = st.radio("Order", ["money at stake", "newest first"], horizontal=True,
                 key="incident_order")
if rows and order == "money at stake":
    rows = kit.service().by_money_at_stake(rows)
if rows is not None:
    if not rows:
        st.success("No incident with this status.", icon=":material/check_circle:")
    else:
        kit.table([{**r, "id": kit.link("incidents", "id", r["id"]),
                    "money_at_stake": at_stake(r, markdown=False) or ""} for r in rows],
                  hide_index=True, key="incident_table",
                  column_order=["id", "priority", "status", "title", "money_at_stake",
                                "opened_at", "last_seen_at", "acknowledged_by", "resolved_at",
                                "kind", "key"],
                  column_config={"id": st.column_config.LinkColumn(
                      "Id", display_text=kit.LINK_TEXT, help="Opens the incident")})

st.subheader("Incident")
chosen = kit.pick("Incident", [str(r["id"]) for r in rows or []], key="incident_choice",
                  format_func=lambda i: next((f"#{r['id']} {r['priority']} {r['status']} — "
                                              f"{r['title']}" for r in rows or []
                                              if str(r["id"]) == i), f"#{i}"))
incident = kit.load(kit.service().incident, chosen, what="the incident") if chosen else None
if chosen and incident is None:
    st.warning(f"No incident #{kit.md(chosen)}.")
if incident:
    with st.container(border=True):
        st.markdown(f"**#{incident['id']} · {incident['priority']} · {incident['status']}** "
                    f"— {kit.md(incident['title'])}")
        st.caption(f"Opened {kit.when(incident['opened_at'], '%Y-%m-%d %H:%M')}, last seen "
                   f"{kit.when(incident['last_seen_at'], '%Y-%m-%d %H:%M')}"
                   + (kit.md_line(" · acknowledged by {}", incident["acknowledged_by"])
                      if incident["acknowledged_by"] else "")
                   + (kit.md_line(" · accepted by {} (no reminders; open until a check "
                                  "passes): {}", incident["accepted_by"], incident["accept_note"])
                      if incident.get("accepted_by") else ""))
        money = at_stake(incident)
        if money:
            st.markdown(f"Money at stake: **{money}**")
        st.markdown("**Notes**")
        # plain text keeps Markdown inert; a right-to-left override would still reorder it
        st.text(kit.shown_controls(incident["notes"]) if incident["notes"] else "(none yet)")
        evidence = kit.service().incident_evidence(incident)
        if not evidence.empty:
            st.markdown("**Evidence when it opened** (frozen)"
                        + (f" · {kit.when(evidence.opened_at, '%Y-%m-%d %H:%M')}"
                           if evidence.opened_at else ""))
            if evidence.at_open_money or evidence.at_open_apart:
                st.markdown("At stake then: " + kit.money_by_currency(
                    evidence.at_open_money, apart=evidence.at_open_apart))
            if evidence.at_open:
                kit.table(evidence.at_open, hide_index=True, key="evidence_at_open")
            if incident["status"] != "resolved":
                st.markdown("**Evidence now**"
                            + (f" (changed {kit.when(evidence.latest_at, '%Y-%m-%d %H:%M')})"
                               if evidence.latest_at else ""))
                if evidence.latest_money or evidence.latest_apart:
                    st.markdown("At stake now: " + kit.money_by_currency(
                        evidence.latest_money, apart=evidence.latest_apart))
                if evidence.latest:
                    kit.table(evidence.latest, hide_index=True, key="evidence_latest")
            if evidence.changes:
                st.markdown("**How the evidence changed**")
                kit.table([{**{k: v for k, v in c.items() if k != "money_apart"},
                            "money": kit.money_by_currency(c["money"], markdown=False,
                                                           apart=c["money_apart"])}
                           for c in evidence.changes], hide_index=True, key="evidence_changes")
            if evidence.run_ids:
                st.caption("Check runs: " + ", ".join(evidence.run_ids))
        if incident["details"]:
            st.json(kit.shown_json(incident["details"]), expanded=False)
        linked = kit.load(kit.service().incident_check_results, incident,
                          what="the linked check results")
        if linked:
            st.markdown("**Check results of the run that opened it**")
            kit.table(linked, hide_index=True, key="incident_checks")
    op, iid, reason = kit.operator(), incident["id"], kit.why_not()
    a, b = st.columns(2)
    ack_reason = reason or (None if incident["status"] == "open" else
                            f"it is {incident['status']}")
    if a.button("Acknowledge…", key="ack_incident", disabled=bool(ack_reason), help=ack_reason):
        kit.ask_to_confirm("incidents", "Acknowledge incident",
                           f"Acknowledge incident **#{iid}** (you are on it: reminders stop)?",
                           lambda op, iid=iid: kit.service().actions.acknowledge_incident(op, iid),
                           target=f"incident #{iid}")
    resolve_reason = reason or ("it is resolved" if incident["status"] == "resolved" else None) \
        or kit.service().resolved_by_evidence(incident)
    if b.button("Resolve…", key="resolve_incident", disabled=bool(resolve_reason),
                help=resolve_reason):
        kit.ask_to_confirm("incidents", "Resolve incident",
                           f"Mark incident **#{iid}** as resolved?",
                           lambda op, iid=iid: kit.service().actions.resolve_incident(op, iid),
                           target=f"incident #{iid}")
    note = st.text_area("Add a note", key="incident_note", placeholder="what you found or did",
                        disabled=bool(reason))
    accept_reason = reason or (None if incident["status"] in ("open", "acknowledged") else
                               f"it is {incident['status']}")
    if st.button("Accept with this note…", key="accept_incident", disabled=bool(accept_reason),
                 help=accept_reason or "a known fault: no more reminders; it stays open and "
                                       "reported until a check passes"):
        text = note
        kit.ask_to_confirm("incidents", "Accept incident",
                           kit.md_line(f"Accept incident **#{iid}** with this note (no more "
                                       "reminders; it stays open and reported)?\n\n> {}", text),
                           lambda op, iid=iid, text=text: kit.service().actions.accept_incident(
                               op, iid, text, kit.service().now()),
                           target=f"incident #{iid}")
    if st.button("Add note…", key="add_note", disabled=bool(reason), help=reason):
        text = note
        kit.ask_to_confirm("incidents", "Add a note",
                           kit.md_line(f"Add this note to incident **#{iid}**?\n\n> {{}}", text),
                           lambda op, iid=iid, text=text: kit.service().actions.add_incident_note(
                               op, iid, text, kit.service().now()),
                           target=f"incident #{iid}")

st.subheader("Silences and maintenance windows")
st.caption("A silenced incident is still opened, counted and resolved, but not messaged; if it "
           "is still open when the silence expires, its page goes out then. Reason, owner and "
           "expiry are mandatory.")
silences = kit.load(kit.service().silences, what="the silences")
if silences:
    kit.table([{"silence": s["id"], "active": "yes" if s["active"] else "no",
                "what": kit.service().describe_silence(s),
                "reason": s["reason"], "owner": s["owner"], "until": s["ends_at"],
                "created_by": s["created_by"], "ended_by": s["ended_by"] or ""}
               for s in silences], hide_index=True, key="silences_table")
elif silences is not None:
    st.info("No silence.")
why = kit.why_not()
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
with st.form("silence_form"):
    kinds = ["every kind", "ledger_imbalance", LEDGER_TAMPER, "worker_down", QUEUE_DEPTH,
             STUCK_INTENTS, WEBHOOK_EXHAUSTED, "webhook_endpoint_failing"]
    kind = st.selectbox("Incident kind", kinds, key="silence_kind")
    program = st.text_input("Program (empty: any)", key="silence_program")
    s_reason = st.text_input("Reason", key="silence_reason",
                             placeholder="e.g. the platform's maintenance window")
    owner = st.text_input("Owner", key="silence_owner", placeholder="who answers for it")
    hours = st.number_input("Hours until it expires", min_value=0.25, max_value=168.0,
                            value=1.0, step=0.25, key="silence_hours")
    weekly = st.checkbox("Repeat weekly (a maintenance window)", key="silence_weekly")
    w1, w2, w3, w4 = st.columns(4)
    day = w1.selectbox("Weekday", DAYS, index=6, key="silence_day")
    start_t = w2.time_input("Starts (UTC)", value=time(2, 0), key="silence_start")
    minutes = w3.number_input("Minutes", min_value=1, max_value=1440, value=60,
                              key="silence_minutes")
    weeks = w4.number_input("For weeks", min_value=1, max_value=52, value=4,
                            key="silence_weeks")
    if st.form_submit_button("Silence…", disabled=bool(why), help=why):
        op, start = kit.operator(), kit.service().now()
        window = (DAYS.index(day) + 1, start_t, int(minutes)) if weekly else None
        if window:
            hours = float(weeks) * 7 * 24
        kit.ask_to_confirm(
            "incidents", "Create a silence",
            kit.md_line("Silence **{}**" + (" for program {}" if program else "{}")
                        + f" for {hours} h (owner {{}}): {{}}?", kind, program or "", owner,
                        s_reason),
            lambda op, kind=kind, program=program, s_reason=s_reason, owner=owner,
            start=start, hours=hours, window=window: kit.service().actions.add_silence(
                op, kind=None if kind == "every kind" else kind, program_id=program,
                reason=s_reason, owner=owner, starts_at=start,
                ends_at=start + timedelta(hours=hours), weekly=window),
            target="silences")

kit.show_pending_dialog()
