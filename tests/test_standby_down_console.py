"""The console with the standby of PLATFORM_READ_URL down: it keeps working on the primary
(DATABASE_URL), says so on every platform page, and never reads another database."""

from __future__ import annotations

import shutil
import tempfile

import pytest
import streamlit as st


from .console_support import app, console_env, open_page, texts, troubled_platform
from .replica_pair import platform_pair
from .factories import PlatformFactory

PLATFORM_PAGES = ["overview", "ledger", "intents", "payouts", "webhooks", "queue", "trends", "slos"]


@pytest.fixture
def gone_standby():
    """A standby that is down: a socket folder where no server listens (a stopped server's)."""
    gone = tempfile.mkdtemp(prefix="sgr-gone-", dir="/tmp")
    yield f"postgresql://postgres@/postgres?host={gone}", gone
    shutil.rmtree(gone, ignore_errors=True)


@pytest.mark.parametrize("page", PLATFORM_PAGES)
def test_a_standby_that_is_down_leaves_the_console_on_the_primary_with_a_banner(
        page, gone_standby, db_url, factory, monkeypatch, tmp_path):
    url, gone = gone_standby
    troubled_platform(factory)
    console_env(monkeypatch, db_url, "http://127.0.0.1:9", tmp_path, PLATFORM_READ_URL=url)
    at = open_page(app(), page)
    shown = texts(at)
    assert "The database is not reachable" not in shown, shown
    # the banner: the standby is unreachable, the figures are the primary's
    assert f"the replica postgres on the local socket in {gone} (PLATFORM_READ_URL) cannot be " \
           "read" in shown.replace("The replica", "the replica"), shown
    assert "read on the primary" in shown and "DATABASE_URL" in shown, shown
    assert "Everything is green" not in shown


# -- the real pair (pg_basebackup -R): the standby stopped, the console on the primary -----------
@pytest.fixture(scope="module")
def pair():
    with platform_pair("sgr-sd-") as pair:
        yield pair


@pytest.mark.slow
def test_the_console_reads_the_primary_while_the_standby_is_stopped_and_returns_to_it(
        pair, monkeypatch, tmp_path):
    troubled_platform(PlatformFactory(pair.primary.database()))
    pair.wait_for_replay()
    console_env(monkeypatch, pair.primary.url, "http://127.0.0.1:9", tmp_path,
                PLATFORM_READ_URL=pair.standby.url)
    standby = pair.standby.database().where
    at = open_page(app(), "ledger")
    assert _tables_show(at, "prog_console") and "read on the primary" not in texts(at)
    pair.standby.stop()
    try:
        st.cache_data.clear()  # (not the console's Recon: it finds the standby down itself)
        for page in ("ledger", "overview"):
            shown = texts(open_page(at, page))
            assert "The database is not reachable" not in shown, shown
            assert f"The replica {standby} (PLATFORM_READ_URL) cannot be read" in shown, shown
            assert f"read on the primary, {pair.primary.database().where} (DATABASE_URL)" \
                in shown, shown
        assert f"Platform data read on the primary {pair.primary.database().where}" in shown
        assert "Everything is green" not in shown
        # the primary's figures: the program's balances are listed
        assert _tables_show(open_page(at, "ledger"), "prog_console")
    finally:
        pair.standby.start()
        pair.wait_for_replay()
    st.cache_resource.clear()  # a new console process: no wait for REFUSED_TTL_SECONDS
    st.cache_data.clear()
    shown = texts(open_page(at, "overview"))
    assert "read on the primary" not in shown and "cannot be read" not in shown, shown
    assert f"Platform data read on the replica {standby}" in shown



def _tables_show(at, text: str) -> bool:
    return any(text in df.value.to_string() for df in at.dataframe)
