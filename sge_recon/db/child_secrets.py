"""A ``psql`` child's connection secrets kept off its command line.

Any local user reads a process's command line (``ps``, ``/proc/<pid>/cmdline``), so a child
``psql`` (``sge-recon db psql``, the export's COPY child) must not get a secret in its ``-d``
connection string. The password travels in ``PGPASSWORD``; libpq has no environment variable
for the other secret keyword, ``sslpassword`` (the passphrase of the client's TLS key), so it
goes in a connection service file (mode 0600, in a private folder the caller removes), named
by ``PGSERVICEFILE``, and the command line says only ``service=…``.
"""

from __future__ import annotations

import os
from pathlib import Path

# libpq keywords whose value is a secret, besides "password" (PGPASSWORD)
SECRET_KEYWORDS = ("sslpassword",)
SERVICE = "sge-recon-child"
SERVICE_FILE = "pg_service.conf"


class SecretNotPassable(ValueError):
    """A secret keyword that cannot be moved off the command line (the URL names its own
    ``service``, or the value cannot be written in a service file)."""


def off_command_line(params: dict[str, str], folder: Path | None) -> tuple[dict[str, str],
                                                                          dict[str, str]]:
    """(``params`` without any secret keyword, the child's extra environment). ``folder``:
    a private folder (mode 0700) that holds the service file while the child runs (needed
    only when ``params`` has a secret keyword besides the password)."""
    params = dict(params)
    env: dict[str, str] = {}
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = password
    hidden = {k: params.pop(k) for k in SECRET_KEYWORDS if k in params}
    hidden = {k: v for k, v in hidden.items() if v}
    if not hidden:
        return params, env
    names = ", ".join(hidden)
    if params.get("service"):
        raise SecretNotPassable(f"the URL names a service ({params['service']!r}) and gives "
                                f"{names} too; put {names} in that service's section of the "
                                "service file instead")
    if any(v != v.strip() or "\n" in v or "\r" in v for v in hidden.values()):
        raise SecretNotPassable(f"{names} starts or ends with a space or holds a line break, "
                                "which a connection service file cannot carry")
    if folder is None:
        raise SecretNotPassable(f"{names} needs a private folder for its service file")
    path = folder / SERVICE_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"[{SERVICE}]\n" + "".join(f"{k}={v}\n" for k, v in hidden.items()))
    env["PGSERVICEFILE"] = str(path)
    params["service"] = SERVICE
    return params, env
