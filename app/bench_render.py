"""Time every console page's server-side render with Streamlit's AppTest (script run, data load
and element tree, no browser). Run by `sge-recon console-bench` and `sge-recon bench`; prints one
JSON line.

    python app/bench_render.py [REPEAT [PAGE ...]]

In one fresh process, signed in as the first enabled account (read-only: no action is taken):
  * the first run of the console (the Overview, the default page): imports, the console's Recon,
    the Overview's data; the "cold" of the Overview;
  * each page (console_kit.PAGES, or the PAGEs named) opened once from the navigation: its cold
    render (its data functions run for the first time in the process);
  * then REPEAT-1 reruns of that page with Streamlit's data cache cleared before each (every
    query of the page runs again, as for the first visitor after its cache's TTL ran out): the
    "warm" figure is their median, the one held to the 1 s target;
  * and one rerun with the cache as it is (what a visitor meets within the TTL), for reference.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

MAIN = Path(__file__).resolve().parent / "main.py"
LOAD_FAILED = ("Could not load", "**The database is not reachable**")


def signed_in_as() -> tuple[str | None, str | None]:
    """The console as people see it: past the sign-in, as any enabled account (its name and a
    session of its own, which the console checks at every run; ended by the caller)."""
    sys.path.insert(0, str(MAIN.parent.parent))
    from sge_recon.config import Settings
    from sge_recon.context import Recon

    accounts = Recon(Settings.load()).accounts
    enabled = [a for a in accounts.list() if not a.disabled]
    if not enabled:
        return None, None
    return enabled[0].name, accounts.start_session(enabled[0].name)


def end_session(token: str | None) -> None:
    from sge_recon.config import Settings
    from sge_recon.context import Recon

    Recon(Settings.load()).accounts.end_session(token)


def timed_run(at: AppTest) -> tuple[float, list[str]]:
    t0 = time.perf_counter()
    at.run()
    ms = (time.perf_counter() - t0) * 1000
    errors = [str(e.value) for e in at.exception]
    errors += [str(e.value) for e in at.error if str(e.value).startswith(LOAD_FAILED)]
    return ms, errors


def bench_page(at: AppTest, path: str | None, repeat: int) -> dict:
    """``path`` None: the first run of the console (it lands on the Overview)."""
    if path is not None:
        at.switch_page(path)
    runs, errors = [], []
    for n in range(max(1, repeat)):
        if n:
            st.cache_data.clear()
        ms, errs = timed_run(at)
        runs.append(ms)
        errors += errs
    cached_ms, errs = timed_run(at)
    return {"runs_ms": runs, "cold_ms": runs[0],
            "warm_ms": statistics.median(runs[1:] or runs), "cached_ms": cached_ms,
            "errors": sorted(set(errors + errs))}


def main(repeat: int, pages: list[str]) -> None:
    sys.path.insert(0, str(MAIN.parent))
    import console_kit as kit

    chosen = pages or list(kit.PAGES)
    unknown = [p for p in chosen if p not in kit.PAGES]
    if unknown:
        raise SystemExit(f"unknown page(s) {unknown}; the console's pages: {list(kit.PAGES)}")
    account, token = signed_in_as()
    at = AppTest.from_file(str(MAIN), default_timeout=300)
    if account:
        at.session_state["account"] = account
        at.session_state["session_token"] = token
    try:
        # the Overview first (the default page: the first run of the process), then the others
        results = {}
        if "overview" in chosen:
            results["overview"] = bench_page(at, None, repeat)
        else:
            timed_run(at)  # the first run lands on the Overview: switch_page needs one run first
        for page in chosen:
            if page != "overview":
                results[page] = bench_page(at, kit.PAGES[page][0], repeat)
    finally:
        end_session(token)
    print(json.dumps({"account": account, "pages": results}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5, sys.argv[2:])
