"""Settings: declared once, typed, each with a default and help text; validated at start.

Sources, later ones winning: the defaults below, an optional TOML file (``sge-recon.toml`` in the
working directory, or the path in ``SGE_RECON_CONFIG``), then environment variables. A secret may
also come from a file named by ``<NAME>_FILE`` (Docker/Kubernetes secrets style), so it never has to
sit in the environment or on a command line.

A bad value raises :class:`~sge_recon.errors.ConfigError` whose message starts with the setting's
name and says how to fix it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

from .config_checks import (check_http_url, check_oidc, check_postgres_url, check_redis_url,
                            check_work_mem, duckdb_memory_limit, hide_password, mask,
                            read_secret_file)
from .errors import ConfigError
from .small_files import UnfitFile, read_small_file

CONFIG_FILE_ENV = "SGE_RECON_CONFIG"
CONFIG_MAX_BYTES = 4 << 20  # a settings file is a few kB: more is the wrong file (or /dev/zero)
DEFAULT_CONFIG_FILE = "sge-recon.toml"


MAX_CHECK_SESSIONS = 8
CHECK_ENGINES = ("sql", "gx", "duckdb")  # sge-recon check --engine; DAILY_CHECK_ENGINE


# Upper bounds: a duration past them is a typo, and past PostgreSQL's interval range or int4 it
# would break the checks' SQL with an error that names no setting.
YEAR_S, YEAR_MIN, YEAR_H = 365 * 86400, 365 * 1440, 365 * 24
HOUR_S, DAY_S, MAX_COUNT = 3600, 86400, 2**31 - 1


def _setting(default: Any, help: str, *, secret: bool = False, minimum: float | None = None,
             maximum: float | None = None) -> Any:
    return field(default=default, metadata={"help": help, "secret": secret, "minimum": minimum,
                                            "maximum": maximum})


@dataclass(frozen=True)
class Settings:
    # Connections
    DATABASE_URL: str | None = _setting(
        None, "PostgreSQL URL of the platform database. Unset: a private embedded PostgreSQL "
        "under SGE_RECON_HOME is started and used.", secret=True)
    REDIS_URL: str | None = _setting(
        None, "Redis URL of the platform's BullMQ queues (redis://[user:password@]host:6379/0, "
        "rediss:// for TLS, unix:///path/redis.sock). Used when the platform profile declares "
        "`queues: {kind: bullmq}` (SGE): queue depth, workers and queue actions come from there. "
        "Unset: those checks are unavailable.", secret=True)
    REDIS_TIMEOUT_SECONDS: Decimal = _setting(
        Decimal("3"), "How long one Redis connect or read may take before the queue checks "
        "report error.", minimum=0.1, maximum=HOUR_S)
    PLATFORM_READ_URL: str | None = _setting(
        None, "PostgreSQL URL of a streaming standby (hot standby) of DATABASE_URL for the "
        "platform reads: checks, the console's platform data, the live facts behind alerts and "
        "/metrics, exports. sge-recon's own state and the ledger checkpoint's watermark stay on "
        "DATABASE_URL. Unset: everything reads DATABASE_URL.", secret=True)
    REPLICA_MAX_LAG_SECONDS: int = _setting(
        60, "A standby (PLATFORM_READ_URL) further behind than this, or whose replay is paused, "
        "makes every check of a run error instead of reading stale data; the replica_lag alert "
        "fires.", minimum=1, maximum=YEAR_S)
    DB_ANSWER_GRACE_SECONDS: int = _setting(
        60, "A statement still unanswered after this long makes sge-recon check, every this "
        "many seconds, that the server still accepts a new connection (within its 5 s connect "
        "timeout): one that does not (frozen: SIGSTOPped, a hung host, a paused VM; it cannot "
        "enforce statement_timeout) is given up client-side, as is a statement past its "
        "statement_timeout plus this. The reader then reports an error, never a pass. Applies "
        "to every read of the standby of PLATFORM_READ_URL, and to the checks' queries.",
        minimum=1, maximum=HOUR_S)
    SGE_ADMIN_API_URL: str = _setting(
        "http://127.0.0.1:8000", "Base URL of the platform's admin HTTP API.")
    ADMIN_API_KEY: str | None = _setting(
        None, "Bearer token for admin operations (pause, retry, execute, corrections).", secret=True)
    PAYOUT_APPROVER_1: str | None = _setting(
        None, "Bearer token of the first payout approver.", secret=True)
    PAYOUT_APPROVER_2: str | None = _setting(
        None, "Bearer token of the second payout approver.", secret=True)
    SLACK_WEBHOOK_URL: str | None = _setting(
        None, "Slack incoming-webhook URL for alerts; unset: no Slack alerts.", secret=True)
    DISCORD_WEBHOOK_URL: str | None = _setting(
        None, "Discord webhook URL for alerts; unset: no Discord alerts.", secret=True)
    PAGERDUTY_ROUTING_KEY: str | None = _setting(
        None, "PagerDuty Events API v2 routing (integration) key: incidents trigger a page when "
        "they open, acknowledge it when acknowledged or accepted in the console and resolve it "
        "when they resolve; unset: no paging.", secret=True)
    PAGERDUTY_EVENTS_URL: str = _setting(
        "https://events.pagerduty.com/v2/enqueue", "PagerDuty Events API v2 endpoint (change "
        "only for a proxy or a test receiver).")
    ALERT_WEBHOOK_URL: str | None = _setting(
        None, "Generic webhook that receives every alert as signed JSON (needs "
        "ALERT_WEBHOOK_SECRET); unset: none.", secret=True)
    ALERT_WEBHOOK_SECRET: str | None = _setting(
        None, "Shared secret of ALERT_WEBHOOK_URL: each message carries X-SGE-Signature: "
        "sha256=HMAC-SHA256(secret, X-SGE-Timestamp + \".\" + body).", secret=True)
    SGE_ENVIRONMENT: str = _setting(
        "unnamed", "Name of this deployment (production, staging, ...), shown first in every "
        "alert so that nobody mistakes a test system's page for production's; `sge-recon demo` "
        "uses demo.")
    CONSOLE_URL: str = _setting(
        "http://127.0.0.1:8501", "Public address of the console, used for links in alerts.")
    CONSOLE_PASSWORD: str | None = _setting(
        None, "Legacy viewer gate, used only while no console account exists: the console asks "
        "for this password before showing anything, and stays read-only. Once `sge-recon users "
        "add` has created an account, people sign in with their own and this is ignored.",
        secret=True)
    OIDC_SERVER_METADATA_URL: str | None = _setting(
        None, "Single sign-on: the OpenID Connect provider's discovery document "
        "(https://idp.example.com/.well-known/openid-configuration). With OIDC_CLIENT_ID and "
        "OIDC_CLIENT_SECRET set too, the console offers sign-in through that provider "
        "(Streamlit's st.login); the account linked to the identity (`sge-recon users link-sso`) "
        "gives the role. Unset: local accounts only.")
    OIDC_CLIENT_ID: str | None = _setting(
        None, "Single sign-on: the console's client id at the OpenID Connect provider.")
    OIDC_CLIENT_SECRET: str | None = _setting(
        None, "Single sign-on: the console's client secret at the OpenID Connect provider.",
        secret=True)
    OIDC_REDIRECT_URI: str | None = _setting(
        None, "Single sign-on: the address the provider sends people back to, registered at "
        "the provider; it must end with /oauth2callback. Unset: "
        "http://127.0.0.1:<console port>/oauth2callback.")
    OIDC_COOKIE_SECRET: str | None = _setting(
        None, "Single sign-on: the secret that signs the console's identity cookie (at least "
        "32 characters). Unset: a random one kept in SGE_RECON_HOME/console-cookie-secret.",
        secret=True)
    OIDC_IDENTITY_CLAIM: str = _setting(
        "email", "Single sign-on: the ID token claim that names the person, matched against the "
        "accounts' linked identities (email: used only when the provider marks it verified, "
        "email_verified true or \"true\"; sub: the provider's stable subject id).")
    OIDC_PROVIDER_NAME: str = _setting(
        "single sign-on", "Single sign-on: the provider's name on the console's sign-in button "
        "(\"Sign in with …\").")
    EXPORTS_DIR: str = _setting(
        "exports", "Folder that receives the monthly audit exports (<folder>/<YYYY-MM>/); a "
        "relative path is relative to the working directory, a leading ~ is the home folder.")
    EXPORT_SIGNING_KEY: str | None = _setting(
        None, "Ed25519 private key (PEM) that signs each export's manifest (manifest.sig); "
        "usually given as EXPORT_SIGNING_KEY_FILE. Unset: exports are not signed.", secret=True)
    SGE_RECON_HOME: str = _setting(
        ".sge-recon", "Folder for local state: the embedded database, demo logs, locks; a "
        "relative path is relative to the working directory (run from another folder without "
        "DATABASE_URL, a command uses another embedded database).")
    LEDGER_ORDER_LAG_SECONDS: int = _setting(
        300, "Under a platform profile the ledger checkpoint orders entries by their time: an "
        "entry may carry a time at most this much earlier than its transaction's start (client "
        "clock skew, time taken inside the transaction). Larger is safer, smaller is fresher.",
        minimum=1, maximum=YEAR_S)
    PLATFORM_PROFILE: str = _setting(
        "contract", "How the platform's tables map to the contract (DESIGN §11): contract (the "
        "§4 tables in public), sge (the SGE platform as built), or the path to a profile file "
        "of your own (docs/profiles.md).")

    # Runbook thresholds
    INTENT_TIMEOUT_MINUTES: int = _setting(
        10, "An intent in payment_pending/verifying/processing longer than this is stuck (warn).",
        minimum=1, maximum=YEAR_MIN)
    INTENT_STUCK_FAIL_MINUTES: int = _setting(
        15, "A stuck intent older than this fails the check and opens an incident.",
        minimum=1, maximum=YEAR_MIN)
    PAYOUT_SLA_HOURS: int = _setting(
        24, "A payout batch pending approval, or approved but not executed, longer than this "
        "breaches the SLA.", minimum=1, maximum=YEAR_H)
    WEBHOOK_RETRY_WARN_COUNT: int = _setting(
        5, "More deliveries than this in retry_scheduled is a warning.",
        minimum=0, maximum=MAX_COUNT)
    WEBHOOK_CONSECUTIVE_FAILURES: int = _setting(
        10, "An enabled endpoint with more consecutive failed attempts than this is failing.",
        minimum=1, maximum=MAX_COUNT)
    WEBHOOK_DISABLE_HOURS: int = _setting(
        24, "An endpoint failing for this long should be (and is, by the platform) disabled.",
        minimum=1, maximum=YEAR_H)
    WORKER_DOWN_SECONDS: int = _setting(
        60, "A worker with no heartbeat for this long is down.", minimum=1, maximum=YEAR_S)
    WORKER_DOWN_ALERT_MINUTES: int = _setting(
        5, "Alert when workers have been down for longer than this.", minimum=0, maximum=YEAR_MIN)
    QUEUE_DEPTH_WARN: int = _setting(
        100, "Waiting settlement jobs at or above this is a warning.", minimum=0, maximum=MAX_COUNT)
    QUEUE_DEPTH_FAIL: int = _setting(
        500, "Waiting settlement jobs above this fails the check and opens a P2 incident.",
        minimum=0, maximum=MAX_COUNT)
    PROCESSING_TIME_WARN_SECONDS: Decimal = _setting(
        Decimal("5"), "Mean creation-to-completion time of the last 100 intents at or above this "
        "is a warning.", minimum=0, maximum=YEAR_S)
    PROCESSING_TIME_FAIL_SECONDS: Decimal = _setting(
        Decimal("15"), "Mean processing time above this fails the check.",
        minimum=0, maximum=YEAR_S)
    PAYOUT_APPROVALS_REQUIRED: int = _setting(
        2, "Distinct approvers a payout batch needs before it is approved, executing or executed "
        "(payout_approval_quorum): 2 is the contract's two-person rule; 1 only for a platform "
        "that records its second person elsewhere (the SGE platform: the batch's creator, who "
        "may not approve it).", minimum=1, maximum=MAX_COUNT)
    LEDGER_TOLERANCE: Decimal = _setting(
        Decimal("0.01"), "A per-program/currency imbalance of at least this much fails "
        "ledger_balance; greater than 0 and at most 1.")
    CHECK_WORK_MEM: str = _setting(
        "64MB", "PostgreSQL work_mem of the check runs' sessions (a size such as 64MB; `server`: "
        "the server's own, 4MB unless its DBA changed it). The full run's joins and "
        "per-transaction GROUP BYs spill to disk when it is too small; a run uses "
        "CHECK_SESSIONS sessions at once, and each sort or hash in a query may use up to this "
        "much (hash tables hash_mem_multiplier times it, per parallel worker): 64MB keeps a run "
        "to a few hundred MB; at 10 M entries 256MB measured no faster (the sorts spill the same).")
    FUSED_LEDGER_PASS: bool = _setting(
        True, "Run the full SQL run's per-transaction ledger checks (transaction_balance, "
        "journal_single_program) from one sort of the ledger by transaction "
        "(checks/fused/journal_pass.sql; same results): at 10 M entries on 2 cores 6.0 s "
        "instead of 9.8 s one by one (`sge-recon bench` prints both). Off: each check runs "
        "from its own file.")
    CHECK_SESSIONS: int = _setting(
        2, "How many database sessions a full run uses at once (1 to 8), in the sql and gx "
        "engines: its checks run side by side, each taken up in catalogue order by the next "
        "free session (a fused query with its checks), the results in catalogue order. Most "
        "checks are one parallel scan, but the sorts and joins of the heaviest use one core: "
        "at 10 M entries on 2 cores two sessions take the SQL run from 22.7 s to 19 s and the "
        "GX run from 52 s to 42 s. 1: one check after another, for a platform server that must "
        "not take more. The per-minute run is cheap and has a time budget: always one session.",
        minimum=1)
    DAILY_CHECK_ENGINE: str = _setting(
        "gx", "Engine of the scheduler's daily full reconciliation: gx (the catalogue as a Great "
        "Expectations suite), sql (plain PostgreSQL) or duckdb (the full-history ledger checks "
        "in DuckDB over the verified audit exports in EXPORTS_DIR plus the live entries no "
        "export covers; same results, for ledgers where the daily run gets long; the other "
        "checks on PostgreSQL). Any engine that cannot run falls back to sql for that night.")
    COLUMNAR_MEMORY_LIMIT: str = _setting(
        "256MB", "Memory of the columnar engine's DuckDB (`check --engine duckdb`, "
        "DAILY_CHECK_ENGINE=duckdb), a size such as 256MB or 1GB; beyond it DuckDB spills to a "
        "private temporary folder, removed after the run. A check it cannot run within it runs "
        "on PostgreSQL (details.columnar_fallback says so). none: DuckDB's default, 80 % of the "
        "machine's memory. At 6 M entries the run's peak was 1.14 GB unbounded, 663 MB at "
        "256MB, no slower.")
    SUSPENSE_ACCOUNT: str = _setting(
        "suspense", "The ledger account a one-sided correction is posted against (the missing leg "
        "of an unbalanced transaction waits there until finance explains it).")
    CORRECTION_SECOND_PERSON_OVER: Decimal = _setting(
        Decimal("1000"), "A ledger correction that moves more than this in any one currency "
        "(its debits, or its credits, added up), counting what the same admin posted alone in "
        "that currency and side in the previous 24 hours, is only requested by the admin who "
        "prepares it; a second admin confirms before it is posted.", minimum=0)

    # Console, jobs, alerts
    REFRESH_SECONDS: int = _setting(
        30, "How often the console's Overview refreshes its live part.", minimum=1, maximum=DAY_S)
    ALERT_REMINDER_HOURS: Decimal = _setting(
        Decimal("4"), "While an incident stays open, a reminder is posted this often.",
        minimum=0, maximum=YEAR_H)
    ALERT_RESOLVE_AFTER_MINUTES: int = _setting(
        5, "An incident resolves only once its fault has stayed away this long (a flapping "
        "check stays one open incident, not a page per flap; 0 = resolve at once).",
        minimum=0, maximum=DAY_S // 60)
    SAMPLE_ROWS: int = _setting(
        100, "How many failing rows a check keeps as its sample (the count is always exact).",
        minimum=1, maximum=MAX_COUNT)
    FAST_RUN_BUDGET_SECONDS: int = _setting(
        40, "Time budget of the per-minute fast checks run: a check that would overrun it is cut "
        "and reported error, so the alerting job always finishes in its minute.",
        minimum=1, maximum=HOUR_S)
    MONITOR_STATEMENT_TIMEOUT_SECONDS: int = _setting(
        20, "statement_timeout of the monitor job's other queries (metrics sample, incident "
        "rules) and of the weekly payout reminder's; their lock_timeout is 5 s, so a table "
        "lock never hangs those jobs.",
        minimum=1, maximum=HOUR_S)
    CHECKS_DIR: str = _setting(
        "", "Folder of the check catalogue (checks.yml + .sql files). Empty: the project's checks/.")

    # ----------------------------------------------------------------------------------------
    @classmethod
    def describe(cls) -> list[dict[str, Any]]:
        """Name, type, default and help of every setting (for the README and ``--help``)."""
        out = []
        for f in fields(cls):
            out.append({"name": f.name, "type": _type_name(f.type), "default": f.default,
                        "help": f.metadata["help"], "secret": f.metadata["secret"]})
        return out

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, config_file: str | Path | None = None,
             **overrides: Any) -> "Settings":
        """Build the settings from defaults, the optional TOML file, the environment, overrides."""
        env = os.environ if env is None else env
        raw: dict[str, Any] = {}
        path = config_file or env.get(CONFIG_FILE_ENV)
        if path or Path(DEFAULT_CONFIG_FILE).is_file():
            source = "--config" if config_file else CONFIG_FILE_ENV if path else DEFAULT_CONFIG_FILE
            raw.update(_read_toml(Path(path or DEFAULT_CONFIG_FILE), source))
        names = {f.name for f in fields(cls)}
        for name in names:
            if env.get(name) not in (None, ""):
                raw[name] = env[name]
            elif env.get(f"{name}_FILE"):
                raw[name] = read_secret_file(name, env[f"{name}_FILE"])
            elif f"{name}_FILE" in env:
                # an empty *_FILE names no file: read as "unset", it meant unsigned exports
                raise ConfigError(f"{name}_FILE", f"is set but empty, so it names no file; "
                                                  f"point it at the file that holds {name}, or "
                                                  f"unset {name}_FILE")
        raw.update({k: v for k, v in overrides.items() if v is not None})
        values = {}
        for f in fields(cls):
            if f.name in raw:
                values[f.name] = _coerce(f, raw[f.name])
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Cross-field checks. Each message names the setting and how to fix it."""
        if self.DATABASE_URL is not None:
            check_postgres_url(self.DATABASE_URL)
        if self.REDIS_URL is not None:
            check_redis_url(self.REDIS_URL)
        if self.PLATFORM_READ_URL is not None:
            check_postgres_url(self.PLATFORM_READ_URL, "PLATFORM_READ_URL")
            if self.DATABASE_URL is None:
                raise ConfigError("PLATFORM_READ_URL", "needs DATABASE_URL: it names a standby "
                                  "of the primary that DATABASE_URL points at (sge-recon's state "
                                  "and the checkpoint watermark stay there); set DATABASE_URL to "
                                  "the primary, or unset PLATFORM_READ_URL")
        for name in ("SGE_ADMIN_API_URL", "CONSOLE_URL", "SLACK_WEBHOOK_URL", "DISCORD_WEBHOOK_URL",
                     "PAGERDUTY_EVENTS_URL", "ALERT_WEBHOOK_URL"):
            value = getattr(self, name)
            if value is not None:
                check_http_url(name, value)
        if self.ALERT_WEBHOOK_URL and not self.ALERT_WEBHOOK_SECRET:
            raise ConfigError("ALERT_WEBHOOK_SECRET", "must be set when ALERT_WEBHOOK_URL is: "
                                                      "every webhook message is signed with it")
        if not self.SGE_ENVIRONMENT.strip():
            raise ConfigError("SGE_ENVIRONMENT", "must not be empty; name this deployment, "
                                                 "e.g. production")
        pairs = [("INTENT_TIMEOUT_MINUTES", "INTENT_STUCK_FAIL_MINUTES"),
                 ("QUEUE_DEPTH_WARN", "QUEUE_DEPTH_FAIL"),
                 ("PROCESSING_TIME_WARN_SECONDS", "PROCESSING_TIME_FAIL_SECONDS")]
        for low, high in pairs:
            if getattr(self, low) > getattr(self, high):
                raise ConfigError(high, f"must be at least {low} ({getattr(self, low)}), "
                                        f"got {getattr(self, high)}; raise {high} or lower {low}")
        if self.LEDGER_TOLERANCE <= 0:
            raise ConfigError("LEDGER_TOLERANCE", f"must be greater than 0 (e.g. 0.01), got "
                                                  f"{self.LEDGER_TOLERANCE}: at 0 every balanced "
                                                  "program would fail ledger_balance")
        if self.LEDGER_TOLERANCE > 1:
            # one whole unit is already the smallest coin of a currency without minor units
            raise ConfigError("LEDGER_TOLERANCE", f"must be at most 1 (one whole currency unit), "
                                                  f"got {self.LEDGER_TOLERANCE}: it absorbs "
                                                  "rounding dust, and a larger one would let "
                                                  "ledger_balance pass real imbalances")
        if self.DAILY_CHECK_ENGINE not in CHECK_ENGINES:
            raise ConfigError("DAILY_CHECK_ENGINE", f"must be one of {', '.join(CHECK_ENGINES)}, "
                                                    f"got {self.DAILY_CHECK_ENGINE!r}")
        check_work_mem(self.CHECK_WORK_MEM)
        duckdb_memory_limit(self.COLUMNAR_MEMORY_LIMIT)
        if self.CHECK_SESSIONS > MAX_CHECK_SESSIONS:
            raise ConfigError("CHECK_SESSIONS", f"must be at most {MAX_CHECK_SESSIONS}, got "
                                                f"{self.CHECK_SESSIONS}: each session may take a "
                                                "core and CHECK_WORK_MEM per sort of the platform "
                                                "server")
        check_oidc(self)
        keys = [k for k in ("PAYOUT_APPROVER_1", "PAYOUT_APPROVER_2") if getattr(self, k)]
        if len(keys) == 2 and self.PAYOUT_APPROVER_1 == self.PAYOUT_APPROVER_2:
            raise ConfigError("PAYOUT_APPROVER_2", "must differ from PAYOUT_APPROVER_1: two-person "
                                                   "approval needs two distinct keys")

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.OIDC_SERVER_METADATA_URL)

    @property
    def home(self) -> Path:
        return Path(self.SGE_RECON_HOME).resolve()

    @property
    def columnar_memory_limit(self) -> str | None:
        """COLUMNAR_MEMORY_LIMIT as DuckDB's memory_limit takes it (None: DuckDB's default)."""
        return duckdb_memory_limit(self.COLUMNAR_MEMORY_LIMIT)

    @property
    def checks_dir(self) -> Path:
        if self.CHECKS_DIR:
            return Path(self.CHECKS_DIR).resolve()
        return project_root() / "checks"

    def masked(self) -> dict[str, str]:
        """Every setting as text, secrets masked: safe to log or show."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = mask(value) if f.metadata["secret"] and value else \
                hide_password(str(value))  # a URL setting may carry user:password@
        return out


def project_root() -> Path:
    """The folder holding checks/, sql/, app/ (the source checkout, or the installed share)."""
    return Path(__file__).resolve().parent.parent


def _type_name(tp: Any) -> str:
    return str(tp).replace("typing.", "").replace("decimal.", "")


def _read_toml(path: Path, source: str) -> dict[str, Any]:
    """The settings of TOML file ``path``; ``source`` says where its name came from (--config,
    SGE_RECON_CONFIG or the working directory's sge-recon.toml), for the messages."""
    fix = {"--config": "give --config a readable TOML file",
           CONFIG_FILE_ENV: f"point {CONFIG_FILE_ENV} at a readable TOML file or unset it"
           }.get(source, f"fix or remove {path}")
    try:
        data = tomllib.loads(read_small_file(path, CONFIG_MAX_BYTES).decode("utf-8"))
    except UnfitFile as exc:
        raise ConfigError(source, f"config file {path} {exc}; {fix}") from None
    except FileNotFoundError:
        raise ConfigError(source, f"config file {path} does not exist; {fix}") from None
    except IsADirectoryError:
        raise ConfigError(source, f"{path} is a folder, not a config file; {fix}") from None
    except OSError as exc:
        raise ConfigError(source, f"cannot read config file {path} ({exc.strerror}); "
                                  f"{fix}") from None
    except UnicodeDecodeError:
        raise ConfigError(source, f"{path} is not UTF-8 text, so not TOML; {fix}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, f"{path} is not valid TOML ({exc}); fix the file") from None
    known = {f.name for f in fields(Settings)}
    out = {}
    for key, value in data.items():
        name = key.upper()
        if name in out:
            raise ConfigError(name, f"is given twice in {path} (as keys differing only in case); "
                                    f"keep one of them")
        if name not in known:
            raise ConfigError(name, f"unknown setting in {path}; known settings are listed by "
                                    f"`sge-recon settings`")
        if isinstance(value, (dict, list)):
            raise ConfigError(name, f"in {path} must be a single value, not a TOML "
                                    f"{'table' if isinstance(value, dict) else 'list'}; write "
                                    f'e.g. {key} = "value"')
        out[name] = value
    return out


def _coerce(f: Any, value: Any) -> Any:
    target = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    name, minimum = f.name, f.metadata["minimum"]
    text = str(value).strip()
    if "\x00" in text:  # TOML's \u0000: no path, URL or text holds one (the value is not shown)
        raise ConfigError(name, "holds a NUL character (\\u0000 in the config file); remove it")
    if any("\ud800" <= c <= "\udfff" for c in text):  # undecodable bytes (surrogateescape)
        raise ConfigError(name, "is not UTF-8 text (bytes of another encoding); write it in UTF-8")
    if target.startswith("int"):
        try:
            result: Any = int(text)
        except ValueError:
            raise ConfigError(name, f"must be a whole number, got {text!r}") from None
    elif target.startswith("bool"):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(name, f"must be true or false, got {text!r}")
    elif target.startswith("Decimal"):
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ConfigError(name, f"must be a number, got {text!r}") from None
        if not result.is_finite():
            raise ConfigError(name, f"must be a finite number, got {text!r}")
    else:
        return text
    if minimum is not None and result < minimum:
        raise ConfigError(name, f"must be at least {minimum}, got {text}")
    maximum = f.metadata["maximum"]
    if maximum is not None and result > maximum:
        raise ConfigError(name, f"must be at most {maximum}{_MAXIMA.get(maximum, '')}, got "
                                f"{text[:40]}{'…' if len(text) > 40 else ''}; set a smaller value")
    return result


_MAXIMA = {YEAR_S: " (one year)", YEAR_MIN: " (one year)", YEAR_H: " (one year)",
           HOUR_S: " (one hour)", DAY_S: " (one day)"}
