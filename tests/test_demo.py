"""`sge-recon demo`: starts, refuses a second copy, stops cleanly on Ctrl-C."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORTS = {}


def demo_args():
    PORTS.update(api=free_port(), console=free_port(), metrics=free_port())
    return ["--api-port", str(PORTS["api"]), "--console-port", str(PORTS["console"]),
            "--metrics-port", str(PORTS["metrics"]), "--intents", "1000"]


def get(url: str) -> int:
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except OSError as exc:
        return getattr(exc, "code", 0)


def wait_for(proc, text, timeout=180):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"{text!r} not seen; output so far:\n{''.join(seen)}")


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_demo_runs_refuses_a_second_and_stops_cleanly(cli_env):
    first = subprocess.Popen([sys.executable, "-m", "sge_recon", "demo", *demo_args()],
                             env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    try:
        first_args = dict(PORTS)
        output = wait_for(first, "Press Ctrl-C")
        assert "sge-recon demo is running" in output
        assert "Loading a simulated platform (1,000 intents" in output  # the stand-in's simulator
        for service in ("api", "worker", "traffic", "scheduler", "console"):
            line = next(l for l in output.splitlines() if l.strip().startswith(service + " "))
            assert "running" in line and "EXITED" not in line, line
        assert get(f"http://127.0.0.1:{first_args['api']}/health") == 200
        assert get(f"http://127.0.0.1:{first_args['console']}/") == 200
        deadline = time.monotonic() + 60
        while get(f"http://127.0.0.1:{first_args['metrics']}/metrics") != 200:
            assert time.monotonic() < deadline, "the scheduler never served /metrics"
            time.sleep(1)
        children = children_of(first.pid)
        assert len(children) == 5

        second = subprocess.run([sys.executable, "-m", "sge_recon", "demo", *demo_args()],
                                env=cli_env, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "Error: a demo is already running" in second.stderr
        assert "Traceback" not in second.stderr

        first.send_signal(signal.SIGINT)
        first.wait(timeout=20)
        assert first.returncode == 0
        time.sleep(0.5)
        for pid in children:
            assert not os.path.exists(f"/proc/{pid}") or \
                open(f"/proc/{pid}/stat").read().split()[2] == "Z", f"child {pid} still running"
    finally:
        if first.poll() is None:
            first.kill()


def test_the_demo_plants_faults_by_default_and_none_with_clean(new_database, tmp_path):
    """A new user's demo has red lights and something to act on; --clean is all green."""
    from refplatform.demo import DEMO_FAULTS, Demo, DemoOptions
    from sge_recon.context import Recon

    from .conftest import settings_for

    results = {}
    for name, options in (("default", DemoOptions(intents=1_000)),
                          ("clean", DemoOptions(intents=1_000, clean=True))):
        settings = settings_for(new_database(), SGE_RECON_HOME=str(tmp_path / name))
        said = []
        demo = Demo(settings, options, set(), echo=said.append)
        recon = Recon(settings)
        demo._first_simulation(recon)
        run = recon.checks.run(trigger="test")
        results[name] = ({c.name: c.status for c in run.checks}, " ".join(said))
    statuses, said = results["default"]
    assert list(DEMO_FAULTS) == ["ledger_imbalance", "stuck_intents", "payout_sla",
                                 "webhook_exhausted", "webhook_endpoint_failing"]
    assert "the demo's default; --clean for none" in said
    for check in ("ledger_balance", "stuck_intents", "webhook_exhausted"):
        assert statuses[check] == "fail", (check, statuses)
    for check in ("payout_batch_sla", "webhook_endpoints_failing"):
        assert statuses[check] in ("warn", "fail"), (check, statuses)
    statuses, said = results["clean"]
    assert "faults: none (--clean)" in said
    assert not [c for c, s in statuses.items() if s == "fail"], statuses


