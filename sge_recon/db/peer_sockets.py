"""Sockets of this process by the server they are connected to (a library's own connections)."""

from __future__ import annotations

import os
import socket
from typing import Any

from psycopg.conninfo import conninfo_to_dict


def shut_sockets_to(url: str) -> int:
    """Shut every socket of this process connected to the server of ``url``: the connections
    a library opened on its own (GX's SQLAlchemy engines), which sge-recon holds no handle to.
    Their blocked reads return with an error at once; their owners still close them. Returns how
    many were shut."""
    info = conninfo_to_dict(url)
    host, port = str(info.get("host") or "/tmp"), int(str(info.get("port") or 5432))
    if host.startswith("/"):
        targets: set[Any] = {f"{host}/.s.PGSQL.{port}"}
    else:
        try:
            targets = {(a[4][0], port) for a in socket.getaddrinfo(host, port)}
        except OSError:
            return 0
    shut = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                continue
            with socket.socket(fileno=os.dup(int(name))) as sock:
                peer = sock.getpeername()
                if (peer if isinstance(peer, str) else tuple(peer[:2])) in targets:
                    sock.shutdown(socket.SHUT_RDWR)
                    shut += 1
        except (OSError, ValueError):
            continue  # closed meanwhile, not connected, not an inet or unix socket
    return shut
