"""Paths as DuckDB can take them: a comma splits ``file_search_path`` (a comma-separated list)
and ATTACH reads what follows a "?" as parameters, so folders whose paths hold them are named
through a symbolic link, or their database file handled in a private temporary folder."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def attachable(path: Path, *, write: bool) -> Iterator[str]:
    """A name of the database file ``path`` that DuckDB's ATTACH opens. It takes what follows a
    "?" for parameters (for a folder "q?x" it opened "q.wal?x/…"), through a symbolic link too:
    such a file is written in (``write``), or read from, a private temporary folder and moved
    into (copied from) its place."""
    if "?" not in str(path):
        yield str(path)
        return
    with tempfile.TemporaryDirectory(prefix="sge-recon-attach-") as scratch:
        plain = Path(scratch) / path.name
        if not write:
            shutil.copyfile(path, plain)
        yield str(plain)
        if write:
            shutil.move(str(plain), str(path))


@contextlib.contextmanager
def plain_path(folder: Path) -> Iterator[str]:
    """``folder`` as DuckDB can name it in ``file_search_path``, a comma-separated list: a
    folder whose path holds a comma ("exports/Q1, 2025/2025-03") or a "?" is named through a
    symbolic link in a private temporary folder for as long as the name is used."""
    if not any(c in str(folder) for c in ",?"):
        yield str(folder)
        return
    with tempfile.TemporaryDirectory(prefix="sge-recon-path-") as scratch:
        yield _linked(scratch, folder)


def search_path_for(con, folder: Path) -> str:
    """``folder`` as ``con``'s ``file_search_path`` (a folder with a glob character is read by
    relative names through it): a folder whose path holds a comma is named through a symbolic
    link in a private temporary folder, removed when ``con`` is."""
    if "," not in str(folder):
        return str(folder)
    scratch = tempfile.mkdtemp(prefix="sge-recon-path-")
    weakref.finalize(con, shutil.rmtree, scratch, True)
    return _linked(scratch, folder)


def private_spill(con) -> tempfile.TemporaryDirectory:
    """A private temporary folder set as ``con``'s ``temp_directory``, where DuckDB spills
    (its default is ``.tmp`` in the working directory). The caller cleans it up after closing
    ``con`` (DuckDB's files in it are closed then)."""
    spill = tempfile.TemporaryDirectory(prefix="sge-recon-spill-")
    con.execute("SET temp_directory = ?", [spill.name])
    return spill


def _linked(scratch: str, folder: Path) -> str:
    """A symbolic link to ``folder`` in the private folder ``scratch``, named without a comma."""
    link = Path(scratch) / "export"
    link.symlink_to(folder.resolve(), target_is_directory=True)
    return str(link)
