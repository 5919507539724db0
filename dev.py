#!/usr/bin/env python3
"""Bootstrap and run sge-recon on a machine that has only Python 3.11+ and pip.

    python3 dev.py demo     # install everything (first run only), then run the demo
    python3 dev.py test     # install everything, then run the test suite
    python3 dev.py sync     # install or update the virtualenv only
    python3 dev.py run ARGS # run `sge-recon ARGS` inside the virtualenv
    python3 dev.py duckdb14 # the DuckDB 1.4 LTS reader (.venv-duckdb14) the export tests use

It creates `.venv` with the standard library's venv, installs the pinned `uv` into it with pip,
and installs the locked dependencies (`uv.lock`) with `uv sync --frozen`. The test command also
installs Debian's `chromium` for the browser test, Debian's `prometheus` (for `promtool`, which
checks the alert rules and the /metrics output) and Debian's `redis-server` (the BullMQ queue
tests; `demo` installs it too, for `demo --profile sge`) when they are missing (needs root or
sudo), and
a separate small virtualenv `.venv-duckdb14` with DuckDB 1.4 LTS, the oldest DuckDB auditors may
use, which the tests use to open the exported `audit.duckdb`.
Standard library only: this file runs before anything is installed.

This file only checks the Python version, in a syntax every Python parses (2.7 and 3.0 on), so
that an older Python says so instead of stopping at a SyntaxError; the commands are in
dev_commands.py, loaded after the check.
"""

import sys


def _main():
    if sys.version_info < (3, 11):
        sys.stderr.write("[dev] Python 3.11 or newer is needed, this is %s: run dev.py with a "
                         "newer one (e.g. `python3.11 dev.py demo`), or install it from "
                         "python.org or your system's packages\n" % sys.version.split()[0])
        sys.exit(2)
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.realpath(__file__)), "dev_commands.py")
    spec = importlib.util.spec_from_file_location("dev_commands", path)
    commands = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(commands)
    commands.entry(__doc__)


if __name__ == "__main__":
    _main()
