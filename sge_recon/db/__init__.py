"""The data-access layer: the only place that talks to PostgreSQL through a driver."""

from .connection import (
                         Database,
                         DriverError,
                         QueryCanceled,
                         describe_embedded,
                         describe_url,
                         ensure_database,
                         resolve_url,
)
from .databases import Databases
from .schema import CONTRACT, InitReport, init_db

__all__ = ["CONTRACT", "Database", "Databases", "DriverError", "InitReport", "QueryCanceled",
           "describe_embedded", "describe_url",
           "ensure_database", "init_db", "resolve_url"]
