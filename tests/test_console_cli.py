"""`sge-recon console`: explains itself, and refuses bad settings with an Error line."""

import subprocess
import sys


def run(args, env):
    return subprocess.run([sys.executable, "-m", "sge_recon", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_console_help(cli_env):
    out = run(["console", "--help"], cli_env)
    assert out.returncode == 0
    assert "--port" in out.stdout and "DATABASE_URL" in out.stdout


def test_console_with_a_bad_database_url_is_an_error_not_a_traceback(cli_env):
    out = run(["console", "--port", "1"], {**cli_env, "DATABASE_URL": "mysql://db/x"})
    assert out.returncode == 3
    assert out.stderr.startswith("Error: DATABASE_URL") and "Traceback" not in out.stderr


def test_console_streamlit_options_come_from_the_project_config():
    from sge_recon.console.launch import app_path, streamlit_options

    options = streamlit_options(8765)
    assert app_path().is_file()
    assert options["server_port"] == 8765 and options["server_address"] == "127.0.0.1"
    assert options["browser_gatherUsageStats"] is False
    assert options["client_showErrorDetails"] == "none"
