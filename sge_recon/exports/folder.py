"""The folder an export is written into (``--out``, else the EXPORTS_DIR setting): created when
missing, refused with a sentence naming where it came from when it cannot be used."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ExportError


def prepare_out_dir(out_dir: Path | str, named: str = "--out") -> Path:
    """``out_dir`` resolved and created; ``named`` (``--out`` or ``EXPORTS_DIR``) is what the
    user set to choose it, and what the messages tell them to change."""
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise ExportError(f"{named}: {out} is a file, not a folder; point {named} at a folder "
                          "(it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"{named}: cannot create the export folder {out} ({exc.strerror}); "
                          f"choose another {named}") from None
    if not os.access(out, os.W_OK):
        raise ExportError(f"{named}: the export folder {out} is not writable; choose another "
                          f"{named}")
    return out
