"""The portal's live channel: each driver has a topic of their own on apps.common.live, and only
the stream of that signed-in driver subscribes to it (the ops stream accepts only its public
TOPICS), so a driver never receives another driver's events. New notifications and trips whose
features were just computed (an open trip growing, an upload scored) are pushed there."""

import datetime as dt

from django.db import transaction
from django.shortcuts import render
from django.utils import timezone

from apps.common import live
from apps.customers.models import Notification
from apps.portal.views import driver_required

STREAM_SECONDS = 300
# The notices a page shows when told of a new notification: the newest unread of the last minutes.
NOTICES_SHOWN = 3
NOTICES_MINUTES = 15


def driver_topic(driver_id: int) -> str:
    return f"portal.driver.{int(driver_id)}"


def notification_message(notification) -> dict:
    return {
        "type": "notification",
        "id": notification.pk,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "url": notification.url,
        "created_at": notification.created_at.isoformat(),
    }


def notifications_push(*, notifications) -> None:
    """Receiver of customers' notifications_created (sent after commit): one round trip a batch."""
    live.send_many([(driver_topic(n.customer_id), notification_message(n)) for n in notifications])


def trips_changed(*, driver_ids: list[int]) -> None:
    """Receiver of telematics' trip_features_computed (sent inside the computing transaction):
    the drivers' open trips pages reload their trip in progress once it is committed."""
    messages = [(driver_topic(d), {"type": "trip"}) for d in sorted(set(driver_ids))]
    if messages:
        transaction.on_commit(lambda: live.send_many(messages))


@driver_required
def stream(request):
    """Server-Sent Events for the signed-in driver only: the topic comes from the session's
    driver, never from the request. The SSE event is the message's type."""
    return live.event_stream(
        [driver_topic(request.driver.pk)],
        seconds=STREAM_SECONDS,
        event_name=lambda topic, data: data.get("type", "message"),
    )


@driver_required
def notices(request):
    """The newest unread notifications since the page was shown (`since`, epoch seconds; at most
    NOTICES_MINUTES back) and the unread count, fetched by an open page when the stream says a
    notification arrived (two queries)."""
    since = timezone.now() - dt.timedelta(minutes=NOTICES_MINUTES)
    try:
        shown = dt.datetime.fromtimestamp(int(request.GET.get("since", "")), tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        shown = since
    since = max(since, shown)
    unread = Notification.objects.filter(customer_id=request.driver.pk, read_at__isnull=True)
    fresh = list(unread.filter(created_at__gte=since).order_by("-created_at", "-id")[:NOTICES_SHOWN])
    return render(request, "portal/_live_notices.html", {"fresh": fresh, "unread_count": unread.count()})
