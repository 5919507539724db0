"""The embedded PostgreSQL starts wherever the checkout is: a path with a space or non-ASCII
letters (``~/My Projects/sge-récon``) included."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import psycopg

from sge_recon.db.embedded import start_embedded, stop_embedded


def _folder(prefix: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    root.chmod(0o755)  # as root the server runs as the OS user `pgserver`
    return root


def _serves(data_dir: Path) -> None:
    url = start_embedded(data_dir, cleanup_mode="stop")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT current_setting('data_directory')").fetchone()
        assert row is not None and Path(row[0]) == data_dir.resolve()
    finally:
        stop_embedded(data_dir)


def test_a_data_folder_whose_path_has_a_space_starts():
    """pg_ctl gives the socket folder to /bin/sh unquoted: `-k /tmp/sgr x/pg` used to stop the
    postmaster with 'invalid argument: "x/pg"' (and the advice to delete the folder)."""
    root = _folder("sgr x-")
    try:
        _serves(root / "pg")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_data_folder_whose_path_has_non_ascii_letters_and_a_space_starts():
    root = _folder("sgr-récon é-")
    try:
        _serves(root / "pg")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_plain_data_folder_keeps_its_socket_inside_it():
    root = _folder("sgr-plain-")
    try:
        url = start_embedded(root / "pg", cleanup_mode="stop")
        try:
            assert f"host={root / 'pg'}" in url
        finally:
            stop_embedded(root / "pg")
    finally:
        shutil.rmtree(root, ignore_errors=True)
