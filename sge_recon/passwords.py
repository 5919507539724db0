"""Console passwords: ``hashlib.scrypt`` (n=2**14, r=8, p=1) with a per-user 16-byte salt,
Unicode-normalised, compared in constant time (accounts.py signs in with them)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def normal_password(password: str) -> str:
    """The form a password is hashed and checked in: Unicode NFKC (NIST SP 800-63B), so the
    same visible password typed on another keyboard or system (e.g. decomposed accents on macOS)
    is the same password."""
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(normal_password(password).encode(), salt=salt, maxmem=64 * 1024 * 1024, dklen=32,
                            **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """The password (normalised) matches the stored hash; a hash set before passwords were
    normalised was made from the raw form, so that is tried too when the two differ."""
    normal = normal_password(password)
    if _verify(normal, stored):
        return True
    return normal != password and _verify(password, stored)


def _verify(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), maxmem=64 * 1024 * 1024, dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


_DUMMY_HASH = hash_password("not a password of anyone", b"\0" * 16)
