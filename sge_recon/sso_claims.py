"""Single sign-on identities (DESIGN §9): the value of the ID token's identity claim that
names a person, and the form an admin links to an account (``users link-sso``). Re-exported by
sge_recon.accounts, which maps an identity to its account."""

from __future__ import annotations

from .errors import UsageError


def check_sso_identity(identity: str) -> str:
    identity = (identity or "").strip()
    # a control character (an ESC sequence that `users list` would play on the terminal) is no
    # provider's identity claim either
    if not identity or len(identity) > 320 or any(c.isspace() for c in identity) \
            or not identity.isprintable():
        raise UsageError(f"single sign-on identity {identity!r} is not valid: give the value of "
                         "the provider's identity claim (OIDC_IDENTITY_CLAIM, by default the "
                         "email), e.g. ada@example.com")
    return identity


def identity_from_claims(claims: dict, claim: str) -> tuple[str | None, str]:
    """The single sign-on identity in an ID token's claims, or None and why it cannot be used."""
    value = claims.get(claim)
    if isinstance(value, bool) or not isinstance(value, (str, int)) \
            or (isinstance(value, str) and not value.strip()):
        return None, (f"the identity provider did not send the claim {claim!r} "
                      "(OIDC_IDENTITY_CLAIM) as one value; ask its admin to include it, or set "
                      "OIDC_IDENTITY_CLAIM to a claim it sends (e.g. sub)")
    if claim == "email" and not email_verified(claims.get("email_verified")):
        if "email_verified" not in claims:
            return None, (f"the identity provider does not say that the email {value} is "
                          "verified (its ID token has no email_verified claim), so anyone "
                          "could have typed it there; ask its admin to send email_verified, or "
                          "set OIDC_IDENTITY_CLAIM=sub and link the provider's subject ids")
        return None, (f"the identity provider says the email {value} is not verified; verify it "
                      "there first")
    return str(value).strip(), ""


def email_verified(flag: object) -> bool:
    """OIDC's email_verified as providers send it: JSON true, or (Apple, some others) the
    string "true". Anything else — false, "false", missing — is not verified."""
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")


def sign_in_too_old(claims: dict, now: float, max_seconds: int) -> str | None:
    """Why an identity provider's sign-in is too old to use, or None. Streamlit keeps the ID
    token's claims in its identity cookie for 30 days and never asks the provider again, so a
    person removed there would stay signed in here that long: a sign-in is used for
    ``max_seconds`` after the provider issued it (``iat``, required by OpenID Connect), like a
    local one, and then the person signs in at the provider again."""
    issued = claims.get("iat")
    if isinstance(issued, bool) or not isinstance(issued, (int, float)):
        return ("the identity provider's sign-in has no issue time (iat), so its age cannot be "
                "checked; sign out of it and sign in again")
    if now - issued > max_seconds:
        return (f"this sign-in at the identity provider is more than {max_seconds // 3600} "
                "hours old; sign out of it and sign in again")
    return None
