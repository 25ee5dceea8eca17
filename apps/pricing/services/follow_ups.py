"""Follow-ups of a rescoring: the partners told (through pricing.hooks) and the requote of policies."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.expressions import RawSQL

from apps.common.sql import int_array_literal
from apps.pricing import hooks
from apps.pricing.models import Policy

logger = logging.getLogger(__name__)

REQUOTE_CHUNK = 500


def driver_scores_changed(*, driver_ids: list[int]) -> None:
    """Called by risk after new scores are committed: says the drivers' scores are stale
    (hooks.driver_scores_stale: partners drops the cached score and explanation), names the
    partners with an active policy for each driver (hooks.insured_drivers_rescored: partners sends
    `score.changed`), and queues the requote of those drivers' active policies (in chunks, by
    Celery). Drivers without an active policy have nothing to requote: a new quote reads the latest
    score anyway. The requotes go through hooks.requote_wanted, which pricing.tasks connects.

    Connected to risk's `scores_changed` hook in PricingConfig.ready."""
    ids = sorted({int(d) for d in driver_ids})
    if not ids:
        return
    hooks.driver_scores_stale.send(driver_ids=ids)
    # One array parameter, not one per driver: batch scoring calls this per 1,000 drivers, most
    # of whom hold no policy, so the common case is this one read and no transaction at all.
    pairs = list(
        Policy.objects.filter(
            driver_id__in=RawSQL("SELECT unnest(%s::bigint[])", [int_array_literal(ids)]),
            status=Policy.Status.ACTIVE,
        )
        .values_list("driver_id", "partner_id")
        .distinct()
    )
    insured = sorted({d for d, _ in pairs})

    def enqueue() -> None:
        # A late reader may have re-cached the old score between invalidation and commit.
        hooks.driver_scores_stale.send(driver_ids=ids)
        for start in range(0, len(insured), REQUOTE_CHUNK):
            part = insured[start : start + REQUOTE_CHUNK]
            try:
                hooks.requote_wanted.send(driver_ids=part)
            except Exception:  # broker down: the nightly pricing.requote job catches up
                logger.warning("could not enqueue requote of %d drivers", len(part), exc_info=True)

    if not pairs:
        return  # nobody to notify or requote, and no transaction a stale read could race with
    with transaction.atomic():
        hooks.insured_drivers_rescored.send(pairs=pairs)
        transaction.on_commit(enqueue)
