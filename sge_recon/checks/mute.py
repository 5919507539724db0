"""Silence what one thread prints, and only that thread.

``contextlib.redirect_stdout`` swaps ``sys.stdout`` for the whole process: while the nightly GX run
muted its notices in a scheduler thread, every other thread's output went into the same sink —
the scheduler's job reports and its closing "Scheduler stopped." were lost. ``stdout_muted()``
installs (once, while any thread is muted) a stand-in for ``sys.stdout`` that drops the writes of
the muted threads and passes every other thread's on to the real stream.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any, TextIO

_lock = threading.Lock()
_muted: dict[int, int] = {}  # thread id -> nesting depth
_installed: "_PerThreadStdout | None" = None


class _PerThreadStdout:
    def __init__(self, real: TextIO):
        self.real = real

    def write(self, text: str) -> int:
        if threading.get_ident() in _muted:
            return len(text)
        return self.real.write(text)

    def flush(self) -> None:
        if threading.get_ident() not in _muted:
            self.real.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, buffer, ...
        return getattr(self.real, name)


@contextlib.contextmanager
def stdout_muted() -> Iterator[None]:
    """Drop what the calling thread prints to ``sys.stdout`` inside the block."""
    global _installed
    me = threading.get_ident()
    with _lock:
        if not _muted and (_installed is None or sys.stdout is not _installed):
            _installed = _PerThreadStdout(sys.stdout)
            sys.stdout = _installed
        _muted[me] = _muted.get(me, 0) + 1
    try:
        yield
    finally:
        with _lock:
            _muted[me] -= 1
            if not _muted[me]:
                del _muted[me]
            if not _muted and _installed is not None and sys.stdout is _installed:
                sys.stdout = _installed.real
                _installed = None
