"""Bearer keys and roles of the admin API.

The admin key may do every admin operation; the two approver keys may only approve payout
batches. A key is known by its identity ("admin", "approver_1", "approver_2"), which is what the
audit log records: the key itself is never stored or shown. An approval is bound to the KEY, not
to its config slot: it is recorded as ``<slot>@<fingerprint>`` (the first 16 hex digits of the
key's SHA-256), so a key moved from slot 1 to slot 2 (e.g. on a second API instance) is still the
same approver and cannot approve a batch twice. A slot is bound too: after its key is rotated, the
slot's new key is still the person who approved with the old one (``same_approver``).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sge_recon.config import Settings
from sge_recon.errors import ConfigError

ADMIN = "admin"
APPROVER = "approver"


@dataclass(frozen=True)
class Principal:
    identity: str  # "admin", "approver_1", "approver_2"
    role: str      # ADMIN or APPROVER
    fingerprint: str = ""  # first 16 hex digits of sha256(key): the key's identity

    @property
    def approver(self) -> str:
        """What an approval records: the slot for people, the fingerprint for the two-person
        rule (see ``refplatform.store.same_approver``)."""
        return f"{self.identity}@{self.fingerprint}"


def fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class KeyRing:
    def __init__(self, keys: dict[str, Principal]):
        self._keys = [(key.encode(), Principal(p.identity, p.role, fingerprint(key)))
                      for key, p in keys.items() if key]

    @classmethod
    def from_settings(cls, settings: Settings) -> "KeyRing":
        if not settings.ADMIN_API_KEY:
            raise ConfigError("ADMIN_API_KEY", "is not set; the admin API refuses to start without "
                                               "it. Set ADMIN_API_KEY (or ADMIN_API_KEY_FILE) to a "
                                               "long random token")
        keys = {settings.ADMIN_API_KEY: Principal(ADMIN, ADMIN)}
        for n, value in ((1, settings.PAYOUT_APPROVER_1), (2, settings.PAYOUT_APPROVER_2)):
            if value:
                if value == settings.ADMIN_API_KEY:
                    raise ConfigError(f"PAYOUT_APPROVER_{n}", "must differ from ADMIN_API_KEY: an "
                                                              "approver key only approves")
                keys[value] = Principal(f"approver_{n}", APPROVER)
        return cls(keys)

    def identify(self, token: str) -> Principal | None:
        """The principal of a bearer token, compared in constant time against every key."""
        given = token.encode()
        found = None
        for key, principal in self._keys:
            if hmac.compare_digest(given, key):
                found = principal
        return found
