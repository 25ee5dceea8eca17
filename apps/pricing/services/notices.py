"""What a driver is told when a requote moves their premium (a portal notification, e-mailed to
those who opted in): one statement for the batch of changes."""

from decimal import Decimal

from django.conf import settings
from django.urls import reverse

from apps.customers.services import NotificationDraft, notifications_create


def _euros(amount: Decimal) -> str:
    return f"€{amount:,.2f}"


def premium_change_threshold() -> Decimal:
    """The smallest change of the annual premium a driver is told about (setting
    NOTIFY_PREMIUM_CHANGE_MIN, in the premium's currency)."""
    return Decimal(str(settings.NOTIFY_PREMIUM_CHANGE_MIN))


def premium_changes_notify(*, changes) -> int:
    """One notification per PremiumChange of a requote (stored, so with its id) that moves the
    annual premium by at least premium_change_threshold(); smaller changes are stored and shown on
    the dashboard, not notified. Returns how many were stored."""
    url = reverse("portal:dashboard")
    threshold = premium_change_threshold()
    drafts = []
    for change in changes:
        before, after = change.previous_premium, change.annual_premium
        if abs(after - before) < threshold:
            continue
        direction = "down" if after < before else "up"
        drafts.append(
            NotificationDraft(
                customer_id=change.driver_id,
                kind="premium_changed",
                title=f"Premium {direction} to {_euros(after)} a year",
                body=f"Your annual premium went from {_euros(before)} to {_euros(after)} "
                f"({_euros(abs(after - before))} {'less' if after < before else 'more'}), repriced on your "
                "latest safety score. Your dashboard shows what moves it.",
                url=url,
                dedupe_key=f"premium:{change.pk}",
            )
        )
    return len(notifications_create(drafts=drafts))