def test_demo_clean_and_faults_together_is_an_error_line(cli_env):
    for args, message in ((["--clean", "--faults", "stuck_intents"], "give one of them"),
                          (["--faults", "no_such_fault"], "unknown fault 'no_such_fault'")):
        out = subprocess.run([sys.executable, "-m", "sge_recon", "demo", *args], env=cli_env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode != 0 and out.stderr.startswith("Error: ") and message in \
            out.stderr and "Traceback" not in out.stderr, out.stderr
    help_text = subprocess.run([sys.executable, "-m", "sge_recon", "demo", "--help"],
                               env=cli_env, capture_output=True, text=True, timeout=60).stdout
    assert "--clean" in help_text


def test_the_same_port_twice_and_a_bad_intents_are_refused_before_anything_starts(cli_env):
    port = str(free_port())
    for args, message in (
            (["--api-port", port, "--console-port", port, "--metrics-port", str(free_port())],
             f"Error: --api-port and --console-port are both {port}: each service needs a port "
             "of its own"),
            (["--intents", "0"], "'--intents': 0 is not in the range 1<=x<=100000000"),
            (["--intents", "999"], "--intents 999: the contract platform's simulation takes "
                                   "1,000 to 100,000,000 intents")):
        out = subprocess.run([sys.executable, "-m", "sge_recon", "demo", *args], env=cli_env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 3 and message in out.stderr, out.stderr
        assert "Traceback" not in out.stderr and "Database:" not in out.stdout  # nothing started
    help_text = subprocess.run([sys.executable, "-m", "sge_recon", "demo", "--help"],
                               env=cli_env, capture_output=True, text=True, timeout=60).stdout
    assert "1,000 to 100,000,000 for the contract platform" in " ".join(help_text.split())


def test_a_home_that_cannot_be_written_is_an_error_naming_the_setting(cli_env, tmp_path):
    """A read-only checkout (or SGE_RECON_HOME) ended the demo with 'unexpected OSError: [Errno
    30] Read-only file system: …/demo.lock (a bug in sge-recon …)'."""
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run(["chattr", "+i", str(home)], check=True)  # root writes through chmod
    try:
        out = subprocess.run([sys.executable, "-m", "sge_recon", "demo", *demo_args()],
                             env={**cli_env, "SGE_RECON_HOME": str(home)},
                             capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run(["chattr", "-i", str(home)], check=True)
    assert out.returncode == 3 and out.stderr.startswith("Error: "), out.stderr
    assert "SGE_RECON_HOME" in out.stderr and "demo.lock" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and "a bug" not in out.stderr, out.stderr
    assert not list(home.iterdir())


def test_the_intents_range_is_the_simulators():
    from refplatform.cli import demo_cmd
    from refplatform.simulate.service import MAX_INTENTS, MIN_INTENTS

    assert (demo_cmd.CONTRACT_MIN_INTENTS, demo_cmd.MAX_INTENTS) == (MIN_INTENTS, MAX_INTENTS)
    intents = next(p for p in demo_cmd.demo.params if p.name == "intents")
    assert intents.type.max == MAX_INTENTS  # the SGE fixture takes fewer (at least 200 loaded)


def test_a_service_that_dies_ends_the_demo_with_an_error(cli_env):
    demo = subprocess.Popen([sys.executable, "-m", "sge_recon", "demo", *demo_args()],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        wait_for(demo, "Press Ctrl-C")
        worker = next(pid for pid in children_of(demo.pid)
                      if b"worker" in open(f"/proc/{pid}/cmdline", "rb").read())
        os.kill(worker, signal.SIGKILL)
        rest, _ = demo.communicate(timeout=30)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 3, rest
    assert f"Error: the demo's worker exited with code -{int(signal.SIGKILL)}" in rest, rest
    assert "the demo stopped" in rest and "Stopped api" in rest and "Traceback" not in rest


@pytest.mark.parametrize("which", ["demo-keys.env", "demo-accounts.txt", "console-auth-secrets"])
def test_a_secrets_file_is_written_as_a_new_private_file_never_into_the_old_one(which, tmp_path,
                                                                               recon):
    """The demo's keys and account passwords, and the console's sign-on secrets, are written to
    a new 0600 file renamed into place: someone who opened the old file (left 0644, say: a
    plain write creates it 0644 and tightens it after the secret is in) reads nothing new."""
    from refplatform.demo import ACCOUNTS_FILE, Demo, DemoOptions
    from sge_recon.config import Settings
    from sge_recon.console.sso import SECRETS_FILE, write_auth_secrets

    (tmp_path / "none.toml").write_text("")
    settings = Settings.load(env={
        "SGE_RECON_HOME": str(tmp_path), "SGE_RECON_CONFIG": str(tmp_path / "none.toml"),
        "OIDC_SERVER_METADATA_URL": "https://idp.example.com/.well-known/openid-configuration",
        "OIDC_CLIENT_ID": "console", "OIDC_CLIENT_SECRET": "client-SECRET-5e1d0c"})
    name = {"demo-keys.env": "demo-keys.env", "demo-accounts.txt": ACCOUNTS_FILE,
            "console-auth-secrets": SECRETS_FILE}[which]
    path = tmp_path / name
    path.write_text("ADMIN_API_KEY=\n")  # an old, incomplete file: rewritten
    path.chmod(0o644)
    held = open(path)  # opened by another user while it was readable
    demo = Demo(settings, DemoOptions(), set())
    if which == "demo-keys.env":
        secrets = list(demo._demo_keys().values())
    elif which == "demo-accounts.txt":
        demo._demo_accounts(recon)
        secrets = [line.split()[2] for line in path.read_text().splitlines()
                   if not line.startswith("#")]
    else:
        write_auth_secrets(settings, 8600)
        secrets = ["client-SECRET-5e1d0c"]
    held.seek(0)
    seen = held.read()
    held.close()
    assert secrets and all(s in path.read_text() for s in secrets)
    assert not [s for s in secrets if s in seen], seen
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def _all_gone(pids: list[int], timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    return [p for p in pids if _alive(p)]


def _reap(pids: list[int]) -> None:
    for pid in pids:  # what a failed test left running
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_sighup_the_terminal_closed_stops_every_service(cli_env):
    """Closing the demo's terminal (SIGHUP) used to kill the demo alone: its five services, in
    sessions of their own, ran on without it (a second demo could then run beside them)."""
    demo = subprocess.Popen([sys.executable, "-m", "sge_recon", "demo", *demo_args()],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    children: list[int] = []
    try:
        wait_for(demo, "Press Ctrl-C")
        children = children_of(demo.pid)
        assert len(children) == 5
        demo.send_signal(signal.SIGHUP)
        rest, _ = demo.communicate(timeout=30)
        assert demo.returncode == 0, rest
        assert "Stopped api, worker, traffic, scheduler, console." in rest
        assert _all_gone(children) == []
    finally:
        if demo.poll() is None:
            demo.kill()
        _reap(children)


def test_a_demo_killed_with_sigkill_takes_its_services_with_it(cli_env):
    demo = subprocess.Popen([sys.executable, "-m", "sge_recon", "demo", *demo_args()],
                            env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    children: list[int] = []
    try:
        wait_for(demo, "Press Ctrl-C")
        children = children_of(demo.pid)
        assert len(children) == 5
        demo.kill()
        demo.wait(timeout=10)
        assert _all_gone(children) == [], "services outlived the demo"
    finally:
        _reap(children)


def test_sigterm_during_the_first_simulation_stops_the_embedded_postgresql(cli_env):
    """SIGTERM while the first simulation loads used to kill the demo outright, leaving its
    embedded PostgreSQL running with nobody to stop it."""
    # as conftest's server: a short folder the OS user `pgserver` (root runs the server as it)
    # can reach, outside pytest's 0700 base folder
    tmp_path = Path(tempfile.mkdtemp(prefix="sgr-term-", dir="/tmp"))
    tmp_path.chmod(0o755)
    env = {k: v for k, v in cli_env.items() if k != "DATABASE_URL"}
    env["SGE_RECON_HOME"] = str(tmp_path / "h")
    demo = subprocess.Popen([sys.executable, "-m", "sge_recon", "demo", *demo_args(),
                             "--intents", "400000"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    postmaster = tmp_path / "h" / "pgdata" / "postmaster.pid"
    server = 0
    try:
        wait_for(demo, "Loading a simulated platform")
        server = int(postmaster.read_text().split()[0])
        demo.send_signal(signal.SIGTERM)
        rest, _ = demo.communicate(timeout=60)
        assert demo.returncode == 130, rest
        assert "Aborted." in rest and "Traceback" not in rest
        assert _all_gone([server], timeout=30) == [], "the embedded PostgreSQL was left running"
    finally:
        if demo.poll() is None:
            demo.kill()
        if server and _alive(server):
            os.kill(server, signal.SIGINT)  # a fast shutdown of what the defect left running
            _all_gone([server], timeout=30)
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_the_private_redis_server_dies_with_the_process_that_started_it():
    """`demo --profile sge` killed with -9 left its private redis-server running for ever."""
    starter = subprocess.Popen(
        [sys.executable, "-c", "from refplatform.redis_server import PrivateRedis\n"
         "import time\nserver = PrivateRedis.start()\nprint(server.process.pid, flush=True)\n"
         "time.sleep(300)"],
        stdout=subprocess.PIPE, text=True)
    redis_pid = 0
    try:
        redis_pid = int(starter.stdout.readline())
        assert _alive(redis_pid)
        starter.kill()
        starter.wait(timeout=10)
        assert _all_gone([redis_pid]) == [], "redis-server outlived the process that started it"
    finally:
        if starter.poll() is None:
            starter.kill()
        _reap([redis_pid] if redis_pid else [])
