"""Whose is the listener on a port: the demo calls a service running only when the port it serves
answers from that service's own processes (Linux /proc), not when any process answers there.

Two demos started at the same instant on the same ports both find them free; the second's
console then fails to bind, but a plain connect to its port reached the first demo's console and
the second listed its own as running (audit "small", item 6).
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
LISTEN = "0A"  # the TCP state LISTEN in /proc/net/tcp{,6}


def session_listens(port: int, session: int) -> bool | None:
    """Whether a process of session ``session`` (a child started with ``start_new_session``:
    the child's pid, shared by the processes it starts) listens on TCP ``port``; None when the
    system does not say (no /proc)."""
    tables = [PROC / "net" / name for name in ("tcp", "tcp6")]
    if not tables[0].exists():
        return None
    inodes = {inode for table in tables for inode in _listening_inodes(table, port)}
    return bool(inodes) and bool(inodes & _session_sockets(session))


def _listening_inodes(table: Path, port: int) -> set[str]:
    try:
        lines = table.read_text().splitlines()[1:]
    except OSError:
        return set()
    found = set()
    for line in lines:
        fields = line.split()
        if len(fields) > 9 and fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
            found.add(fields[9])
    return found


def _session_sockets(session: int) -> set[str]:
    """The socket inodes open in the processes of ``session``."""
    found = set()
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # "pid (comm) state ppid pgrp session …": comm may hold spaces and parentheses
            if int(stat[stat.rindex(")") + 1:].split()[3]) != session:
                continue
            for fd in os.listdir(entry / "fd"):
                target = os.readlink(entry / "fd" / fd)
                if target.startswith("socket:["):
                    found.add(target[len("socket:["):-1])
        except (OSError, ValueError, IndexError):  # gone meanwhile, or not ours to read
            continue
    return found
