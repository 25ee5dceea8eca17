"""The portal's live channel: each driver has a topic of their own on apps.common.live, and only
the stream of that signed-in driver subscribes to it (the ops stream accepts only its public
TOPICS), so a driver never receives another driver's events. New notifications and trips whose
features were just computed (an open trip growing, an upload scored) are pushed there."""

from django.db import transaction

from apps.common import live

STREAM_SECONDS = 300


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


def stream(*, driver_id: int):
    """The signed-in driver's event stream for STREAM_SECONDS: the SSE event is the message's type."""
    return live.event_stream(
        [driver_topic(driver_id)], seconds=STREAM_SECONDS, event_name=lambda topic, data: data.get("type", "message")
    )
