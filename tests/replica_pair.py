"""A real primary and hot standby (pg_basebackup -R) with the contract platform's tables, for
the tests of reading the platform on a standby."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from recon_bench.local_pair import LocalReplicaPair
from refplatform.setup import ddl_files
from sge_recon.db import Database, init_db


@contextlib.contextmanager
def platform_pair(prefix: str, prepare: Callable[[Database], None] | None = None
                  ) -> Iterator[LocalReplicaPair]:
    """The pair in a new folder under /tmp (``prefix``): the primary initialised and
    ``prepare``d, the standby caught up; both removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    pair = LocalReplicaPair(root).start(fresh=True)
    try:
        init_db(pair.primary.database(), platform_ddl=ddl_files())
        if prepare is not None:
            prepare(pair.primary.database())
        pair.wait_for_replay()
        yield pair
    finally:
        pair.remove()
