"""Incidents: the incident log — open / acknowledged / resolved, priority, notes, linked check
results; acknowledge, resolve, add a note."""

import streamlit as st

import console_kit as kit

kit.page_header("Incidents", "Opened by the alerting job (P0 ledger imbalance, P1 workers down, "
                             "P2 queue > 500, P3 webhook failures).")
kit.show_outcome("incidents")

statuses = st.multiselect("Status", ["open", "acknowledged", "resolved"],
                          default=["open", "acknowledged"], key="incident_status")


@st.cache_data(ttl=10, show_spinner=False)
def incidents(statuses):
    return kit.service().incidents(list(statuses))


rows = kit.load(incidents, tuple(statuses or ["open", "acknowledged", "resolved"]),
                what="the incidents")
if rows is not None:
    if not rows:
        st.success("No incident with this status.", icon=":material/check_circle:")
    else:
        kit.table(rows, hide_index=True, key="incident_table",
                     column_order=["id", "priority", "status", "title", "money_at_stake",
                                   "opened_at", "last_seen_at", "acknowledged_by", "resolved_at",
                                   "kind", "key"])
        chosen_id = st.selectbox("Incident", [r["id"] for r in rows], key="incident_choice",
                                 format_func=lambda i: next(
                                     f"#{r['id']} {r['priority']} {r['status']} — {r['title']}"
                                     for r in rows if r["id"] == i))
        incident = next(r for r in rows if r["id"] == chosen_id)
        with st.container(border=True):
            st.markdown(f"**#{incident['id']} · {incident['priority']} · {incident['status']}** "
                        f"— {incident['title']}")
            st.caption(f"Opened {incident['opened_at']:%Y-%m-%d %H:%M} UTC, last seen "
                       f"{incident['last_seen_at']:%Y-%m-%d %H:%M} UTC"
                       + (f" · acknowledged by {incident['acknowledged_by']}"
                          if incident["acknowledged_by"] else ""))
            if incident["money_at_stake"] is not None:
                st.markdown(f"Money at stake: **{kit.money(incident['money_at_stake'])}**")
            st.markdown("**Notes**")
            st.text(incident["notes"] or "(none yet)")
            if incident["details"]:
                st.json(incident["details"], expanded=False)
            linked = kit.load(kit.service().incident_check_results, incident,
                              what="the linked check results")
            if linked:
                st.markdown("**Check results of the run that opened it**")
                kit.table(linked, hide_index=True, key="incident_checks")
        if kit.require_operator():
            op, iid = kit.operator(), incident["id"]
            a, b = st.columns(2)
            if a.button("Acknowledge…", key="ack_incident", disabled=incident["status"] != "open"):
                kit.ask_to_confirm("incidents", "Acknowledge incident",
                                   f"Acknowledge incident **#{iid}** (you are on it: reminders "
                                   "stop)?",
                                   lambda: kit.service().actions.acknowledge_incident(op, iid))
            if b.button("Resolve…", key="resolve_incident",
                        disabled=incident["status"] == "resolved"):
                kit.ask_to_confirm("incidents", "Resolve incident",
                                   f"Mark incident **#{iid}** as resolved?",
                                   lambda: kit.service().actions.resolve_incident(op, iid))
            note = st.text_area("Add a note", key="incident_note",
                                placeholder="what you found or did")
            if st.button("Add note…", key="add_note"):
                text = note
                kit.ask_to_confirm("incidents", "Add a note",
                                   f"Add this note to incident **#{iid}**?\n\n> {text}",
                                   lambda: kit.service().actions.add_incident_note(
                                       op, iid, text, kit.service().now()))

kit.show_pending_dialog()
