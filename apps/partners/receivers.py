"""What partners does when a domain app below it says something happened (apps.common.hooks):
webhooks to the partners concerned, and the partner API's cached reads dropped."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.partners import selectors, tasks, webhooks
from apps.pricing import hooks as pricing_hooks
from apps.risk import selectors as risk_selectors


def webhook_events_send(*, event_type: str, events: list[tuple[int, dict[str, Any]]]) -> list[int]:
    """Creates the deliveries of these events and queues them once the caller's transaction commits."""
    ids = webhooks.webhook_events_enqueue(event_type=event_type, events=events)
    if ids:
        transaction.on_commit(lambda: tasks.webhook_deliveries_dispatch(ids))
    return ids


def policies_updated(*, events: list[tuple[int, dict[str, Any]]]) -> None:
    webhook_events_send(event_type="policy.updated", events=events)


def driver_scores_stale(*, driver_ids: list[int]) -> None:
    selectors.driver_score_cache_invalidate(driver_ids=driver_ids)


def insured_drivers_rescored(*, pairs: list[tuple[int, int]]) -> None:
    """`score.changed` with the latest score of the active model, to each partner insuring the driver."""
    scores = risk_selectors.drivers_latest_scores(driver_ids=sorted({d for d, _ in pairs}))
    events = [(partner_id, selectors.score_payload(scores[d])) for d, partner_id in pairs if d in scores]
    webhook_events_send(event_type="score.changed", events=events)


def connect() -> None:
    pricing_hooks.policies_updated.connect(policies_updated)
    pricing_hooks.driver_scores_stale.connect(driver_scores_stale)
    pricing_hooks.insured_drivers_rescored.connect(insured_drivers_rescored)
