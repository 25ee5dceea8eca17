"""What a driver is told when a requote moves their premium (a portal notification, e-mailed to
those who opted in): one statement for the batch of changes."""

from decimal import Decimal

from django.urls import reverse

from apps.customers.services import NotificationDraft, notifications_create


def _euros(amount: Decimal) -> str:
    return f"€{amount:,.2f}"


def premium_changes_notify(*, changes) -> int:
    """One notification per PremiumChange of a requote (stored, so with its id). Returns how many
    were stored."""
    url = reverse("portal:dashboard")
    drafts = []
    for change in changes:
        before, after = change.previous_premium, change.annual_premium
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
