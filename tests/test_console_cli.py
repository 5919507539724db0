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


def test_single_sign_on_settings_become_streamlit_auth_secrets(tmp_path):
    """OIDC_* settings -> a private [auth] secrets file Streamlit reads (st.login); incomplete
    or malformed settings are refused with the setting's name."""
    import tomllib

    from sge_recon.config import Settings
    from sge_recon.console.launch import streamlit_command
    from sge_recon.errors import ConfigError

    base = {"SGE_RECON_HOME": str(tmp_path), "SGE_RECON_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("")
    plain = Settings.load(env=base)
    assert not any("secrets.files" in f for f in streamlit_command("py", 8600, plain))
    oidc = {**base, "OIDC_SERVER_METADATA_URL": "https://idp.example.com/.well-known/"
            "openid-configuration", "OIDC_CLIENT_ID": "console", "OIDC_CLIENT_SECRET": "s3cr\"et"}
    command = streamlit_command("py", 8600, Settings.load(env=oidc))
    flag = next(f for f in command if f.startswith("--secrets.files="))
    path = tmp_path / "console-auth-secrets.toml"
    assert flag == f"--secrets.files={path}" and oct(path.stat().st_mode & 0o777) == "0o600"
    auth = tomllib.loads(path.read_text())["auth"]
    assert auth["redirect_uri"] == "http://127.0.0.1:8600/oauth2callback"
    assert len(auth["cookie_secret"]) >= 32
    assert auth["oidc"]["client_secret"] == "s3cr\"et" and auth["oidc"]["client_id"] == "console"
    assert auth["oidc"]["client_kwargs"]["scope"] == "openid email profile"
    # the cookie secret is kept across restarts
    again = streamlit_command("py", 8600, Settings.load(env=oidc))
    assert tomllib.loads(path.read_text())["auth"]["cookie_secret"] == auth["cookie_secret"]
    assert again == command
    for bad, name in [({**base, "OIDC_CLIENT_ID": "console"}, "OIDC_SERVER_METADATA_URL"),
                      ({**oidc, "OIDC_REDIRECT_URI": "https://c.example.com/back"},
                       "OIDC_REDIRECT_URI"),
                      ({**oidc, "OIDC_COOKIE_SECRET": "short"}, "OIDC_COOKIE_SECRET"),
                      ({**oidc, "OIDC_SERVER_METADATA_URL": "idp.example.com"},
                       "OIDC_SERVER_METADATA_URL")]:
        try:
            Settings.load(env=bad)
            raise AssertionError(f"accepted {name}")
        except ConfigError as exc:
            assert str(exc).startswith(name), exc
            assert "s3cr" not in str(exc)


def test_any_secret_a_setting_can_hold_is_written_as_valid_toml(tmp_path):
    """JSON's \\ud83d\\ude00 (an emoji as a surrogate pair) and a raw DEL are not valid in a TOML
    string: the secrets file Streamlit reads would not parse and single sign-on would break."""
    import tomllib

    from sge_recon.config import Settings
    from sge_recon.console.sso import write_auth_secrets

    (tmp_path / "none.toml").write_text("")
    secret = "sécret 🔑 with \"quotes\", \\ back\tslash\x7f and \x01 controls"
    cookie = "cookie-secret-🍪-" + "x" * 32 + "\x7f"
    path = write_auth_secrets(Settings.load(env={
        "SGE_RECON_HOME": str(tmp_path), "SGE_RECON_CONFIG": str(tmp_path / "none.toml"),
        "OIDC_SERVER_METADATA_URL": "https://idp.example.com/.well-known/openid-configuration",
        "OIDC_CLIENT_ID": "console-ü", "OIDC_CLIENT_SECRET": secret,
        "OIDC_COOKIE_SECRET": cookie}), 8600)
    auth = tomllib.loads(path.read_text(encoding="utf-8"))["auth"]
    assert auth["oidc"]["client_secret"] == secret and auth["cookie_secret"] == cookie
    assert auth["oidc"]["client_id"] == "console-ü"
