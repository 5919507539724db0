"""Time the Overview's server-side render with Streamlit's AppTest (script run, data load and
element tree, no browser). Run by `sge-recon console-bench`; prints one JSON line.

    python app/bench_render.py [REPEAT]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

MAIN = Path(__file__).resolve().parent / "main.py"


def signed_in_as() -> str | None:
    """The Overview as people see it: past the sign-in, as any enabled account (read-only
    render; no action is taken)."""
    sys.path.insert(0, str(MAIN.parent.parent))
    from sge_recon.config import Settings
    from sge_recon.context import Recon

    enabled = [a for a in Recon(Settings.load()).accounts.list() if not a.disabled]
    return enabled[0].name if enabled else None


def main(repeat: int) -> None:
    times, errors = [], []
    account = signed_in_as()
    for _ in range(repeat):
        at = AppTest.from_file(str(MAIN), default_timeout=120)
        if account:
            at.session_state["account"] = account
        t0 = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - t0) * 1000)
        errors += [str(e.value) for e in at.exception]
        errors += [str(e.value) for e in at.error]
    print(json.dumps({"runs_ms": times, "cold_ms": times[0],
                      "warm_median_ms": statistics.median(times[1:] or times),
                      "errors": errors}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
