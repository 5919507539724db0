"""The typed error hierarchy.

Every error a user can cause or fix is a subclass of :class:`ReconError`. Its message says what went
wrong, where, and how to fix it; the CLI prints it as ``Error: <message>`` and exits with
``exit_code``, without a traceback (``--debug`` shows one).
"""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type's name when it has none): what an error
    message quotes of a driver's or a library's multi-line error."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class ReconError(Exception):
    """Base class: a problem the user can understand and act on.

    Exit code 3 means "the command could not do its work" (bad input, configuration, database);
    `sge-recon check` keeps 1 and 2 for "the data has warnings / failures".
    """

    exit_code = 3

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(ReconError):
    """A setting is missing or has a bad value. The message starts with the setting's name."""

    def __init__(self, setting: str, problem: str):
        super().__init__(f"{setting}: {problem}")
        self.setting = setting


class UsageError(ReconError):
    """A command-line argument or input value is malformed (wrong id, unknown fault, bad period)."""


class DatabaseUnavailable(ReconError):
    """The database cannot be reached (down, wrong URL, wrong password)."""


class SchemaMismatch(ReconError):
    """An existing table does not have the shape of the contract; nothing was changed."""


class InsufficientRights(ReconError):
    """The database user lacks a privilege the command needs (e.g. ``db init`` as the app's
    least-privilege login); nothing was changed. The message names the privilege and who has it."""


class AlreadyRunning(ReconError):
    """Another instance holds a lock this command needs (e.g. a second ``demo``)."""


class CheckDefinitionError(ReconError):
    """The check catalogue (checks.yml or a .sql file) is invalid."""


class ExportError(ReconError):
    """An audit export could not be written or failed verification."""


class NotFoundError(ReconError):
    """An id names nothing (an unknown program, intent, batch or delivery)."""


class ConflictError(ReconError):
    """The action does not fit the current state (approve twice, execute an executed batch, ...)."""


class ProfileError(ReconError):
    """A platform profile (DESIGN §11) is malformed or does not match the live database. The
    message names the profile file, the entry and what to change."""


class ProfileDrift(ProfileError):
    """A query read a profile relation (``recon_platform.<table>``) that no longer fits the
    platform's tables: a platform migration since ``db init`` (a column dropped or retyped, an
    enum label gone). Raised by the data-access layer for every reader alike (checks, console,
    exports, /metrics, jobs); the message names the relation and says to run ``db init`` again."""
