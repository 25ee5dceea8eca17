from celery import shared_task


@shared_task(name="risk.driver_rescore", acks_late=True, autoretry_for=(ConnectionError,), max_retries=3)
def driver_rescore(driver_id: int) -> str | None:
    """Rescores one driver with the active model (event-driven path; batch scoring is a job)."""
    from apps.risk import services

    score = services.driver_rescore(driver_id=driver_id)
    return score.band if score else None
