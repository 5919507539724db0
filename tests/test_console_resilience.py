"""The console with its database down (a banner, no traceback, recovery on its own), and the
optional viewer password."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from .conftest import TEMPLATE_DB, with_dbname
from .console_support import app, console_env, open_page, texts
from .platform_helpers import running_api


@pytest.fixture
def missing_database(pg_url):
    """A database URL whose database does not exist yet; `create()` brings it up."""
    name = f"t_down_{uuid.uuid4().hex[:8]}"

    def create() -> None:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")

    yield with_dbname(pg_url, name), create
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.parametrize("page", ["overview", "ledger", "runbook"])
def test_a_database_that_is_down_gives_a_banner_and_the_page_recovers(
        page, missing_database, monkeypatch, tmp_path, db_url):
    url, create = missing_database
    with running_api(db_url) as api:
        console_env(monkeypatch, url, api, tmp_path, accounts=False)
        at = app()
        at.run()
        if page != "overview":
            open_page(at, page)
        assert not at.exception
        banner = " ".join(e.value for e in at.error)
        assert "The database is not reachable" in banner and "recovers by itself" in banner
        assert "Traceback" not in texts(at)

        create()  # the database comes back
        at.run()
        assert not at.exception
        assert "The database is not reachable" not in " ".join(e.value for e in at.error)


def test_without_accounts_the_viewer_password_guards_everything(db_url, monkeypatch, tmp_path):
    with running_api(db_url) as api:
        console_env(monkeypatch, db_url, api, tmp_path, accounts=False,
                    CONSOLE_PASSWORD="correct horse")
        at = app(operator=None)
        at.run()
        assert [t.label for t in at.text_input] == ["Console password"]
        assert not at.metric and not at.sidebar.text_input  # nothing shown before the password
        at.switch_page("views/ledger.py").run()  # a page's own URL is guarded too
        assert [t.label for t in at.text_input] == ["Console password"] and not at.dataframe
        at.text_input(key="viewer_password").input("wrong").run()
        assert "Wrong password" in at.error[0].value and not at.metric
        at.text_input(key="viewer_password").input("correct horse").run()
        assert "Balances per program and currency" in texts(at)  # the page asked for
        # the shared password never grants an action: without accounts the console is read-only
        assert not [b for b in at.button if not b.disabled and b.key != "sum_again"
                    and b.key != "resum_ledger"]
        assert "Read-only" in " ".join(c.value for c in at.sidebar.caption)


def test_the_sidebar_never_shows_a_password_in_the_admin_api_url(db_url, monkeypatch, tmp_path):
    """A gateway password in SGE_ADMIN_API_URL (user:password@host) is masked in the sidebar's
    API status line, as everywhere else it is printed."""
    console_env(monkeypatch, db_url, "http://gw:Gw-S3cret-Pass@127.0.0.1:9", tmp_path)
    at = open_page(app(), "overview")
    shown = texts(at) + "\n".join(str(e.value) for e in at.sidebar.caption)
    # shown as text: the mask's stars escaped, so Markdown renders "gw:***@" (a word joiner
    # before the @: no e-mail autolink)
    assert "Admin API down" in shown and "gw:\\*\\*\\*\u2060@127.0.0.1:9" in shown
    assert "Gw-S3cret-Pass" not in shown
