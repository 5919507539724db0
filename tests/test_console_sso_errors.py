"""Single sign-on that cannot work, said on the sign-in page before anyone clicks (AppTest
against the real database and a real OpenID Connect provider, oidc-provider-mock): a provider
that cannot be reached, an address that is not its discovery document, and client credentials
it refuses. Streamlit's own st.login would show a bare "Authentication error" page for the
first two and silently land back on the sign-in page for the last. The local form still works,
and the client secret is never shown."""

from __future__ import annotations

import socket

import httpx
import pytest

from .console_support import PASSWORD, app, console_env, texts
from .platform_helpers import running_api

CLIENT_SECRET = "right-client-secret-0123456789"


@pytest.fixture(scope="module")
def api(module_db_url):
    with running_api(module_db_url) as url:
        yield url


@pytest.fixture(scope="module")
def provider():
    from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(require_client_registration=True) as server:
        base = f"http://localhost:{server.server_port}"
        client = httpx.post(f"{base}/oauth2/clients", json={
            "redirect_uris": ["http://127.0.0.1:8501/oauth2callback"]}).json()
        yield {"base": base, "id": client["client_id"], "secret": client["client_secret"]}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sign_in_page(monkeypatch, module_db_url, api, tmp_path, metadata_url, client_id, secret):
    console_env(monkeypatch, module_db_url, api, tmp_path, OIDC_SERVER_METADATA_URL=metadata_url,
                OIDC_CLIENT_ID=client_id, OIDC_CLIENT_SECRET=secret,
                OIDC_PROVIDER_NAME="Example SSO")
    at = app(operator=None)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_working_provider_offers_its_button(provider, monkeypatch, module_db_url, api,
                                              tmp_path):
    at = sign_in_page(monkeypatch, module_db_url, api, tmp_path,
                      f"{provider['base']}/.well-known/openid-configuration", provider["id"],
                      provider["secret"])
    button = at.button(key="sso_sign_in")
    assert button.label == "Sign in with Example SSO" and not button.disabled
    assert not at.error


@pytest.mark.parametrize("case", ["down", "not_discovery", "wrong_secret", "unknown_client"])
def test_a_provider_that_cannot_sign_anyone_in_is_said_before_the_click(
        case, provider, monkeypatch, module_db_url, api, tmp_path):
    metadata = f"{provider['base']}/.well-known/openid-configuration"
    client_id, secret = provider["id"], provider["secret"]
    expected = {"down": "Example SSO cannot be reached: its discovery document",
                "not_discovery": "is not Example SSO's OpenID Connect discovery document",
                "wrong_secret": "Example SSO refuses the console's client credentials "
                                "(invalid_client): check OIDC_CLIENT_ID and OIDC_CLIENT_SECRET",
                "unknown_client": "(invalid_client)"}[case]
    if case == "down":
        metadata = f"http://127.0.0.1:{closed_port()}/.well-known/openid-configuration"
    elif case == "not_discovery":
        metadata = f"{provider['base']}/jwks"  # answers JSON, but not a discovery document
    elif case == "wrong_secret":
        secret = CLIENT_SECRET
    else:
        client_id = "a-client-the-provider-never-registered"
    at = sign_in_page(monkeypatch, module_db_url, api, tmp_path, metadata, client_id, secret)
    shown = texts(at)
    assert expected in shown, shown
    assert "sign in with a local account meanwhile" in shown
    assert at.button(key="sso_sign_in").disabled  # it would only lead to "Authentication error"
    assert secret not in shown and "Traceback" not in shown
    assert all(secret not in (b.help or "") for b in at.button)
    # the local form still signs in
    at.text_input(key="sign_in_username").input("ada")
    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button(key="FormSubmitter:sign_in-Sign in").click().run()
    assert "ada" in " ".join(m.value for m in at.sidebar.markdown)
