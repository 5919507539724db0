"""Queue & workers: depth by status, the failed/waiting/delayed/active jobs with their errors and
attempts, retry one or many, pause/resume, workers (retired ones aged out); refreshes itself. On
a platform whose queues are BullMQ on Redis (SGE), the BullMQ queues: counts per state, failed
and delayed jobs, workers, and the pause/resume/retry actions through BullMQ."""

import streamlit as st

import console_kit as kit

kit.page_header("Queue & workers", "The settlement queue and the workers that drain it.",
                platform_data=True)


@st.cache_data(ttl=5, show_spinner=False)
def queue_state():
    return kit.service().queue_state()


@st.cache_data(ttl=5, show_spinner=False)
def bullmq_queues():
    return kit.service().bullmq_queues()


def bullmq_page() -> None:
    missing = kit.service().queue_missing_reason()
    if missing:
        st.info(f"Not available yet: {missing}.", icon=":material/block:")
        st.stop()
    kit.show_outcome("queue")
    data = kit.load(bullmq_queues, what="the BullMQ queues")
    if data is None:
        return
    snap = data["snapshot"]
    st.caption(f"BullMQ on {snap.where} · read in {snap.duration_ms:.0f} ms · settlement queue "
               f"**{snap.settlement_queue}**")
    counts = [{"queue": c.queue, "waiting": c.waiting, "prioritized": c.prioritized,
               "delayed": c.delayed, "due": c.due, "active": c.active, "failed": c.failed,
               "completed": c.completed, "paused": c.paused} for c in snap.counts.values()]
    s = snap.settlement
    cols = st.columns(5)
    cols[0].metric("Depth (waiting + prioritized + due)", f"{s.depth:,}",
                   help="Due: delayed jobs whose time has come. BullMQ moves them to waiting "
                        "only when a worker fetches, so with the workers down or the queue "
                        "paused they wait in delayed.")
    cols[1].metric("Delayed", f"{s.delayed:,}")
    cols[2].metric("Active", f"{s.active:,}")
    cols[3].metric("Failed", f"{s.failed:,}")
    oldest = data["oldest_waiting_seconds"]
    cols[4].metric("Oldest waiting", "—" if oldest is None else f"{oldest:,.0f} s")
    kit.table(counts, hide_index=True, key="bullmq_counts")

    operator_ok = kit.require_operator("queue")  # admin accounts only
    st.subheader("Pause / resume")
    for c in snap.counts.values():
        left, right = st.columns([3, 1])
        left.markdown(kit.md_line("**{}**: ", c.queue) + ("paused — workers take no new jobs" if c.paused
                                           else "running"))
        if not operator_ok:
            continue
        if c.paused and right.button(kit.md_line("Resume {}…", c.queue), key=f"resume_{c.queue}"):
            kit.ask_to_confirm("queue", kit.md_line("Resume BullMQ queue {}", c.queue),
                               kit.md_line("Let the workers take jobs from **{}** again?", c.queue),
                               lambda op, q=c.queue: kit.service().actions.resume_bullmq_queue(op, q),
                               need="queue")
        if not c.paused and right.button(kit.md_line("Pause {}…", c.queue), key=f"pause_{c.queue}"):
            kit.ask_to_confirm("queue", kit.md_line("Pause BullMQ queue {}", c.queue),
                               kit.md_line("Stop the workers from taking new jobs from **{}** "
                                           "(jobs in flight finish)?", c.queue),
                               lambda op, q=c.queue: kit.service().actions.pause_bullmq_queue(op, q),
                               need="queue")

    st.subheader("Workers")
    if not snap.settlement_workers:
        st.error(f"No BullMQ worker is registered on {snap.settlement_queue}: the workers are "
                 "down.", icon=":material/error:")
    kit.table([{"queue": w.queue, "connection": w.name, "address": w.address,
                "connected_seconds": w.age_seconds, "idle_seconds": w.idle_seconds}
               for w in snap.workers], hide_index=True, key="bullmq_workers")
    if snap.stalled:
        st.warning(f"{len(snap.stalled)} stalled job(s) in {snap.settlement_queue}: active "
                   "without a worker's lock (the worker died or hangs); BullMQ's stalled-job "
                   "check moves them back to waiting.", icon=":material/warning:")
        kit.table([{"job_id": j.id, "name": j.name, "started": j.processed_at,
                    "stalled_count": j.stalled_count} for j in snap.stalled],
                  hide_index=True, key="bullmq_stalled")

    for name, lists in data["jobs"].items():
        if lists["failed"]:
            st.subheader(f"Failed jobs · {name}")
            kit.table([{"job_id": j.id, "name": j.name,
                        "attempts": f"{j.attempts_made} of {j.attempts_allowed}",
                        "error": j.failed_reason, "failed_at": j.finished_at,
                        "created_at": j.created_at} for j in lists["failed"]],
                      hide_index=True, key=f"failed_{name}")
            if operator_ok:
                ids = [j.id for j in lists["failed"]]
                picked = st.multiselect("Failed jobs to retry", ids, key=f"retry_pick_{name}",
                                        format_func=kit.shown_controls, placeholder="Tick the failed jobs to retry")
                if st.button(f"Retry {len(picked)} selected…", key=f"retry_{name}",
                             disabled=not picked):
                    chosen = list(picked)
                    kit.ask_to_confirm(
                        "queue", kit.md_line(f"Retry {len(chosen)} job(s) of {{}}", name),
                        "Move failed job(s) " + ", ".join(f"**{kit.md(j)}**" for j in chosen)
                        + f" of **{kit.md(name)}** back to waiting through BullMQ (each recorded)?",
                        lambda op, q=name, js=chosen:
                            kit.service().actions.retry_bullmq_jobs(op, q, js),
                        need="queue", target=f"{len(chosen)} job(s) of {name}")
        if lists["delayed"]:
            st.subheader(f"Delayed jobs · {name}")
            kit.table([{"job_id": j.id, "name": j.name, "runs_at": j.run_at,
                        "attempts": f"{j.attempts_made} of {j.attempts_allowed}",
                        "last_error": j.failed_reason} for j in lists["delayed"]],
                      hide_index=True, key=f"delayed_{name}")


