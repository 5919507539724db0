"""An export reading a standby frozen mid-COPY (SIGSTOP): it gives up within the bounded time
(DB_ANSWER_GRACE_SECONDS plus one connect timeout), says why, and leaves nothing written."""

from __future__ import annotations

import time

import pytest

from .test_standby_frozen import _run_frozen, pair  # noqa: F401 - the module's own pair


@pytest.mark.slow
def test_an_export_on_a_standby_frozen_mid_copy_gives_up_and_writes_nothing(pair, tmp_path):
    """Was: `sge-recon export` hung until the standby was resumed."""
    out_dir = tmp_path / "exports"
    period = time.strftime("%Y-%m", time.gmtime())
    proc, out, err, took = _run_frozen(pair, tmp_path, ["export", "--period", period, "--out",
                                                        str(out_dir), "--force"])
    assert proc.returncode != 0, (out, err)
    assert "Traceback" not in err and "a bug in sge-recon" not in err, err
    assert "Error: " in err and "no answer from the database at" in err, err
    assert "nothing was written" in err, err
    assert took < 30, took
    # nothing half-written: no period folder, no partial work folder, no lock left
    assert not out_dir.exists() or not [p for p in out_dir.iterdir()
                                        if not p.name.startswith(".")], list(out_dir.iterdir())
