"""What follows a batch of trips getting their features: badges, and telling the drivers."""

from collections import defaultdict

from django.urls import reverse

from apps.customers.services import NotificationDraft, notifications_create
from apps.telematics.models import Trip
from apps.telematics.rewards import RULES_BY_CODE, badges_evaluate


def trips_scored_follow_up(*, trips: list[Trip]) -> None:
    """One notification per driver for the newest of their trips just scored (a batch of a
    month's uploads is one message, not thirty), then one per badge newly earned; all of a batch
    stored in one statement. A trip still in progress (detected from streamed positions, the
    vehicle still moving) is told once it has ended: its score is not final yet."""
    by_driver: dict[int, list[Trip]] = defaultdict(list)
    for trip in trips:
        if trip.driver_id and trip.feature_status == Trip.FeatureStatus.DONE and not trip.in_progress:
            by_driver[trip.driver_id].append(trip)
    drafts = []
    for driver_id, scored in sorted(by_driver.items()):
        newest = max(scored, key=lambda t: (t.started_at, t.pk))
        km = f"{newest.distance_km:,.1f} km"
        more = f" and {len(scored) - 1} more" if len(scored) > 1 else ""
        drafts.append(
            NotificationDraft(
                customer_id=driver_id,
                kind="trip_scored",
                title=f"Trip scored {newest.score}" if newest.score is not None else "Trip processed",
                body=f"Your {km} trip of {newest.started_at:%d %b}{more} has been scored.",
                url=reverse("portal:trip-detail", args=[newest.pk]),
                dedupe_key=f"trip:{newest.pk}",
            )
        )
    for badge in badges_evaluate(driver_ids=by_driver):
        rule = RULES_BY_CODE[badge.code]
        drafts.append(
            NotificationDraft(
                customer_id=badge.driver_id,
                kind="badge",
                title=f"New badge: {rule.title}",
                body=rule.description,
                url=reverse("portal:rewards"),
                dedupe_key=f"badge:{badge.code}",
            )
        )
    notifications_create(drafts=drafts)
