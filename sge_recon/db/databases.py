"""The two database handles a service reads, opened on first use.

``db`` is DATABASE_URL: sge-recon's own state (``recon``) and the checkpoint watermark, always the
primary. ``platform_db`` is where the platform is read: the standby of PLATFORM_READ_URL, or
``db`` itself. The composition root (sge_recon.context) builds one :class:`Databases` and hands it
to every service that reads them; each handle is built on first use, so a command that never
touches the database (``check --list``, listing export folders) never starts the embedded
server.
"""

from __future__ import annotations

import threading
from typing import Callable

from .connection import Database

OpenDatabase = Callable[[], Database]
# given the primary, the platform-read database (the primary itself when there is no standby)
OpenPlatformDatabase = Callable[[Database], Database]


class Databases:
    def __init__(self, db: Database | OpenDatabase,
                 platform_db: Database | OpenPlatformDatabase | None = None):
        self._db: Database | None = db if isinstance(db, Database) else None
        self._open_db: OpenDatabase | None = None if isinstance(db, Database) else db
        self._platform_db: Database | None = platform_db if isinstance(platform_db, Database) \
            else None
        self._open_platform: OpenPlatformDatabase | None = \
            None if isinstance(platform_db, Database) else platform_db
        self._lock = threading.Lock()  # two page threads must not start two embedded servers

    @property
    def db(self) -> Database:
        """DATABASE_URL: sge-recon's state (starts the embedded server when it is unset)."""
        if self._db is None:
            with self._lock:
                if self._db is None:
                    assert self._open_db is not None
                    self._db = self._open_db()
        return self._db

    @property
    def platform_db(self) -> Database:
        """Where the platform is read: the standby of PLATFORM_READ_URL, or ``db``."""
        if self._platform_db is None:
            db = self.db
            with self._lock:
                if self._platform_db is None:
                    self._platform_db = db if self._open_platform is None \
                        else self._open_platform(db)
        return self._platform_db

    def bounded(self, statement_timeout_ms: int, lock_timeout_ms: int) -> "Databases":
        """The same two databases, every query of which has these statement and lock timeouts
        (a table lock or a slow query never holds a per-minute job or a /metrics scrape)."""
        db = self.db.bounded(statement_timeout_ms=statement_timeout_ms,
                             lock_timeout_ms=lock_timeout_ms)
        platform = self.platform_db
        if platform is self.db:
            return Databases(db, db)
        return Databases(db, platform.bounded(statement_timeout_ms=statement_timeout_ms,
                                              lock_timeout_ms=lock_timeout_ms))
