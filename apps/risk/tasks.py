from celery import shared_task

from apps.risk import services


@shared_task(name="risk.driver_rescore", acks_late=True, autoretry_for=(ConnectionError,), max_retries=3)
def driver_rescore(driver_id: int) -> str | None:
    """Rescores one driver with the active model (event-driven path; batch scoring is a job)."""
    score = services.driver_rescore(driver_id=driver_id)
    return score.band if score else None


def driver_rescore_enqueue(*, driver_id: int, countdown: int) -> None:
    """Receiver of hooks.rescore_wanted (connected in RiskConfig.ready)."""
    driver_rescore.apply_async(args=[driver_id], countdown=countdown)
