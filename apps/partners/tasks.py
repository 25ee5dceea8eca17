import logging

from celery import shared_task

from apps.partners import idempotency, webhooks

logger = logging.getLogger(__name__)

# The task names keep the `accounts.` prefix they were born with: queued messages and beat
# schedules in existing databases name them.


@shared_task(bind=True, name="accounts.deliver_webhook", acks_late=True, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> bool:
    """One delivery attempt; a failure is retried with exponential back-off until the endpoint's
    attempts are used up (the service decides and logs every attempt on the delivery)."""
    outcome = webhooks.webhook_delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.delivered


@shared_task(name="accounts.webhooks_retry_due")
def webhooks_retry_due() -> int:
    """Re-queues pending deliveries whose next attempt is long overdue (lost broker messages)."""
    ids = webhooks.webhook_deliveries_overdue()
    webhook_deliveries_dispatch(ids)
    return len(ids)


def webhook_deliveries_dispatch(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        try:
            deliver_webhook.delay(delivery_id)
        except Exception:  # the broker is down: the sweep (webhooks_retry_due) picks it up later
            logger.warning("could not enqueue webhook delivery %s", delivery_id, exc_info=True)


@shared_task(name="partners.idempotency_keys_expire")
def idempotency_keys_expire() -> int:
    """Deletes Idempotency-Keys older than IDEMPOTENCY_KEY_TTL_SECONDS (beat, hourly)."""
    return idempotency.idempotency_keys_expire()
