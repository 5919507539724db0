"""A host clock that is wrong: ``datetime.now`` in one module moved by an offset, while the
database server's clock (the time sge-recon keeps) stays right."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import ModuleType


def host_clock_off_by(monkeypatch, module: ModuleType, offset: timedelta) -> None:
    """``module``'s ``datetime.now`` runs ``offset`` off from now (negative: behind)."""
    class ShiftedDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + offset

    monkeypatch.setattr(module, "datetime", ShiftedDatetime)
