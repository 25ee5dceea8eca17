import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.alerts.models import OperationalEvent
from tests.alerts.factories import OperationalEventFactory

CHANGELIST = "admin:alerts_operationalevent_changelist"


@pytest.fixture
def ops_client(client, role_user):
    client.force_login(role_user("ops"))
    return client


@pytest.mark.django_db
def test_list_filters_by_type_severity_status_and_age(ops_client):
    now = timezone.now()
    fresh = OperationalEventFactory(title="fresh", severity="critical", opened_at=now - dt.timedelta(hours=2))
    week = OperationalEventFactory(title="week-old", event_type="fraud_risk", opened_at=now - dt.timedelta(days=3))
    old = OperationalEventFactory(title="ancient", opened_at=now - dt.timedelta(days=40))
    url = reverse(CHANGELIST)

    def titles(**params):
        response = ops_client.get(url, params)
        assert response.status_code == 200
        return {event.title for event in response.context["cl"].result_list}

    assert titles() == {"fresh", "week-old", "ancient"}
    assert titles(event_type="fraud_risk") == {week.title}
    assert titles(severity="critical") == {fresh.title}
    assert titles(status="open") == {"fresh", "week-old", "ancient"}
    assert titles(age="1d") == {fresh.title}
    assert titles(age="7d") == {week.title}
    assert titles(age="old") == {old.title}


@pytest.mark.django_db
def test_acknowledge_action_asks_for_a_note_then_applies(ops_client):
    events = [OperationalEventFactory(), OperationalEventFactory()]
    ids = [e.pk for e in events]
    page = ops_client.post(reverse(CHANGELIST), {"action": "acknowledge_events", "_selected_action": ids})
    assert page.status_code == 200
    assert 'name="note"' in page.content.decode()
    assert OperationalEvent.objects.filter(status="open").count() == 2

    ops_client.post(
        reverse(CHANGELIST),
        {"action": "acknowledge_events", "_selected_action": ids, "apply": "1", "note": "on it"},
    )
    for event in events:
        event.refresh_from_db()
        assert event.status == "acknowledged"
        assert "on it" in event.note


@pytest.mark.django_db
def test_dismiss_needs_a_note_and_resolve_refuses_closed_events(ops_client):
    live = OperationalEventFactory()
    closed = OperationalEventFactory(status="resolved", closed_at=timezone.now())
    response = ops_client.post(
        reverse(CHANGELIST), {"action": "dismiss_events", "_selected_action": [live.pk], "apply": "1", "note": ""}
    )
    assert response.status_code == 200 and "Say why" in response.content.decode()
    live.refresh_from_db()
    assert live.status == "open"

    ops_client.post(
        reverse(CHANGELIST),
        {"action": "resolve_events", "_selected_action": [live.pk, closed.pk], "apply": "1", "note": "fixed"},
    )
    live.refresh_from_db()
    closed.refresh_from_db()
    assert live.status == "resolved"
    assert closed.note == ""  # untouched: it was already resolved


@pytest.mark.django_db
def test_analyst_sees_events_but_cannot_act(client, role_user):
    client.force_login(role_user("analyst"))
    event = OperationalEventFactory()
    assert client.get(reverse(CHANGELIST)).status_code == 200
    client.post(reverse(CHANGELIST), {"action": "resolve_events", "_selected_action": [event.pk], "apply": "1"})
    event.refresh_from_db()
    assert event.status == "open"
