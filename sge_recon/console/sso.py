"""Single sign-on for the console: Streamlit's OpenID Connect login (``st.login``) configured
from sge-recon's settings (no streamlit import here).

Streamlit reads its ``[auth]`` section from a secrets file. ``sge-recon console`` (and the demo)
write one from the ``OIDC_*`` settings into ``SGE_RECON_HOME`` (mode 0600, rewritten at every
start) and point Streamlit at it (``--secrets.files``), so the client secret comes only from the
settings (environment, ``OIDC_CLIENT_SECRET_FILE``, or ``sge-recon.toml``) and is never logged.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ..config import Settings
from ..errors import ConfigError

PROVIDER = "oidc"  # the provider's key in [auth] (st.login("oidc")); no underscores allowed
COOKIE_SECRET_FILE = "console-cookie-secret"
SECRETS_FILE = "console-auth-secrets.toml"


def redirect_uri(settings: Settings, port: int) -> str:
    return settings.OIDC_REDIRECT_URI or f"http://127.0.0.1:{port}/oauth2callback"


def _private_write(path: Path, text: str) -> None:
    """``text`` in ``path``, readable by its owner only: written to a new file made 0600 and
    renamed over ``path``, so the secret is never in a file with looser rights, nor in the old
    file's inode, which someone may hold open (a copy left 0644, say)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)  # left by a crash
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def cookie_secret(settings: Settings) -> str:
    """OIDC_COOKIE_SECRET, or a random one kept in SGE_RECON_HOME (sign-ins survive a restart)."""
    if settings.OIDC_COOKIE_SECRET:
        return settings.OIDC_COOKIE_SECRET
    path = settings.home / COOKIE_SECRET_FILE
    try:
        if path.is_file():
            kept = path.read_text(encoding="utf-8").strip()
            if len(kept) >= 32:
                return kept
        made = secrets.token_urlsafe(48)
        _private_write(path, made + "\n")
        return made
    except OSError as exc:
        raise ConfigError("OIDC_COOKIE_SECRET", f"is unset and {path} cannot be read or written "
                                                f"({exc.strerror}); set it, or make "
                                                "SGE_RECON_HOME writable") from None


def toml_string(value: str | None) -> str:
    """A TOML basic string holding exactly ``value``: quote, backslash and the control
    characters TOML forbids raw (U+0000-U+001F but tab, U+007F) escaped as \\uXXXX; everything
    else written as it is (JSON's surrogate-pair escapes of an emoji are not valid TOML)."""
    out = []
    for ch in value or "":
        if ch in '"\\':
            out.append("\\" + ch)
        elif (ord(ch) < 0x20 and ch != "\t") or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def auth_secrets_toml(settings: Settings, port: int) -> str:
    """The ``[auth]`` section Streamlit's st.login reads (TOML, UTF-8)."""
    q = toml_string
    return "\n".join([
        "# Written by sge-recon from its OIDC_* settings at every console start: do not edit.",
        "[auth]",
        f"redirect_uri = {q(redirect_uri(settings, port))}",
        f"cookie_secret = {q(cookie_secret(settings))}",
        f"[auth.{PROVIDER}]",
        f"client_id = {q(settings.OIDC_CLIENT_ID)}",
        f"client_secret = {q(settings.OIDC_CLIENT_SECRET)}",
        f"server_metadata_url = {q(settings.OIDC_SERVER_METADATA_URL)}",
        f"[auth.{PROVIDER}.client_kwargs]",
        f"scope = {q('openid email profile')}",
        f"prompt = {q('login')}",
        "",
    ])


def write_auth_secrets(settings: Settings, port: int) -> Path | None:
    """Write the console's Streamlit secrets file when single sign-on is configured (its path),
    or None (local accounts only)."""
    if not settings.oidc_enabled:
        return None
    path = settings.home / SECRETS_FILE
    try:
        _private_write(path, auth_secrets_toml(settings, port))
    except OSError as exc:
        raise ConfigError("SGE_RECON_HOME", f"cannot write the console's sign-on settings to "
                                            f"{path} ({exc.strerror}); make the folder "
                                            "writable") from None
    return path
