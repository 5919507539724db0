"""Audit exports: the exported months with their manifest summary, files to download (one by one
or as a zip), verification, and "export now"; plus the console's action log."""

import streamlit as st

import console_kit as kit

kit.page_header("Audit exports", "Monthly Parquet + DuckDB exports with a manifest of hashes and "
                                 "control totals, for auditors to verify offline.")
kit.show_outcome("exports")
exports = kit.recon().exports


@st.cache_data(ttl=15, show_spinner=False)
def periods():
    return exports.list_periods()


summaries = kit.load(periods, what="the exported periods")
if summaries is not None:
    if not summaries:
        st.info("No period exported yet. Use “Export now” below, or `sge-recon export --period "
                "YYYY-MM`.")
    else:
        kit.table([{"period": s.period, "generated_at": s.generated_at, "files": s.files,
                       "rows": s.total_rows, "bytes": s.total_bytes,
                       "checks at export": s.checks_status, "complete month": s.complete_month,
                       "problem": s.problem} for s in summaries],
                     hide_index=True, key="periods_table")
        period = st.selectbox("Period", [s.period for s in summaries], key="export_period")
        summary = next(s for s in summaries if s.period == period)
        if summary.control_totals:
            st.markdown("**Control totals**")
            kit.table(summary.control_totals, hide_index=True, key="control_totals")
        files = kit.load(exports.files, period, what="the files")
        if files:
            st.markdown("**Files**")
            for f in files:
                left, right = st.columns([4, 1])
                left.markdown(f"`{f['name']}` · {f['bytes']:,} bytes"
                              + (f" · {f['rows']:,} rows" if f["rows"] is not None else ""))
                right.download_button("Download", data=lambda p=f["path"]: p.read_bytes(),
                                      file_name=f["name"], key=f"dl_{period}_{f['name']}",
                                      on_click="ignore")
            st.download_button(f"Download {period} as zip",
                               data=lambda: exports.zip_bytes(period),
                               file_name=f"sge-recon-audit-{period}.zip", mime="application/zip",
                               key="dl_zip", on_click="ignore", type="primary")
        if st.button("Verify hashes and control totals", key="verify_export"):
            report = kit.load(exports.verify, summary.directory, what="the verification")
            if report is not None:
                if report.ok:
                    st.success(f"{period} verifies: {report.files_checked} files, "
                               f"{report.rows_checked:,} rows checked.", icon=":material/check_circle:")
                elif report.intact:
                    st.warning(f"{period} is intact (exactly as exported), but the books it holds "
                               "have accounting findings: " + "; ".join(
                                   str(m) for m in report.findings[:10]), icon=":material/warning:")
                else:
                    st.error(f"{period} does NOT verify: " + "; ".join(
                        str(m) for m in report.mismatches[:10]), icon=":material/block:")

st.subheader("Export now")
now = kit.service().now()  # the console's clock (the database's): the 1st is the server's 1st
last_month = f"{now.year - (now.month == 1)}-{(now.month - 2) % 12 + 1:02d}"
target = st.text_input("Period (YYYY-MM)", value=last_month, key="export_now_period")
replace = st.checkbox("Replace an existing export of this period", key="export_replace")
if st.button("Export now…", key="export_now", disabled=bool(kit.why_not()), help=kit.why_not()):
    op, label, force = kit.operator(), target.strip(), replace

    def work() -> str:
        result = exports.export_now(label, force=force)
        periods.clear()
        return (f"Exported {result.period}: {len(result.manifest['files'])} files, "
                f"{result.total_rows:,} rows in {result.seconds:.1f} s.")

    kit.ask_to_confirm("exports", "Export an audit period",
                       f"Write the audit export of **{label}**"
                       + (" (replacing the existing one)" if force else "") + "?",
                       lambda op, label=label, work=work: kit.service().actions.run_recorded(
                           op, "audit_export", label, work), target=f"period {label}")

st.subheader("Console action log")


@st.cache_data(ttl=10, show_spinner=False)
def actions():
    return kit.service().recent_actions()


log = kit.load(actions, what="the action log")
if log is not None:
    if log:
        kit.table(log, hide_index=True, key="action_log")
    else:
        st.caption("No console action recorded yet.")

kit.show_pending_dialog()
