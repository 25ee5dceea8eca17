"""Risk writes: rescoring requests, scoring, training and activation of claim-frequency models."""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

logger = logging.getLogger(__name__)

# A driver's trips arrive in bursts; one rescore per driver per window is plenty.
RESCORE_DEBOUNCE_SECONDS = getattr(settings, "RISK_RESCORE_DEBOUNCE_SECONDS", 180)


def _rescore_key(driver_id: int) -> str:
    # The database name keeps two deployments (or two test databases) sharing one Redis apart.
    return f"risk:rescore:{connection.settings_dict['NAME']}:{driver_id}"


def driver_rescore_requested(*, driver_id: int) -> None:
    """Asks for a driver to be rescored, at most once per driver per RESCORE_DEBOUNCE_SECONDS.

    The first request of a window enqueues the rescore (after the caller's transaction commits,
    delayed by the window so trips of the same burst are all in); later requests in the window
    are absorbed. A Redis outage never reaches the caller: the request is logged and dropped,
    and the scheduled batch scoring picks the driver up."""
    try:
        added = cache.add(_rescore_key(driver_id), 1, timeout=RESCORE_DEBOUNCE_SECONDS)
    except Exception:  # the cache is configured to swallow errors; this is belt and braces
        logger.warning("risk rescore debounce unavailable for driver %s", driver_id, exc_info=True)
        added = None
    if added is False:
        return  # already requested in this window

    def enqueue() -> None:
        from apps.risk.tasks import driver_rescore

        try:
            driver_rescore.apply_async(args=[driver_id], countdown=RESCORE_DEBOUNCE_SECONDS if added else 0)
        except Exception:
            logger.warning("risk rescore of driver %s could not be enqueued", driver_id, exc_info=True)

    transaction.on_commit(enqueue)


def driver_rescore(*, driver_id: int):
    """Scores one driver with the active model from their latest features (see scoring)."""
    from apps.risk.models import RiskModel

    model = RiskModel.objects.filter(is_active=True).first()
    if model is None:
        logger.info("no active risk model: driver %s not rescored", driver_id)
        return None
    from apps.risk.scoring import driver_score_refresh

    return driver_score_refresh(model=model, driver_id=driver_id)
