"""A child process that dies with the process that started it."""

from __future__ import annotations

import signal
import sys


def die_with_parent() -> None:
    """In a child, before it runs (``Popen(preexec_fn=...)``): SIGTERM it when its parent dies,
    however the parent dies (kill -9 included), so that nothing the demo or a console started
    outlives it (Linux's PR_SET_PDEATHSIG; elsewhere nothing)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