@st.cache_data(ttl=5, show_spinner=False)
def queue_jobs():
    return kit.service().queue_jobs()


JOB_COLUMNS = {
    "failed": ["job_id", "intent_id", "intent_status", "program_id", "amount", "currency",
               "attempts", "last_error", "finished_at"],
    "waiting": ["job_id", "intent_id", "program_id", "amount", "currency", "attempts",
                "created_at"],
    "delayed": ["job_id", "intent_id", "program_id", "amount", "currency", "attempts", "run_at",
                "last_error"],
    "active": ["job_id", "intent_id", "program_id", "amount", "currency", "attempts",
               "started_at", "running_seconds"],
}


@st.fragment(run_every=kit.settings().REFRESH_SECONDS)
def live_queue() -> None:
    """Counts, the pause banner, the job lists and the workers: refreshed on their own."""
    state = kit.load(queue_state, what="the queue")
    jobs = kit.load(queue_jobs, what="the queue's jobs")
    if state is None or jobs is None:
        return
    control = state["control"] or {}
    depth = {r["status"]: r["jobs"] for r in state["depth"]}
    cols = st.columns(5)
    for col, status in zip(cols, ("waiting", "active", "delayed", "failed", "completed")):
        col.metric(status.capitalize(), f"{depth.get(status, 0):,}")
    toggle = state.get("last_toggle")
    if control.get("paused"):
        who = kit.md(control.get("changed_by") or "unknown")
        if toggle and toggle["action"] == "pause_queue":
            who = kit.md_line(f"{{}} in the console (action #{toggle['id']}, {{}} key)",
                              toggle["operator"], who)
        st.warning(f"The queue is **paused** (since "
                   f"{kit.when(control.get('changed_at'), '%Y-%m-%d %H:%M')} by {who}): workers take no new jobs.", icon=":material/pause_circle:")
    else:
        st.success("The queue is running.", icon=":material/play_circle:")

    st.subheader("Jobs")
    states = list(JOB_COLUMNS)
    tabs = st.tabs([f"{s.capitalize()} ({depth.get(s, 0):,})" for s in states])
    for tab, status in zip(tabs, states):
        with tab:
            rows = jobs["lists"][status]
            if not rows:
                st.caption(f"No {status} job.")
                continue
            if depth.get(status, 0) > len(rows):
                st.caption(f"The first {len(rows):,} of {depth[status]:,}.")
            kit.table(rows, hide_index=True, key=f"jobs_{status}",
                      column_order=JOB_COLUMNS[status])

    st.subheader("Workers")
    workers = state["workers"]
    if not workers:
        st.error("No worker heartbeat in the last 24 h: the workers are down.",
                 icon=":material/error:")
    else:
        # state: the check worker_status's row for each worker (alive, silent, unknown)
        kit.table(workers, hide_index=True, key="workers_table",
                  column_order=["worker_id", "state", "silent_seconds", "last_seen_at",
                                "jobs_completed", "started_at"])
    retired = jobs["retired"] or {}
    if retired.get("count"):
        st.caption(f"{retired['count']:,} worker(s) silent for more than 24 h are retired: not "
                   "listed and not counted as down (the newest was last seen "
                   f"{kit.when(retired['newest_last_seen_at'])}).")
    st.caption(f"Refreshes every {kit.settings().REFRESH_SECONDS} s.")


