"""Bearer keys and roles of the admin API.

The admin key may do every admin operation; the two approver keys may only approve payout
batches. A key is known by its identity ("admin", "approver_1", "approver_2"), which is what the
audit log records: the key itself is never stored or shown.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from ..config import Settings
from ..errors import ConfigError

ADMIN = "admin"
APPROVER = "approver"


@dataclass(frozen=True)
class Principal:
    identity: str  # "admin", "approver_1", "approver_2"
    role: str      # ADMIN or APPROVER


class KeyRing:
    def __init__(self, keys: dict[str, Principal]):
        self._keys = [(key.encode(), principal) for key, principal in keys.items() if key]

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
