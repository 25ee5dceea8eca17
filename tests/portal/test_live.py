"""The portal's live channel: a driver's stream carries that driver's notifications and trip
nudges only, notifications are pushed once committed, and the trips page's panel is told when a
trip's features were computed."""

import json
import threading
import time

import pytest
from django.urls import reverse

from apps.common import live as common_live
from apps.customers.services import NotificationDraft, notification_create, notifications_create
from apps.portal import live
from tests.accounts.factories import UserFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _events(body: str) -> list[tuple[str, dict]]:
    out = []
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def _stream(client, seconds: float = 3.0):
    """Opens the signed-in driver's stream (subscribed once the first chunk is read) and returns
    a function that reads the rest of it."""
    response = client.get(reverse("portal:live"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    chunks = iter(response.streaming_content)
    first = next(chunks).decode()
    assert first.startswith("retry: 2000")
    return lambda: "".join(c.decode() for c in chunks)


def test_a_drivers_stream_carries_their_own_notifications_and_never_another_drivers(client, monkeypatch):
    monkeypatch.setattr(live, "STREAM_SECONDS", 3)
    me, other = CustomerFactory(user=UserFactory()), CustomerFactory(user=UserFactory())
    client.force_login(me.user)
    read = _stream(client)
    notification_create(customer_id=other.pk, kind="badge", title="Not yours", dedupe_key="x:1")
    mine = notification_create(customer_id=me.pk, kind="badge", title="New badge: Smooth week", dedupe_key="x:2")
    common_live.send(live.driver_topic(other.pk), {"type": "trip"})
    events = _events(read())
    assert events == [("notification", live.notification_message(mine) | {"created_at": mine.created_at.isoformat()})]
    assert all("Not yours" not in json.dumps(data) for _, data in events)


def test_the_topic_comes_from_the_session_never_from_the_request(client, monkeypatch):
    monkeypatch.setattr(live, "STREAM_SECONDS", 2)
    me, other = CustomerFactory(user=UserFactory()), CustomerFactory(user=UserFactory())
    client.force_login(me.user)
    response = client.get(reverse("portal:live") + f"?topics={live.driver_topic(other.pk)}&driver={other.pk}")
    chunks = iter(response.streaming_content)
    next(chunks)
    notification_create(customer_id=other.pk, kind="badge", title="Not yours", dedupe_key="y:1")
    assert _events("".join(c.decode() for c in chunks)) == []


def test_the_ops_stream_does_not_forward_a_drivers_topic(client, role_user, monkeypatch):
    driver = CustomerFactory()
    client.force_login(role_user("analyst"))

    def publish_soon():
        time.sleep(0.5)
        common_live.send(live.driver_topic(driver.pk), {"type": "notification", "title": "private"})

    threading.Thread(target=publish_soon).start()
    response = client.get(reverse("ops:live") + f"?topics={live.driver_topic(driver.pk)}&seconds=2")
    assert "private" not in b"".join(response.streaming_content).decode()


def test_the_stream_needs_a_signed_in_driver(client, role_user):
    assert client.get(reverse("portal:live")).status_code == 302
    client.force_login(role_user("analyst"))
    assert client.get(reverse("portal:live")).status_code == 403


def test_a_batch_of_notifications_is_pushed_once_committed_in_one_round_trip(monkeypatch):
    a, b = CustomerFactory(), CustomerFactory()
    sent = []
    monkeypatch.setattr(common_live, "send_many", lambda messages: sent.append(messages))
    created = notifications_create(
        drafts=[
            NotificationDraft(customer_id=a.pk, kind="badge", title="one", dedupe_key="k1"),
            NotificationDraft(customer_id=b.pk, kind="badge", title="two", dedupe_key="k1"),
        ]
    )
    assert len(created) == 2
    assert [[(topic, data["title"]) for topic, data in batch] for batch in sent] == [
        [(live.driver_topic(a.pk), "one"), (live.driver_topic(b.pk), "two")]
    ]


def test_computed_trip_features_nudge_the_drivers_trips_pages_after_commit(monkeypatch):
    from django.db import transaction

    from apps.telematics.hooks import trip_features_computed

    assert live.trips_changed in trip_features_computed.receivers  # connected by PortalConfig.ready
    sent = []
    monkeypatch.setattr(common_live, "send_many", lambda messages: sent.append(messages))
    with transaction.atomic():
        live.trips_changed(driver_ids=[7, 3, 7])
        assert sent == []
    assert sent == [[(live.driver_topic(3), {"type": "trip"}), (live.driver_topic(7), {"type": "trip"})]]


@pytest.mark.django_db
def test_the_notices_an_open_page_fetches_are_the_drivers_newest_unread_ones(client, django_assert_num_queries):
    import datetime as dt

    from django.utils import timezone

    from apps.customers.models import Notification

    me, other = CustomerFactory(user=UserFactory()), CustomerFactory()
    for i in range(5):
        notification_create(customer_id=me.pk, kind="badge", title=f"Badge {i}", dedupe_key=f"b:{i}")
    Notification.objects.filter(title="Badge 0").update(created_at=timezone.now() - dt.timedelta(hours=1))
    Notification.objects.filter(title="Badge 4").update(read_at=timezone.now())
    notification_create(customer_id=other.pk, kind="badge", title="Not yours", dedupe_key="b:9")
    client.force_login(me.user)
    with django_assert_num_queries(5):  # session, user, driver, the notices, the unread count
        response = client.get(reverse("portal:live-notices"))
    text = response.content.decode()
    assert [t for t in ("Badge 0", "Badge 1", "Badge 2", "Badge 3", "Badge 4", "Not yours") if t in text] == [
        "Badge 1", "Badge 2", "Badge 3",
    ]  # fmt: skip
    assert text.index("Badge 3") < text.index("Badge 1")  # newest first
    assert 'id="unread-menu"' in text and 'id="unread-nav"' in text and ">4<" in text  # the old one counts
    later = int(timezone.now().timestamp()) + 1
    shown_later = client.get(reverse("portal:live-notices") + f"?since={later}").content.decode()
    assert "Badge" not in shown_later and ">4<" in shown_later  # only what came after the page was shown
    assert client.get(reverse("portal:live-notices") + "?since=%C2%B2").status_code == 200  # junk: ignored
