"""Whether single sign-on can work right now, asked of the OpenID Connect provider itself before
anyone clicks "Sign in with …" (no streamlit import here).

Streamlit's st.login gives a bare "Authentication error" page when the provider's discovery
document cannot be read, and when the provider refuses the console's client credentials at the
callback it silently lands back on the sign-in page; either way nobody learns what to fix. So
the sign-in page (and ``sge-recon console`` at start) asks:

* the discovery document (``OIDC_SERVER_METADATA_URL``): it answers, and it is one (JSON with
  ``issuer``, ``authorization_endpoint``, ``token_endpoint`` and ``jwks_uri``);
* the client credentials: an authorization-code request with a made-up code at the token
  endpoint. RFC 6749 §5.2: a provider answers ``invalid_client`` when it cannot authenticate
  the client (wrong OIDC_CLIENT_ID or OIDC_CLIENT_SECRET), ``invalid_grant`` for the code once
  it has. Only a definite ``invalid_client`` counts as a problem; any other answer is left to
  the real sign-in.

The messages name the settings to fix and never contain the client secret.
"""

from __future__ import annotations

import secrets

from ..config import Settings
from ..config_checks import hide_password
from ..errors import first_line
from .sso import redirect_uri

NEEDED = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


def provider_problem(settings: Settings, port: int, timeout: float = 5.0) -> str | None:
    """Why sign-in through the configured provider cannot work now (a sentence), or None."""
    import httpx

    if not settings.oidc_enabled:
        return None
    name = settings.OIDC_PROVIDER_NAME
    url = settings.OIDC_SERVER_METADATA_URL or ""
    where = hide_password(url)
    unavailable = (f"sign-in through {name} is unavailable until it can; sign in with a local "
                   "account meanwhile")
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            try:
                answer = client.get(url, headers={"Accept": "application/json"})
            except httpx.HTTPError as exc:
                return (f"{name} cannot be reached: its discovery document {where} "
                        f"(OIDC_SERVER_METADATA_URL) cannot be read ({first_line(exc)}); "
                        f"{unavailable}")
            try:
                document = answer.json() if answer.status_code == 200 else None
            except ValueError:
                document = None
            missing = [k for k in NEEDED if not isinstance(document, dict)
                       or not isinstance(document.get(k), str) or not document.get(k)]
            if missing:
                got = f"HTTP {answer.status_code}" if answer.status_code != 200 else \
                    f"no {', '.join(missing)}"
                return (f"{where} (OIDC_SERVER_METADATA_URL) is not {name}'s OpenID Connect "
                        f"discovery document ({got}): set it to the provider's "
                        f"…/.well-known/openid-configuration address; {unavailable}")
            assert isinstance(document, dict)
            try:
                token = client.post(document["token_endpoint"], auth=(
                    settings.OIDC_CLIENT_ID or "", settings.OIDC_CLIENT_SECRET or ""), data={
                        "grant_type": "authorization_code", "code": secrets.token_urlsafe(16),
                        "redirect_uri": redirect_uri(settings, port)})
            except httpx.HTTPError as exc:
                return (f"{name} cannot be reached: its token endpoint "
                        f"{hide_password(document['token_endpoint'])} does not answer "
                        f"({first_line(exc)}); {unavailable}")
    except httpx.InvalidURL as exc:  # a malformed endpoint in the document
        return f"{name}'s discovery document {where} names an unusable address ({exc}); " \
               f"{unavailable}"
    try:
        error = token.json().get("error") if token.status_code in (400, 401) else None
    except (ValueError, AttributeError):
        error = None
    if error == "invalid_client":
        return (f"{name} refuses the console's client credentials (invalid_client): check "
                "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET against the client registered at the "
                f"provider; {unavailable}")
    return None
