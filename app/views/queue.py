"""Queue & workers: depth by status, pause/resume, worker heartbeats."""

import streamlit as st

import console_kit as kit

kit.page_header("Queue & workers", "The settlement queue and the workers that drain it.")
kit.stop_if_platform_lacks("jobs", "worker_heartbeats")
kit.api_banner()
kit.show_outcome("queue")


@st.cache_data(ttl=5, show_spinner=False)
def queue_state():
    return kit.service().queue_state()


state = kit.load(queue_state, what="the queue")
if state is not None:
    control = state["control"] or {}
    paused = bool(control.get("paused"))
    depth = {r["status"]: r["jobs"] for r in state["depth"]}
    cols = st.columns(5)
    for col, status in zip(cols, ("waiting", "active", "delayed", "failed", "completed")):
        col.metric(status.capitalize(), f"{depth.get(status, 0):,}")
    toggle = state.get("last_toggle")
    if paused:
        who = control.get("changed_by") or "unknown"
        if toggle and toggle["action"] == "pause_queue":
            who = f"{toggle['operator']} in the console (action #{toggle['id']}, {who} key)"
        st.warning(f"The queue is **paused** (since {control.get('changed_at'):%Y-%m-%d %H:%M} "
                   f"UTC by {who}): workers take no new jobs.", icon=":material/pause_circle:")
    else:
        st.success("The queue is running.", icon=":material/play_circle:")
    reason, op = kit.why_not(), kit.operator()
    if paused and st.button("Resume queue…", key="resume_queue", type="primary",
                            disabled=bool(reason), help=reason):
        kit.ask_to_confirm("queue", "Resume the settlement queue",
                           "Let the workers take jobs again?",
                           lambda op=op: kit.service().actions.resume_queue(op))
    if not paused and st.button("Pause queue…", key="pause_queue", disabled=bool(reason),
                                help=reason):
        kit.ask_to_confirm("queue", "Pause the settlement queue",
                           "Stop the workers from taking new jobs (jobs in flight finish)?",
                           lambda op=op: kit.service().actions.pause_queue(op))

    st.subheader("Workers")
    workers = state["workers"]
    if not workers:
        st.error("No worker heartbeat in the last 24 h: the workers are down.", icon=":material/error:")
    else:
        for w in workers:
            w["state"] = "alive" if w["alive"] else "silent"
        kit.table(workers, hide_index=True, key="workers_table",
                  column_order=["worker_id", "state", "silent_seconds", "last_seen_at",
                                   "jobs_completed", "started_at"])

kit.show_pending_dialog()
