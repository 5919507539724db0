"""``sge-recon demo``: the whole system on one machine, started and stopped as one.

Embedded PostgreSQL (or ``DATABASE_URL``), ``db init``, a first simulation when the platform is
empty, then each service as a child process with its own log: the reference admin API, the worker,
live traffic, the scheduler (with /metrics) and the console. Ctrl-C stops them all within seconds.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sge_recon.lifetime import die_with_parent
from refplatform.listeners import session_listens
from refplatform.setup import setup_database
from sge_recon.config import Settings
from sge_recon.config_checks import hide_password
from sge_recon.context import Recon
from sge_recon.db import describe_embedded
from sge_recon.errors import AlreadyRunning, ConfigError, ReconError, UsageError

DEMO_KEYS = ("ADMIN_API_KEY", "PAYOUT_APPROVER_1", "PAYOUT_APPROVER_2")
# the demo's console accounts: one per role, two approvers (one per approver key)
DEMO_ACCOUNTS = (("viewer", "viewer", None), ("operator", "operator", None),
                 ("approver1", "approver", 1), ("approver2", "approver", 2),
                 ("admin", "admin", None))
ACCOUNTS_FILE = "demo-accounts.txt"
# --profile sge: the SGE admin ids (X-Admin-Id) the demo accounts act as; the stand-in's batches
# are created by ops:alice, ops:carlos and ops:dana, so these approvers are never the creator
DEMO_SGE_IDS = {"approver1": "finance:bob", "approver2": "finance:erin", "admin": "finance:zoe"}


@dataclass
class Service:
    name: str
    argv: list[str]
    url: str | None = None
    port: int | None = None
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    ready: bool = False  # its own processes listen on its port (refplatform.listeners)


@dataclass
class DemoOptions:
    intents: int = 20_000
    seed: int = 42
    faults: str | None = None  # None: the demo's default set (DEMO_FAULTS / SGE_DEMO_FAULTS)
    clean: bool = False  # plant no faults at all
    api_port: int = 8000
    console_port: int = 8501
    metrics_port: int = 9108
    traffic_rate: float = 2.0
    duration: float | None = None  # stop by itself after this many seconds (tests, CI)
    extra_services: list[str] = field(default_factory=list)
    profile: str = "contract"  # contract: the reference platform; sge: an SGE-shaped stand-in


# What the demo plants by default, so that a new user sees red lights, incidents and something
# to act on (a P0 imbalance to correct, stuck intents to retry, an overdue payout batch to approve,
# failed webhook deliveries to retry, a failing endpoint); `--clean` plants none.
DEMO_FAULTS = ("ledger_imbalance", "stuck_intents", "payout_sla", "webhook_exhausted",
               "webhook_endpoint_failing")
# What the SGE-shaped demo plants by default: something to look at on every running check.
SGE_DEMO_FAULTS = ("ledger_imbalance", "unbalanced_transaction", "stuck_intents", "payout_sla",
                   "commission_rate", "affiliate_cycle")
SGE_DEMO_DATABASE = "sge_demo"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Demo:
    def __init__(self, settings: Settings, options: DemoOptions, available_commands: set[str],
                 echo: Callable[[str], None] = print):
        self.settings = settings
        self.available_commands = available_commands
        self.options = options
        self.echo = echo
        self.services: list[Service] = []
        self._lock_file = None
        self._stopping = False
        self._started = False  # the services are being started (or run)
        self._redis = None  # the SGE demo's private redis-server (refplatform.redis_server)

    # -- lifecycle ----------------------------------------------------------------------------
    def run(self) -> None:
        # Ctrl-C, SIGTERM and SIGHUP (the terminal closed) all stop the demo the same way, from
        # its first step on: before the services start they abort the setup like Ctrl-C (the
        # first simulation rolls back, the embedded server is let go), afterwards they stop every
        # service. SIGTERM and SIGHUP used to kill the demo outright: its services ran on,
        # orphaned, and the embedded PostgreSQL with them.
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            self._run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self) -> None:
        self._check_distinct_ports()  # before anything starts
        home = self.settings.home
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError("SGE_RECON_HOME", f"cannot create the folder {home} "
                                                f"({exc.strerror}); set SGE_RECON_HOME to a "
                                                "folder you can write") from None
        self._acquire_lock(home / "demo.lock")
        self._check_ports()  # before the database and the first simulation
        embedded = not self.settings.DATABASE_URL  # the server in SGE_RECON_HOME/pgdata
        if self.options.profile == "sge":
            self.settings = self._sge_settings()
            self._sge_redis()
        recon = Recon(self.settings, application_name="sge-recon-demo")
        where = describe_embedded(home / "pgdata", recon.db.url) if embedded else recon.db.where
        self.echo(f"Database: {where} (platform profile {self.options.profile})")
        if self.options.profile == "sge":
            self._sge_platform(recon)
        setup_database(recon)  # the reference platform's tables where absent, then db init
        self._check_approver_keys_free(recon)  # before the simulation and any demo account
        if self.options.profile != "sge":
            self._first_simulation(recon)
        self.accounts_file = self._demo_accounts(recon)
        env = self._child_env(recon.db.url)
        try:
            self.services = self._plan_services()
            self._started = True  # a stop signal from here on stops the services
            for service in self.services:
                self._start(service, env)
            self._wait_ready()
            self._print_addresses(env)
            self._supervise()
        finally:
            self.stop()

    def stop(self) -> None:
        """SIGTERM every child, wait a little, SIGKILL what is left. Safe to call twice."""
        self._stopping = True
        alive = [s for s in self.services if s.process and s.process.poll() is None]
        for service in alive:
            service.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 8
        for service in alive:
            try:
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()
        if alive:
            self._say("Stopped " + ", ".join(s.name for s in alive) + ".")
        if self._redis is not None:
            self._redis.close()
            self._redis = None
            self._say("Stopped redis-server.")
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _say(self, line: str) -> None:
        """Say how the stop went, when there is still a terminal to say it on (after SIGHUP
        writing to it fails, and the stop must go on)."""
        try:
            self.echo(line)
        except OSError:
            pass

    # -- steps --------------------------------------------------------------------------------
    def _acquire_lock(self, path: Path) -> None:
        try:
            handle = path.open("a+")
        except OSError as exc:  # a read-only checkout or SGE_RECON_HOME: the demo writes there
            raise ConfigError("SGE_RECON_HOME", f"cannot write {path} ({exc.strerror}); the demo "
                                                "keeps its database, accounts and keys there: "
                                                "set SGE_RECON_HOME to a folder you can write"
                              ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise AlreadyRunning(
                f"a demo is already running ({holder}, lock {path}); stop it with Ctrl-C in its "
                "terminal, or set SGE_RECON_HOME to another folder to run a second one") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._lock_file = handle

    def _first_simulation(self, recon: Recon) -> None:
        row = recon.db.fetch_one("SELECT EXISTS (SELECT 1 FROM platform.programs) AS has_data")
        if row and row["has_data"]:
            self.echo("Platform data present: reusing it, with the faults planted when it was "
                      "loaded (`sge-recon simulate --reset` replaces it"
                      + (", e.g. with no faults" if self.options.clean else "") + ").")
            return
        from .simulate import Simulator

        faults = self.faults()
        self.echo(f"Loading a simulated platform ({self.options.intents:,} intents, "
                  f"seed {self.options.seed}, faults: {self._faults_text(faults)})…")
        Simulator(recon).run(intents=self.options.intents, seed=self.options.seed, faults=faults)

    def faults(self) -> list[str]:
        """The faults the first simulation plants: none with --clean, the --faults given, or
        the demo's default set (something to act on)."""
        if self.options.clean:
            return []
        if self.options.faults is not None:
            return [f for f in self.options.faults.split(",") if f.strip()]
        return list(SGE_DEMO_FAULTS if self.options.profile == "sge" else DEMO_FAULTS)

    def _faults_text(self, faults: list[str]) -> str:
        if not faults:
            return "none (--clean)" if self.options.clean else "none"
        if self.options.faults is None:
            return ", ".join(faults) + " (the demo's default; --clean for none)"
        return ", ".join(faults)

    def _sge_settings(self) -> Settings:
        """The SGE-shaped demo reads its own database (``sge_demo`` on the embedded server, or
        DATABASE_URL) through the ``sge`` profile."""
        from dataclasses import replace

        from sge_recon.db import ensure_database, resolve_url

        url = self.settings.DATABASE_URL or ensure_database(resolve_url(self.settings),
                                                            SGE_DEMO_DATABASE)
        return replace(self.settings, DATABASE_URL=url, PLATFORM_PROFILE="sge")

    def _sge_redis(self) -> None:
        """The SGE platform's queues are BullMQ on Redis: use REDIS_URL, or start a private
        redis-server (Debian's; `python3 dev.py demo` installs it) for the demo's lifetime."""
        from dataclasses import replace

        if self.settings.REDIS_URL:
            self.echo(f"Redis: {self.settings.masked()['REDIS_URL']} (REDIS_URL)")
            return
        from .redis_server import PrivateRedis

        folder = self.settings.home / "redis"
        self._redis = PrivateRedis.start(folder)
        self.settings = replace(self.settings, REDIS_URL=self._redis.url)
        self.echo(f"Redis: private redis-server on {self._redis.url} (data in {folder})")

    def _sge_platform(self, recon: Recon) -> None:
        """The SGE stand-in's tables and a simulated SGE platform, when the database has none."""
        from refplatform.sge_platform import create_sge_schema, load_sge_platform, sge_platform_present

        if sge_platform_present(recon.db):
            self.echo("SGE platform data present: reusing it.")
            return
        faults = self.faults()
        self.echo(f"Loading a simulated SGE platform ({self.options.intents:,} intents, seed "
                  f"{self.options.seed}, faults: {self._faults_text(faults)})…")
        create_sge_schema(recon.db)
        load_sge_platform(recon.db, intents=max(self.options.intents, 200),
                          seed=self.options.seed, faults=faults)

    def _child_env(self, database_url: str) -> dict[str, str]:
        env = dict(os.environ)
        env["DATABASE_URL"] = database_url
        env["PLATFORM_PROFILE"] = self.settings.PLATFORM_PROFILE
        if self.settings.REDIS_URL:
            env["REDIS_URL"] = self.settings.REDIS_URL
        env["SGE_ADMIN_API_URL"] = f"http://127.0.0.1:{self.options.api_port}"
        env["CONSOLE_URL"] = f"http://127.0.0.1:{self.options.console_port}"
        env["SGE_RECON_HOME"] = str(self.settings.home)
        env["PYTHONUNBUFFERED"] = "1"
        if not os.environ.get("SGE_ENVIRONMENT"):
            env["SGE_ENVIRONMENT"] = "demo"
        env["EXPORTS_DIR"] = str(Path(self.settings.EXPORTS_DIR).resolve())
        keys = self._demo_keys()
        for name in DEMO_KEYS:
            env[name] = getattr(self.settings, name) or keys[name]
        if not self.settings.EXPORT_SIGNING_KEY:
            env["EXPORT_SIGNING_KEY_FILE"] = str(self._demo_signing_key())
        return env

    @staticmethod
    def _check_approver_keys_free(recon: Recon) -> None:
        """The demo binds approver1/approver2 to the two approver keys (one active account per
        key): an account of the installation holding one stops the demo here, naming it, before
        anything is loaded or created (not after the first demo accounts, whose passwords would
        be lost with demo-accounts.txt unwritten)."""
        demo_names = {name: slot for name, _role, slot in DEMO_ACCOUNTS if slot}
        for account in recon.accounts.list():
            slot = account.approver_slot
            if slot and not account.disabled and demo_names.get(account.name) != slot:
                raise UsageError(
                    f"approver key {slot} is held by the account {account.name!r}, and the demo "
                    f"binds its own approver{slot} to it (one account per key); disable it "
                    f"(`sge-recon users disable {account.name}`) or run the demo on another "
                    "database (DATABASE_URL, or another SGE_RECON_HOME)")

    def _demo_accounts(self, recon: Recon) -> Path:
        """The console's demo accounts (one per role, both approvers), with generated passwords
        kept (0600) in SGE_RECON_HOME/demo-accounts.txt; reused while that file exists."""
        path = self.settings.home / ACCOUNTS_FILE
        known: dict[str, str] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3 and not line.startswith("#"):
                    known[parts[0]] = parts[2]
        lines = ["# sge-recon demo: console accounts (username role password); sign in at the "
                 "console", "# change one with: sge-recon users set-password NAME"]
        for name, role, slot in DEMO_ACCOUNTS:
            password = known.get(name)
            if password is None or recon.accounts.get(name) is None:
                password = password or secrets.token_urlsafe(12)
                recon.accounts.add(name, role, password, approver_slot=slot, replace=True)
            platform_id = DEMO_SGE_IDS.get(name) if self.options.profile == "sge" else None
            current = recon.accounts.get(name)
            if current is not None and current.platform_id != platform_id:
                recon.accounts.set_platform_id(name, platform_id)
            lines.append(f"{name} {role} {password}" + (f" (approver key {slot})" if slot else "")
                         + (f" (SGE admin id {platform_id})" if platform_id else ""))
        write_private(path, "\n".join(lines) + "\n")
        return path

    def _demo_signing_key(self) -> Path:
        """An Ed25519 key that signs the demo's export manifests, made once (0600)."""
        from sge_recon.exports.signing import generate_private_key_pem

        path = self.settings.home / "export-signing-key.pem"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(generate_private_key_pem())
        return path

    def _demo_keys(self) -> dict[str, str]:
        """Keys for the demo, generated once and kept (0600) under SGE_RECON_HOME."""
        path = self.settings.home / "demo-keys.env"
        keys: dict[str, str] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                if "=" in line:
                    name, value = line.split("=", 1)
                    keys[name.strip()] = value.strip()
        if not all(keys.get(k) for k in DEMO_KEYS):
            keys = {k: f"demo-{k.lower().replace('_', '-')}-{secrets.token_hex(8)}" for k in DEMO_KEYS}
            write_private(path, "".join(f"{k}={v}\n" for k, v in keys.items()))
        return keys

    def _plan_services(self) -> list[Service]:
        o = self.options
        base = [sys.executable, "-m", "sge_recon"]
        plan = [
            Service("api", base + ["api", "--port", str(o.api_port)],
                    f"http://127.0.0.1:{o.api_port}/docs", o.api_port),
            Service("worker", base + ["worker"]),
            Service("traffic", base + ["traffic", "--rate", str(o.traffic_rate)]),
            Service("scheduler", base + ["scheduler", "--metrics-port", str(o.metrics_port)],
                    f"http://127.0.0.1:{o.metrics_port}/metrics", o.metrics_port),
            Service("console", base + ["console", "--port", str(o.console_port)],
                    f"http://127.0.0.1:{o.console_port}", o.console_port),
        ]
        if o.profile == "sge":
            # The reference platform's API, worker and traffic speak the contract schema; the SGE
            # demo runs the SGE /api/v2 stand-in and BullMQ traffic with workers on Redis.
            plan = [s for s in plan if s.name in ("scheduler", "console")]
            plan[:0] = [
                Service("api", base + ["api", "--sge", "--port", str(o.api_port)],
                        f"http://127.0.0.1:{o.api_port}/docs", o.api_port),
                Service("queues", base + ["sge-queues", "--rate", str(max(o.traffic_rate, 0.01))]),
            ]
        available = [s for s in plan if s.argv[3] in self.available_commands]
        missing = [s.name for s in plan if s.argv[3] not in self.available_commands]
        if missing:
            self.echo("Not installed yet, skipped: " + ", ".join(missing) + ".")
        return available

    def _ports(self) -> tuple[tuple[str, int], ...]:
        return (("--api-port", self.options.api_port),
                ("--console-port", self.options.console_port),
                ("--metrics-port", self.options.metrics_port))

    def _check_distinct_ports(self) -> None:
        seen: dict[int, str] = {}
        for name, port in self._ports():
            if port in seen:
                raise UsageError(f"{seen[port]} and {name} are both {port}: each service needs "
                                 f"a port of its own; give {name} another port")
            seen[port] = name

    def _check_ports(self) -> None:
        for name, port in self._ports():
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    raise ReconError(f"port {port} on 127.0.0.1 is in use; stop what uses it or "
                                     f"choose another with {name}") from None

    def _start(self, service: Service, env: dict[str, str]) -> None:
        logs = self.settings.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        service.log_path = logs / f"{service.name}.log"
        log = service.log_path.open("ab")
        service.process = subprocess.Popen(service.argv, env=env, stdout=log,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           start_new_session=True, preexec_fn=die_with_parent)
        log.close()

    def _wait_ready(self, timeout: float = 60) -> None:
        """Until each service with a port listens on it itself (not another demo's, say)."""
        deadline = time.monotonic() + timeout
        for service in [s for s in self.services if s.port]:
            while time.monotonic() < deadline and not self._stopping:
                if service.process.poll() is not None:
                    break
                own = session_listens(service.port, service.process.pid)
                if own is None:  # no /proc: an answer on the port, from a child still alive
                    with socket.socket() as sock:
                        own = sock.connect_ex(("127.0.0.1", service.port)) == 0
                if own and service.process.poll() is None:
                    service.ready = True
                    break
                time.sleep(0.2)

    def _print_addresses(self, env: dict[str, str]) -> None:
        self.echo("")
        self.echo("sge-recon demo is running:")
        for service in self.services:
            state = ("EXITED" if service.process.poll() is not None
                     else "running" if service.ready or not service.port else "NOT LISTENING")
            where = service.url or "(background)"
            self.echo(f"  {service.name:<10} {where:<40} {state}  log: {service.log_path}")
        self.echo("")
        self.echo(f"  console accounts (viewer, operator, approver1, approver2, admin) and "
                  f"their passwords: {self.settings.home / ACCOUNTS_FILE}")
        if self.options.profile == "sge":
            where = self._redis.url if self._redis else self.settings.masked().get("REDIS_URL")
            self.echo("  SGE admin API: approvals go as the account's SGE admin id (X-Admin-Id); "
                      f"queues: BullMQ on {where}")
        else:
            self.echo(f"  API keys (held by the console and the API): "
                      f"{self.settings.home / 'demo-keys.env'}")
        self.echo("Press Ctrl-C to stop everything.")

    def _supervise(self) -> None:
        started = time.monotonic()
        while not self._stopping:
            if self.options.duration is not None and time.monotonic() - started >= self.options.duration:
                break
            for service in self.services:
                code = service.process.poll()
                if code is not None and not self._stopping:
                    # the demo is the whole system: without one of its services it is not
                    # running, so it stops rather than carry on reporting "running"
                    raise ReconError(f"the demo's {service.name} exited with code {code}"
                                     f"{_last_line(service.log_path)}; the demo stopped. See "
                                     f"{service.log_path}")
            time.sleep(0.2)

    def _on_signal(self, signum, frame) -> None:
        if not self._started:
            raise KeyboardInterrupt  # still setting up: abort it, as Ctrl-C does
        self._stopping = True


def _last_line(log: Path | None) -> str:
    """``: <the last line of the log>`` (what a service said as it died), or nothing."""
    try:
        with open(log, "rb") as fh:  # type: ignore[arg-type]
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4096))
            lines = fh.read().decode("utf-8", "replace").strip().splitlines()
    except (OSError, TypeError):
        return ""
    return f" ({hide_password(lines[-1].strip()[:200])})" if lines else ""


def write_private(path: Path, text: str) -> None:
    """``text`` in ``path``, readable by its owner only (keys, passwords): written to a new file
    made 0600 and renamed over ``path``; never a moment in a file another user may open (a
    plain write creates it 0644 before a chmod), nor in the old file, which may be held open."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)  # left by a crash
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
