"""The Webhooks page's explorer (Svix/Stripe-grade): deliveries filtered by endpoint, status, event
type and creation time, and one delivery's every attempt (status code, error, time) where the
platform keeps them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from ..db import webhooks as hooks
from ..errors import UsageError

LIST_LIMIT = 200


class WebhookExplorer:
    def __init__(self, read_platform: Callable[[Callable[[Any], Any]], Any]):
        self._read = read_platform

    def deliveries(self, *, endpoint_id: str | None = None, status: str | None = None,
                   event_type: str | None = None, since: datetime | None = None,
                   until: datetime | None = None, limit: int = LIST_LIMIT) -> list[dict]:
        if status is not None and status not in hooks.DELIVERY_STATUSES:
            raise UsageError(f"unknown delivery status {status!r}; use one of "
                             f"{', '.join(hooks.DELIVERY_STATUSES)}")
        if since is not None and until is not None and since >= until:
            raise UsageError("the time range is empty: 'from' must be before 'to'")
        return self._read(lambda c: hooks.deliveries(
            c, endpoint_id=endpoint_id or None, status=status, event_type=event_type or None,
            since=since, until=until, limit=limit))

    def filter_choices(self) -> dict[str, list[str]]:
        return self._read(hooks.filter_choices)

    def attempts(self, delivery_id: str) -> list[dict] | None:
        """Every attempt, oldest first; None when the platform keeps no attempt history."""
        return self._read(lambda c: hooks.attempts(c, delivery_id))
