from celery import shared_task


@shared_task(name="pricing.requote_drivers", acks_late=True, autoretry_for=(ConnectionError,), max_retries=3)
def requote_drivers(driver_ids: list[int]) -> dict:
    """Requotes the active policies of these drivers after a rescoring (idempotent)."""
    from apps.pricing import services

    return services.policies_requote(driver_ids=driver_ids)
