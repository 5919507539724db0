"""Platform profiles (DESIGN §11): how a real platform's relations map to the §4 contract.

``PLATFORM_PROFILE`` names one: ``contract`` (the §4 tables in ``public``, no views), ``sge`` (the
SGE platform as built; ``profiles/sge.yml``), or the path to a profile file of the user's own
(format: docs/profiles.md). :func:`load_profile` reads and validates the file's shape;
``sge-recon db init`` validates it against the live catalogue and creates the contract-shaped views
(sge_recon/db/profile_views.py). Everything else only sees :class:`PlatformRelations`.
"""

from __future__ import annotations

from ..config import Settings
from ..db.relations import CONTRACT_RELATIONS, PROFILE_SCHEMA, PlatformRelations
from .model import Profile, StatusMap, TableMapping, load_profile

__all__ = ["Profile", "TableMapping", "load_profile", "relations_for"]


def relations_for(settings: Settings) -> PlatformRelations:
    """Where the contract relations are under the configured profile (cheap: no database)."""
    if settings.PLATFORM_PROFILE == "contract":
        return CONTRACT_RELATIONS
    profile = load_profile(settings.PLATFORM_PROFILE)
    if profile.is_contract:
        return CONTRACT_RELATIONS
    ledger = profile.tables["ledger_entries"]
    return PlatformRelations(profile=profile.name, schema=PROFILE_SCHEMA,
                             absent={t: m.absent for t, m in profile.tables.items() if m.absent},
                             ledger_order=ledger.order, journal_key=ledger.journal_key,
                             status_labels=status_labels(profile),
                             ledger_order_lag_seconds=settings.LEDGER_ORDER_LAG_SECONDS,
                             queues=profile.queues, admin_api=profile.admin_api,
                             row_fingerprint=ledger.fingerprint_identity)


def status_labels(profile: Profile) -> tuple:
    """Per status map of the profile: (table, column, ((contract value, its labels), …))."""
    out = []
    for table, mapping in profile.tables.items():
        for column in mapping.columns:
            if isinstance(column.expression, StatusMap):
                values: dict[str, list[str]] = {}
                for label, value in column.expression.labels.items():
                    values.setdefault(value, []).append(label)
                out.append((table, column.name,
                            tuple((v, tuple(labels)) for v, labels in values.items())))
    return tuple(out)
