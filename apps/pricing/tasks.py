from celery import shared_task

from apps.pricing import services


@shared_task(name="pricing.requote_drivers", acks_late=True, autoretry_for=(ConnectionError,), max_retries=3)
def requote_drivers(driver_ids: list[int]) -> dict:
    """Requotes the active policies of these drivers after a rescoring (idempotent)."""
    return services.policies_requote(driver_ids=driver_ids)


def requote_drivers_enqueue(*, driver_ids: list[int]) -> None:
    """Receiver of hooks.requote_wanted (connected in PricingConfig.ready)."""
    requote_drivers.apply_async((driver_ids,), argsrepr=f"([{len(driver_ids)} driver ids],)")
