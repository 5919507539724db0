"""Value checks of the settings (sge_recon.config) that need more than a type: URLs, memory
sizes, single sign-on's settings together. Each refusal is a
:class:`~sge_recon.errors.ConfigError` naming the setting, and no message shows a password: URLs
are quoted through :func:`hide_password` or :func:`mask`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import ParseResult, urlparse

from .errors import ConfigError
from .small_files import UnfitFile, read_small_file

_PG_MEMORY = re.compile(r"([1-9][0-9]{0,12})(kB|MB|GB|TB)?")  # what `SET work_mem` takes, no spaces
_PG_MEMORY_KB = {"kB": 1, "MB": 1024, "GB": 1024 ** 2, "TB": 1024 ** 3}
WORK_MEM_MIN_KB, WORK_MEM_MAX_KB = 64, 2147483647  # PostgreSQL's own bounds of work_mem
# scheme://user:PASSWORD@host: the password runs to the last "@" before a space, so a "/", "?"
# or "#" typed in it unencoded (which ends the authority for a URL parser) is hidden too
_USERINFO_PASSWORD = re.compile(r"(://[^:/?#@\s]*):\S*@")
_QUERY_PASSWORD = re.compile(r"([?&](?:ssl)?password=)[^&#\s]*")


def hide_password(text: str) -> str:
    """``text`` with the password of every URL in it (``user:PASSWORD@`` and ``password=``)
    shown as ``***``; user, host, path and options stay readable. Safe for any text."""
    return _QUERY_PASSWORD.sub(r"\1***", _USERINFO_PASSWORD.sub(r"\1:***@", text))


def mask(value: Any) -> str:
    """Show that a secret is set without showing it."""
    text = str(value)
    if "://" in text:  # a URL: keep scheme and host, hide credentials and path
        try:
            parsed = urlparse(text)
            host = parsed.hostname or ""
        except ValueError:  # malformed (e.g. an unclosed IPv6 bracket): show nothing of it
            return f"{text.split('://', 1)[0]}://***"
        return f"{parsed.scheme}://***@{host}/***" if parsed.password or parsed.path else \
            f"{parsed.scheme}://{host}"
    # no character of it: "ab****yz" gave away 4 of a 12-character password, and the end of a
    # webhook token wherever a receiver's echo of it was scrubbed (logs, alert_deliveries)
    return "****"


def parse_url(name: str, url: str, shown: str | None = None) -> ParseResult:
    """``urlparse(url)``, its port checked; a malformed URL is a ConfigError naming ``name``
    that quotes ``shown`` (the URL with its password hidden, by default)."""
    shown = hide_password(url) if shown is None else shown
    try:
        parsed = urlparse(url)
        parsed.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        problem = "has a malformed port" if "port" in str(exc).lower() else f"is malformed ({exc})"
        escape = ("; a / ? # or @ in the user or password must be percent-encoded (%2F %3F %23 "
                  "%40)") if "@" in url else ""
        raise ConfigError(name, f"{problem}: got {shown!r}; write it as scheme://host:port/..., "
                                f"an IPv6 host in brackets ([::1]:5432){escape}") from None
    return parsed


def check_postgres_url(url: str, name: str = "DATABASE_URL") -> None:
    parsed = parse_url(name, url, mask(url))
    if parsed.scheme not in ("postgresql", "postgres"):
        raise ConfigError(name, "must be a PostgreSQL URL such as "
                                "postgresql://user:password@host:5432/dbname "
                                f"(got a {parsed.scheme or 'scheme-less'} URL)")
    if not (parsed.path or "").strip("/") and "host=" not in (parsed.query or ""):
        raise ConfigError(name, "names no database; add /dbname to the URL")
    if re.search(r"%(?![0-9A-Fa-f]{2})", url):
        # never echoed: the bad token is usually in the password
        raise ConfigError(name, "has a % that does not start a percent-encoded byte (%XX); "
                                "write a literal % (in the password, say) as %25")


def check_redis_url(url: str) -> None:
    parsed = parse_url("REDIS_URL", url, mask(url))
    if parsed.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError("REDIS_URL", "must be a Redis URL such as redis://127.0.0.1:6379/0, "
                                       "rediss://user:password@host:6380/0 or "
                                       f"unix:///run/redis.sock (got {mask(url)!r})")
    if parsed.scheme == "unix":
        if not parsed.path:
            raise ConfigError("REDIS_URL", "a unix:// URL needs the socket's path, e.g. "
                                           "unix:///run/redis/redis.sock")
        return
    if not parsed.hostname:
        raise ConfigError("REDIS_URL", "names no host; use redis://host:6379/0")
    db = (parsed.path or "/").strip("/")
    if db and not db.isdigit():
        # never echoed: a password with an unencoded "/" ends up here (user:12/secret@host)
        raise ConfigError("REDIS_URL", "the path after host:port must be a database number "
                                       "such as /0; a / ? # or @ in the user or password must "
                                       "be percent-encoded (%2F %3F %23 %40)")


def check_http_url(name: str, url: str) -> None:
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        # never echoed: a webhook URL's path is its secret (and http.client would refuse it
        # at send time with an error that quotes the path)
        raise ConfigError(name, "must not contain spaces, tabs, line breaks or other control "
                                "characters (a stray one from copying it?); paste the URL again")
    shown = mask(url) if "WEBHOOK" in name else hide_password(url)
    parsed = parse_url(name, url, shown)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(name, f"must be an http(s) URL such as http://127.0.0.1:8000, got "
                                f"{shown!r}")


def _size_kb(value: str, name: str, kind: str, alternative: str) -> int:
    """The kB of a size written as PostgreSQL writes it (units of 1024; no unit: kB)."""
    match = _PG_MEMORY.fullmatch(value)
    if not match:
        raise ConfigError(name, f"must be {kind} (units kB, MB, GB, TB, case-sensitive), or "
                                f"{alternative}; got {value!r}")
    return int(match.group(1)) * _PG_MEMORY_KB[match.group(2) or "kB"]


def check_work_mem(value: str, name: str = "CHECK_WORK_MEM") -> None:
    """A size PostgreSQL's ``SET work_mem`` takes (64kB to 2147483647kB; no unit: kB), or
    ``server``: refused here, naming the setting, rather than as a failed connection later."""
    if value == "server":
        return
    kb = _size_kb(value, name, "a PostgreSQL memory size such as 64MB, 512kB or 1GB",
                  "server for the server's own")
    if not WORK_MEM_MIN_KB <= kb <= WORK_MEM_MAX_KB:
        raise ConfigError(name, f"must be from 64kB to 2147483647kB (just under 2TB), "
                                f"PostgreSQL's limits for work_mem; got {value!r}")


def check_oidc(settings: Any) -> None:
    """Single sign-on's settings: all three of metadata URL, client id and secret, or none;
    the redirect URI, cookie secret and identity claim usable."""
    needed = ("OIDC_SERVER_METADATA_URL", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")
    given = [n for n in needed if getattr(settings, n)]
    if given and len(given) < len(needed):
        missing = [n for n in needed if n not in given]
        raise ConfigError(missing[0], f"must be set too: single sign-on needs "
                                      f"{', '.join(needed)} (set {', '.join(given)}); set "
                                      f"{' and '.join(missing)}, or unset the others for "
                                      "local accounts only")
    if not given:
        return
    assert settings.OIDC_SERVER_METADATA_URL is not None  # in `given`: all three are set here
    check_http_url("OIDC_SERVER_METADATA_URL", settings.OIDC_SERVER_METADATA_URL)
    if settings.OIDC_REDIRECT_URI is not None:
        check_http_url("OIDC_REDIRECT_URI", settings.OIDC_REDIRECT_URI)
        if not urlparse(settings.OIDC_REDIRECT_URI).path.endswith("/oauth2callback"):
            raise ConfigError("OIDC_REDIRECT_URI", "must end with /oauth2callback (the "
                              "console's callback path), e.g. "
                              "https://console.example.com/oauth2callback; register the same "
                              "address at the provider")
    if settings.OIDC_COOKIE_SECRET is not None and len(settings.OIDC_COOKIE_SECRET) < 32:
        raise ConfigError("OIDC_COOKIE_SECRET", "must be at least 32 characters long; "
                          "generate one with `python3 -c 'import secrets; "
                          "print(secrets.token_urlsafe(32))'`, or unset it")
    if not settings.OIDC_IDENTITY_CLAIM.strip():
        raise ConfigError("OIDC_IDENTITY_CLAIM", "must name a claim of the ID token, e.g. "
                                                 "email or sub")


COLUMNAR_MEMORY_MIN_KB = 16 * 1024  # below it DuckDB fails at once: every check to PostgreSQL
COLUMNAR_MEMORY_MAX_KB = 16777215 * 1024 ** 3  # 16777216TB (2^64 bytes) DuckDB refuses to read


def duckdb_memory_limit(value: str, name: str = "COLUMNAR_MEMORY_LIMIT") -> str | None:
    """DuckDB's ``memory_limit`` for a size written as for PostgreSQL (64MB, 1GB: units of 1024,
    as CHECK_WORK_MEM's), in KiB so that DuckDB reads the same amount (its "MB" is 10^6
    bytes); None for ``none`` (DuckDB's default, 80 % of the machine's memory)."""
    if value == "none":
        return None
    kb = _size_kb(value, name, "a memory size such as 256MB or 1GB",
                  "none for DuckDB's default (80 % of the machine's memory)")
    if kb < COLUMNAR_MEMORY_MIN_KB:
        raise ConfigError(name, f"must be at least 16MB (DuckDB cannot run the ledger checks in "
                                f"less); got {value!r}")
    if kb > COLUMNAR_MEMORY_MAX_KB:  # else accepted here and refused by DuckDB at every run
        raise ConfigError(name, f"must be at most 16777215TB (DuckDB's limit), or none for "
                                f"DuckDB's default; got {value!r}")
    return f"{kb}KiB"


def read_secret_file(name: str, path: str) -> str:
    """The secret in file ``path`` (a ``<NAME>_FILE`` setting), stripped."""
    setting = f"{name}_FILE"
    try:
        text = read_small_file(path, 64 << 10).decode("utf-8").strip()
    except UnfitFile as exc:
        raise ConfigError(setting, f"secret file {path} {exc}; point it at the file that holds "
                                   f"{name}") from None
    except OSError as exc:
        raise ConfigError(setting, f"cannot read secret file {path} ({exc.strerror}); "
                                   f"point it at a readable file") from None
    except UnicodeDecodeError:
        raise ConfigError(setting, f"secret file {path} is not UTF-8 text; point it at the "
                                   f"file that holds {name}") from None
    if not text:
        raise ConfigError(setting, f"secret file {path} is empty; put {name} in it, or unset "
                                   f"{setting}")
    return text
