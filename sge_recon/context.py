"""The one library API that the CLI, the console pages and the jobs all call.

``Recon`` holds the settings and the database and hands out the services (checks, exports, ...),
each built on first use so that a command only pays for what it touches (GX, for example, is
imported only by the checks service's GX engine).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

from .config import Settings
from .db import Database, InitReport, init_db


class Recon:
    def __init__(self, settings: Settings | None = None, *, database: Database | None = None,
                 platform_database: Database | None = None,
                 application_name: str = "sge-recon"):
        self.settings = settings or Settings.load()
        self._database = database
        self._platform_database = platform_database
        self._application_name = application_name

    @cached_property
    def db(self) -> Database:
        """The platform database (starts the embedded server when DATABASE_URL is unset)."""
        if self._database is not None:
            return self._database
        from .profiles import relations_for

        return Database.from_settings(self.settings, relations_for(self.settings),
                                      application_name=self._application_name)

    @cached_property
    def platform_db(self) -> Database:
        """Where the platform is read (checks, console platform data, live facts, exports): the
        standby of PLATFORM_READ_URL, with the same profile relations, or ``db`` itself.
        sge-recon's own state and the checkpoint watermark always use ``db`` (the primary)."""
        if self._platform_database is not None:
            return self._platform_database
        if not self.settings.PLATFORM_READ_URL:
            return self.db
        return Database(self.settings.PLATFORM_READ_URL, relations=self.db.relations,
                        application_name=f"{self._application_name} (platform reads)")

    def replica_freshness(self):
        """How fresh the platform reads are (sge_recon.replica.Freshness)."""
        from .replica import freshness

        return freshness(self.platform_db, self.db, self.settings)

    def init_db(self, *, platform_ddl: Sequence[Path] = ()) -> InitReport:
        """Migrate ``recon`` and set up the platform profile (DESIGN §11). ``platform_ddl``: the
        DDL files of a platform to create where absent first (the reference platform's)."""
        from .profiles import load_profile

        return init_db(self.db, load_profile(self.settings.PLATFORM_PROFILE),
                       platform_ddl=platform_ddl)

    @cached_property
    def admin(self):
        """The platform's admin API client: sge_recon.admin_client.AdminClient (DESIGN §6), or
        sge_recon.sge_admin_client.SgeAdminClient when the profile says ``admin_api: sge``."""
        from .profiles import relations_for

        if relations_for(self.settings).admin_api == "sge":
            from .sge_admin_client import SgeAdminClient

            return SgeAdminClient.from_settings(self.settings, bearer=self.settings.ADMIN_API_KEY)
        from .admin_client import AdminClient

        return AdminClient.from_settings(self.settings)

    @cached_property
    def checks(self):
        """The reconciliation checks engine (sge_recon.checks.CheckService)."""
        from .checks import CheckService

        return CheckService(self.settings, lambda: self.db, lambda: self.platform_db)

    @cached_property
    def exports(self):
        """Monthly audit exports (sge_recon.exports.ExportService)."""
        from .exports import ExportService

        return ExportService(self)

    @cached_property
    def accounts(self):
        """The console's local accounts and sign-in (sge_recon.accounts.AccountService)."""
        from .accounts import AccountService

        return AccountService(self.db)

    @cached_property
    def console(self):
        """The ops console's data and actions (sge_recon.console.ConsoleService)."""
        from .console import ConsoleService

        return ConsoleService(self)

    @cached_property
    def incidents(self):
        """Incidents and alerting (sge_recon.alerts.AlertService)."""
        from .alerts import AlertService

        return AlertService(self)

    @cached_property
    def scheduler(self):
        """The scheduler with the four jobs of DESIGN §7 (sge_recon.scheduling.Scheduler)."""
        from .scheduling import Scheduler, default_jobs

        return Scheduler(self, default_jobs())
