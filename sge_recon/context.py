"""The composition root: the one place that builds the services and hands each what it uses.

``Recon`` reads the settings, opens the databases on first use (DATABASE_URL, and the standby of
PLATFORM_READ_URL with the profile's relations) and builds each service from exactly the
collaborators it needs: ``CheckService(settings, databases)``, ``AlertService(settings,
databases, catalogue)``, ``ConsoleService(settings, databases, checks, alerts, freshness)`` …
No service imports this module or receives a ``Recon``; the CLI, the console pages, the jobs'
entrypoint, the reference platform and the benches call it. Each service is built on first use,
so that a command only pays for what it touches (GX, for example, is imported only by the checks
service's GX engine).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings
from .db import Database, Databases, InitReport, init_db

if TYPE_CHECKING:
    from .accounts import AccountService
    from .alerts import AlertService
    from .checks import CheckService
    from .console import ConsoleService
    from .exports import ExportService
    from .metrics.collector import ReconCollector
    from .replica import Freshness
    from .scheduling import Clock, JobServices, Scheduler


class Recon:
    def __init__(self, settings: Settings | None = None, *, database: Database | None = None,
                 platform_database: Database | None = None,
                 application_name: str = "sge-recon"):
        self.settings = settings or Settings.load()
        self._application_name = application_name
        self.databases = Databases(
            database if database is not None else self._open_database,
            platform_database if platform_database is not None else self._open_platform_database)

    # -- the databases ----------------------------------------------------------------------------
    def _open_database(self) -> Database:
        from .profiles import relations_for

        return Database.from_settings(self.settings, relations_for(self.settings),
                                      application_name=self._application_name)

    def _open_platform_database(self, db: Database) -> Database:
        if not self.settings.PLATFORM_READ_URL:
            return db
        # a standby frozen mid-statement never hangs a reader: every answer is awaited at most
        # DB_ANSWER_GRACE_SECONDS past its statement_timeout (or in all, without one)
        return Database(self.settings.PLATFORM_READ_URL, relations=db.relations,
                        application_name=f"{self._application_name} (platform reads)",
                        setting="PLATFORM_READ_URL",
                        answer_grace=self.settings.DB_ANSWER_GRACE_SECONDS,
                        bound_every_answer=True)

    @property
    def db(self) -> Database:
        """The platform database (starts the embedded server when DATABASE_URL is unset)."""
        return self.databases.db

    @property
    def platform_db(self) -> Database:
        """Where the platform is read (checks, console platform data, live facts, exports): the
        standby of PLATFORM_READ_URL, with the same profile relations, or ``db`` itself.
        sge-recon's own state and the checkpoint watermark always use ``db`` (the primary)."""
        return self.databases.platform_db

    def replica_freshness(self) -> Freshness:
        """How fresh the platform reads are (sge_recon.replica.Freshness)."""
        from .replica import freshness

        return freshness(self.platform_db, self.db, self.settings)

    def bounded(self, statement_timeout_ms: int, lock_timeout_ms: int) -> Recon:
        """The same root on databases whose every query has these timeouts."""
        bounded = self.databases.bounded(statement_timeout_ms, lock_timeout_ms)
        return Recon(self.settings, database=bounded.db, platform_database=bounded.platform_db,
                     application_name=self._application_name)

    def init_db(self, *, platform_ddl: Sequence[Path] = ()) -> InitReport:
        """Migrate ``recon`` and set up the platform profile (DESIGN §11). ``platform_ddl``: the
        DDL files of a platform to create where absent first (the reference platform's)."""
        from .profiles import load_profile

        return init_db(self.db, load_profile(self.settings.PLATFORM_PROFILE),
                       platform_ddl=platform_ddl)

    # -- the services -----------------------------------------------------------------------------
    @cached_property
    def admin(self) -> Any:
        """The platform's admin API client: sge_recon.admin_client.AdminClient (DESIGN §6), or
        sge_recon.sge_admin_client.SgeAdminClient when the profile says ``admin_api: sge``."""
        from .profiles import relations_for

        if relations_for(self.settings).admin_api == "sge":
            from .sge_admin_client import SgeAdminClient

            return SgeAdminClient.from_settings(self.settings, bearer=self.settings.ADMIN_API_KEY)
        from .admin_client import AdminClient

        return AdminClient.from_settings(self.settings)

    @cached_property
    def checks(self) -> CheckService:
        """The reconciliation checks engine (sge_recon.checks.CheckService)."""
        from .checks import CheckService

        databases = self.databases
        return CheckService(self.settings, lambda: databases.db, lambda: databases.platform_db)

    @cached_property
    def exports(self) -> ExportService:
        """Monthly audit exports (sge_recon.exports.ExportService)."""
        from .exports import ExportService

        return ExportService(self.databases, out_dir=self.settings.EXPORTS_DIR,
                             signing_key=self.settings.EXPORT_SIGNING_KEY,
                             freshness=self.replica_freshness)

    @cached_property
    def accounts(self) -> AccountService:
        """The console's local accounts and sign-in (sge_recon.accounts.AccountService)."""
        from .accounts import AccountService

        return AccountService(self.db)

    @cached_property
    def incidents(self) -> AlertService:
        """Incidents and alerting (sge_recon.alerts.AlertService)."""
        from .alerts import AlertService

        return AlertService(self.settings, self.databases, catalogue=self.checks.catalogue)

    @cached_property
    def console(self) -> ConsoleService:
        """The ops console's data and actions (sge_recon.console.ConsoleService)."""
        from .console import ConsoleService
        from .scheduling.clock import DatabaseClock

        return ConsoleService(self.settings, self.databases, self.checks, self.incidents,
                              freshness=self.replica_freshness,
                              clock=DatabaseClock(lambda: self.db))

    @cached_property
    def job_services(self) -> JobServices:
        """What the scheduled jobs use (sge_recon.scheduling.JobServices)."""
        from .scheduling import JobServices

        return JobServices(settings=self.settings, databases=self.databases, checks=self.checks,
                           incidents=self.incidents, exports=self.exports,
                           bounded=lambda statement_ms, lock_ms:
                           self.bounded(statement_ms, lock_ms).job_services)

    @cached_property
    def scheduler(self) -> Scheduler:
        """The scheduler with the four jobs of DESIGN §7 (sge_recon.scheduling.Scheduler), on
        the database's clock (a host clock that is wrong does not move the slots)."""
        from .scheduling import DatabaseClock, Scheduler, default_jobs

        return Scheduler(self.job_services, default_jobs(), DatabaseClock(self.db))

    def metrics_collector(self, ttl: float | None = None,
                          clock: Clock | None = None) -> ReconCollector:
        """The /metrics collector on this root's databases (sge_recon.metrics.collector)."""
        from .metrics.collector import DEFAULT_TTL_SECONDS, ReconCollector

        return ReconCollector(self.settings, self.databases,
                              ttl=DEFAULT_TTL_SECONDS if ttl is None else ttl, clock=clock)


# -- warm start (app/serve.py): the console process's Recon, built before the port opens ----------
_warm: Recon | None = None


def warm_up() -> None:
    """Build the console's Recon and run the Overview's data load once, before Streamlit opens its
    port: the first visitor's first page then finds the connection pool open, the library's
    lazily imported modules loaded and the database's pages cached. Any failure is left to the
    page, which says it in words (a database that is down, bad settings)."""
    global _warm
    try:
        recon = Recon(Settings.load(), application_name="sge-recon-console")
        recon.accounts.any()
        recon.console.overview()
        from .accounts import timezone_names

        timezone_names()
    except Exception:  # noqa: BLE001 - the page reports it with its banner
        return
    _warm = recon


def take_warm_recon() -> Recon | None:
    """The Recon warm_up() built (once), or None."""
    global _warm
    recon, _warm = _warm, None
    return recon
