"""Reading the small files a user points sge-recon at (the config file, a ``*_FILE`` secret, an
auditor's public key): at most a bounded number of bytes, and never waiting for ever.

``/dev/zero`` or a multi-gigabyte file given by mistake was read whole (memory exhausted: an
"unexpected MemoryError"); a named pipe with no writer blocked the command for ever. A pipe with
a writer (``--config <(…)``) still works.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path


class UnfitFile(Exception):
    """A file that cannot be the small text file asked for; ``str()`` says why, as a phrase that
    follows the file's name ("is larger than 1,048,576 bytes")."""


def read_small_file(path: str | Path, limit: int) -> bytes:
    """The bytes of ``path``, when there are at most ``limit`` of them; OSError as ``open``
    raises it (IsADirectoryError for a folder), UnfitFile when it holds more."""
    # O_NONBLOCK: a named pipe opens without waiting for a writer; with none, a read is then EOF
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise UnfitFile(f"is larger than {limit:,} bytes (or endless, as /dev/zero)")
        return b"".join(chunks)
    finally:
        os.close(fd)
