"""The benchmark's peak-RSS figure is the child's own, not the (large) benchmark process's."""

from __future__ import annotations

import os
import sys

import pytest

from recon_bench.measured_child import run_child
from sge_recon.errors import UsageError

ALLOCATE = "import sys; b = bytearray({mb} * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); print('ok')"


def test_a_small_child_of_a_large_process_reports_its_own_peak():
    ballast = bytearray(700 * 1024 * 1024)
    ballast[::4096] = b"x" * len(ballast[::4096])  # resident, as the bench is after DuckDB
    wall, rss_mb, stdout = run_child([sys.executable, "-c", ALLOCATE.format(mb=120)],
                                     dict(os.environ))
    del ballast
    assert stdout.strip() == "ok" and wall > 0
    assert 120 <= rss_mb < 300  # its 120 MB plus an interpreter; not the parent's 700 MB


def test_a_failing_child_is_a_usage_error_with_its_last_stderr_line():
    with pytest.raises(UsageError, match="exit code 3: the last line"):
        run_child([sys.executable, "-c", "import sys; print('first', file=sys.stderr); "
                   "print('the last line', file=sys.stderr); sys.exit(3)"], dict(os.environ))
