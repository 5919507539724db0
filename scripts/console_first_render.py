"""Time the console's first Overview render in a real browser: how long after `sge-recon console`
answers on its port a fresh visitor sees the Overview fully drawn, in headless Chromium (the
measure itself: recon_bench/console_first_render.py; `sge-recon console-bench` and `sge-recon
bench` report it too).

    .venv/bin/python scripts/console_first_render.py [--runs 5]

Uses DATABASE_URL (or the embedded database under SGE_RECON_HOME) as `sge-recon console` does.
"""

from __future__ import annotations

import argparse
import os
import statistics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from recon_bench.console_first_render import first_render
    from sge_recon.config import Settings
    from sge_recon.context import Recon

    recon = Recon(Settings.load())  # keeps an embedded database up while the runs go on
    result = first_render(recon, args.runs, progress=lambda line: print(line, flush=True))
    if result.skipped:
        raise SystemExit(f"not measured: {result.skipped}")
    drawn = result.drawn_s
    print(f"first Overview render after the console answers: median {statistics.median(drawn):.2f}"
          f" s, best {min(drawn):.2f} s, worst {max(drawn):.2f} s ({args.runs} runs; load average "
          f"{os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
