"""Start the console's Streamlit server with the library already imported.

`sge-recon console` runs ``python app/serve.py run app/main.py --flags…`` instead of
``python -m streamlit run …``: the same Streamlit command line, but the modules that the first
page run needs (the database driver, the library's console and checks services, the HTTP client
of the admin API, pandas for Streamlit's tables) are imported here, before the server opens its
port, instead of inside the first visitor's first page run (they stay in ``sys.modules``;
Streamlit runs every page in this same process). The console's Recon is built and the
Overview's data loaded once here too (``sge_recon.context.warm_up``); app/console_kit.py takes
that Recon. Only library modules (and
pandas) are preloaded: app modules are still (re)loaded by Streamlit.
"""

from __future__ import annotations

import sys


def preload() -> None:
    import httpx  # noqa: F401  the admin API's client (the sidebar's health check)
    import httpcore  # noqa: F401  ... and its transport, imported at its first request (60 ms)
    import streamlit.material_icon_names  # noqa: F401  the first page's icons (10 ms)
    import pandas  # noqa: F401  Streamlit's tables: the first page with one imported it (1-3 s)

    import sge_recon.accounts  # noqa: F401
    import sge_recon.admin_client  # noqa: F401
    import sge_recon.checks.service  # noqa: F401
    import sge_recon.console  # noqa: F401
    import sge_recon.context  # noqa: F401
    from sge_recon.context import warm_up

    warm_up()  # the console's Recon with its pool open, the Overview's queries run once


if __name__ == "__main__":
    preload()
    from streamlit.web.cli import main

    sys.exit(main(prog_name="streamlit"))
