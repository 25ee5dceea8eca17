from celery import shared_task


@shared_task(bind=True, name="accounts.deliver_webhook", acks_late=True, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> bool:
    """One delivery attempt; a failure is retried with exponential back-off until the endpoint's
    attempts are used up (the service decides and logs every attempt on the delivery)."""
    from apps.accounts import webhooks

    outcome = webhooks.webhook_delivery_attempt(delivery_id=delivery_id)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.delivered


@shared_task(name="accounts.webhooks_retry_due")
def webhooks_retry_due() -> int:
    from apps.accounts import webhooks

    return webhooks.webhooks_retry_due()