def queue_actions() -> None:
    """Pause/resume and retrying failed jobs, outside the refreshing part: what is ticked and
    confirmed never changes under the operator."""
    state = kit.load(queue_state, what="the queue")
    jobs = kit.load(queue_jobs, what="the queue's jobs")
    if state is None or jobs is None:
        return
    paused = bool((state["control"] or {}).get("paused"))
    reason = kit.why_not()
    st.subheader("Actions")
    if paused and st.button("Resume queue…", key="resume_queue", type="primary",
                            disabled=bool(reason), help=reason):
        kit.ask_to_confirm("queue", "Resume the settlement queue",
                           "Let the workers take jobs again?",
                           lambda op: kit.service().actions.resume_queue(op))
    if not paused and st.button("Pause queue…", key="pause_queue", disabled=bool(reason),
                                help=reason):
        kit.ask_to_confirm("queue", "Pause the settlement queue",
                           "Stop the workers from taking new jobs (jobs in flight finish)?",
                           lambda op: kit.service().actions.pause_queue(op))
    failed = jobs["retryable"]
    if not failed:
        return
    labels = {j["intent_id"]: kit.shown_controls(
        f"intent {j['intent_id']} · job {j['job_id']} · "
        f"{(j['last_error'] or 'no error recorded')[:60]}") for j in failed}
    chosen = st.multiselect("Failed jobs to retry (their intents are re-enqueued)",
                            list(labels), format_func=labels.get, key="retry_choice",
                            placeholder="Tick the failed jobs to retry")
    left, right = st.columns(2)
    if left.button(f"Retry {len(chosen)} selected…", key="retry_selected",
                   disabled=bool(reason) or not chosen, help=reason):
        picked = list(chosen)
        kit.ask_to_confirm("queue", f"Retry {len(picked)} intent(s)",
                           "Re-enqueue the intents of the ticked failed jobs: "
                           + ", ".join(kit.md_line("**{}**", i) for i in picked) + "?",
                           lambda op, ids=picked: kit.service().actions.retry_intents(op, ids),
                           target=f"{len(picked)} intents")
    every = list(labels)
    if right.button(f"Retry all {len(every)} listed…", key="retry_all_failed",
                    disabled=bool(reason), help=reason):
        kit.ask_to_confirm("queue", f"Retry {len(every)} intent(s)",
                           f"Re-enqueue the intents of all **{len(every)}** failed jobs listed "
                           "(each is its own API call and action-log row)?",
                           lambda op, ids=every: kit.service().actions.retry_intents(op, ids),
                           target=f"{len(every)} intents")


def table_page() -> None:
    kit.stop_if_platform_lacks("jobs", "worker_heartbeats")
    kit.api_banner()
    kit.show_outcome("queue")
    live_queue()
    queue_actions()


if kit.service().queue_kind() == "bullmq":
    bullmq_page()
else:
    table_page()

kit.show_pending_dialog()
