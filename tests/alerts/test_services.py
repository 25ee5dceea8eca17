import threading

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection

from apps.alerts.models import OperationalEvent
from apps.alerts.services import event_acknowledge, event_dismiss, event_raise, event_resolve, events_sync
from apps.common.exceptions import ApplicationError
from tests.accounts.factories import UserFactory
from tests.alerts.factories import OperationalEventFactory


def finding(entity_id, severity="medium", **extra):
    return {
        "severity": severity,
        "entity_type": "fleet.vehicle",
        "entity_id": entity_id,
        "title": f"Vehicle {entity_id} due",
        **extra,
    }


@pytest.mark.django_db
def test_event_raise_twice_updates_the_live_event():
    first = event_raise(
        event_type="maintenance", severity="low", entity_type="fleet.vehicle", entity_id=7, title="Due soon"
    )
    second = event_raise(
        event_type="maintenance",
        severity="high",
        entity_type="fleet.vehicle",
        entity_id="7",
        title="Overdue",
        metadata={"km_over": 1200},
        score=0.9,
    )
    assert second.pk == first.pk
    assert OperationalEvent.objects.count() == 1
    assert (second.occurrences, second.severity, second.title, second.score) == (2, "high", "Overdue", 0.9)
    assert second.metadata["km_over"] == 1200
    assert second.status == "open"


@pytest.mark.django_db
def test_event_raise_after_resolution_opens_a_new_event():
    first = event_raise(event_type="safety", severity="low", entity_type="customers.customer", entity_id=1, title="x")
    event_resolve(event=first, user=None, note="handled")
    second = event_raise(event_type="safety", severity="low", entity_type="customers.customer", entity_id=1, title="x")
    assert second.pk != first.pk
    assert OperationalEvent.objects.filter(status="open").count() == 1


@pytest.mark.django_db
def test_acknowledged_event_is_updated_not_duplicated():
    event = event_raise(event_type="anomaly", severity="low", entity_type="fleet.vehicle", entity_id=3, title="x")
    user = UserFactory()
    event_acknowledge(event=event, user=user, note="looking")
    again = event_raise(event_type="anomaly", severity="medium", entity_type="fleet.vehicle", entity_id=3, title="y")
    assert again.pk == event.pk
    assert again.status == "acknowledged"
    assert again.acknowledged_by == user


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"event_type": "nope"}, "event_type must be one of"),
        ({"severity": "urgent"}, "severity must be one of"),
        ({"entity_id": ""}, "required"),
        ({"title": ""}, "required"),
        ({"metadata": ["a"]}, "metadata must be a dict"),
        ({"score": "high"}, "score must be a number"),
    ],
)
@pytest.mark.django_db
def test_event_raise_refuses_bad_input_and_stores_nothing(kwargs, message):
    base = {
        "event_type": "maintenance",
        "severity": "low",
        "entity_type": "fleet.vehicle",
        "entity_id": 1,
        "title": "t",
    }
    with pytest.raises(ApplicationError, match=message):
        event_raise(**{**base, **kwargs})
    assert OperationalEvent.objects.count() == 0


def in_own_connections(func, times: int) -> list[Exception]:
    """Runs func in `times` threads at once, each on its own committed database connection
    (outside the test's transaction, which is why the test cleans up after itself)."""
    barrier = threading.Barrier(times)
    errors: list[Exception] = []

    def run():
        try:
            barrier.wait()
            func()
        except Exception as exc:  # reported by the caller's assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.django_db
def test_concurrent_raises_make_one_event():
    def raise_one():
        event_raise(event_type="maintenance", severity="low", entity_type="race.test", entity_id=9, title="raced")

    try:
        errors = in_own_connections(raise_one, 4)
        assert errors == []
        events = list(OperationalEvent.objects.filter(entity_type="race.test"))
        assert len(events) == 1
        assert events[0].occurrences == 4
    finally:
        in_own_connections(lambda: OperationalEvent.objects.filter(entity_type="race.test").delete(), 1)


@pytest.mark.django_db
def test_events_sync_opens_updates_and_auto_resolves():
    result = events_sync(event_type="maintenance", findings=[finding(1), finding(2)], source="intelligence.maintenance")
    assert result == {"opened": 2, "updated": 0, "suppressed": 0, "auto_resolved": 0}

    result = events_sync(
        event_type="maintenance", findings=[finding(2, "high"), finding(3)], source="intelligence.maintenance"
    )
    assert result == {"opened": 1, "updated": 1, "suppressed": 0, "auto_resolved": 1}
    one = OperationalEvent.objects.get(entity_id="1")
    assert (one.status, one.auto_resolved) == ("resolved", True)
    assert one.closed_at is not None
    assert "auto-resolved" in one.note
    two = OperationalEvent.objects.get(entity_id="2")
    assert (two.status, two.severity, two.occurrences) == ("open", "high", 2)
    assert OperationalEvent.objects.filter(status="open").count() == 2

    result = events_sync(event_type="maintenance", findings=[], source="intelligence.maintenance")
    assert result["auto_resolved"] == 2
    assert not OperationalEvent.objects.filter(status__in=["open", "acknowledged"]).exists()


@pytest.mark.django_db
def test_events_sync_leaves_other_sources_and_types_alone():
    manual = event_raise(event_type="maintenance", severity="low", entity_type="fleet.vehicle", entity_id=5, title="t")
    other_type = OperationalEventFactory(event_type="safety", entity_id="6")
    events_sync(event_type="maintenance", findings=[], source="intelligence.maintenance")
    manual.refresh_from_db()
    other_type.refresh_from_db()
    assert manual.status == "open"
    assert other_type.status == "open"


@pytest.mark.django_db
def test_event_found_by_two_sources_stays_open_until_neither_finds_it():
    customer = {"severity": "high", "entity_type": "customers.customer", "entity_id": 11, "title": "fraud"}
    events_sync(event_type="fraud_risk", findings=[customer], source="intelligence.rental_fraud")
    events_sync(event_type="fraud_risk", findings=[customer], source="intelligence.payment_fraud")
    event = OperationalEvent.objects.get()
    assert set(event.metadata["sources"]) == {"intelligence.rental_fraud", "intelligence.payment_fraud"}

    events_sync(event_type="fraud_risk", findings=[], source="intelligence.rental_fraud")
    event.refresh_from_db()
    assert event.status == "open"
    assert set(event.metadata["sources"]) == {"intelligence.payment_fraud"}

    events_sync(event_type="fraud_risk", findings=[], source="intelligence.payment_fraud")
    event.refresh_from_db()
    assert (event.status, event.auto_resolved) == ("resolved", True)


@pytest.mark.django_db
def test_dismissed_event_is_not_reopened_unless_worse():
    events_sync(event_type="maintenance", findings=[finding(1, "medium")], source="s")
    event = OperationalEvent.objects.get()
    event_dismiss(event=event, user=UserFactory(), note="false positive: odometer typo")

    result = events_sync(event_type="maintenance", findings=[finding(1, "medium")], source="s")
    assert result["suppressed"] == 1
    assert OperationalEvent.objects.count() == 1

    result = events_sync(event_type="maintenance", findings=[finding(1, "critical")], source="s")
    assert result["opened"] == 1
    assert OperationalEvent.objects.filter(status="open", severity="critical").count() == 1


@pytest.mark.django_db
def test_events_sync_refuses_bad_findings_and_changes_nothing():
    events_sync(event_type="maintenance", findings=[finding(1)], source="s")
    with pytest.raises(ApplicationError, match="duplicate entity"):
        events_sync(event_type="maintenance", findings=[finding(2), finding(2)], source="s")
    with pytest.raises(ApplicationError, match="finding #1: severity"):
        events_sync(event_type="maintenance", findings=[finding(3), finding(4, "bad")], source="s")
    with pytest.raises(ApplicationError, match="differs"):
        events_sync(event_type="maintenance", findings=[finding(3, event_type="safety")], source="s")
    assert list(OperationalEvent.objects.values_list("entity_id", "status")) == [("1", "open")]


@pytest.mark.django_db
def test_events_sync_query_count_does_not_grow_with_findings(django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        events_sync(event_type="maintenance", findings=[finding(n) for n in range(300)], source="s")
    assert OperationalEvent.objects.count() == 300


@pytest.mark.django_db
def test_critical_events_email_the_ops_group_once(django_capture_on_commit_callbacks):
    ops = UserFactory(email="ops@example.com")
    ops.groups.add(Group.objects.get(name="ops"))
    UserFactory(email="analyst@example.com").groups.add(Group.objects.get(name="analyst"))

    with django_capture_on_commit_callbacks(execute=True):
        events_sync(event_type="fraud_risk", findings=[finding(1, "critical"), finding(2, "high")], source="s")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]
    assert "Vehicle 1 due" in mail.outbox[0].subject

    with django_capture_on_commit_callbacks(execute=True):
        events_sync(event_type="fraud_risk", findings=[finding(1, "critical"), finding(2, "high")], source="s")
    assert len(mail.outbox) == 1  # still critical: no second mail

    with django_capture_on_commit_callbacks(execute=True):
        events_sync(event_type="fraud_risk", findings=[finding(1, "critical"), finding(2, "critical")], source="s")
    assert len(mail.outbox) == 2  # event 2 escalated
    assert "Vehicle 2 due" in mail.outbox[1].subject


@pytest.mark.django_db
def test_lifecycle_records_who_when_and_notes():
    user = UserFactory(username="ana")
    event = OperationalEventFactory()
    event = event_acknowledge(event=event, user=user, note="on it")
    assert (event.status, event.acknowledged_by) == ("acknowledged", user)
    assert event.acknowledged_at is not None
    event = event_resolve(event=event, user=user, note="serviced")
    assert (event.status, event.closed_by, event.auto_resolved) == ("resolved", user, False)
    assert event.closed_at is not None
    assert "ana acknowledged: on it" in event.note
    assert "ana resolved: serviced" in event.note


@pytest.mark.django_db
def test_invalid_transitions_are_refused():
    event = OperationalEventFactory(status="resolved", closed_at="2026-01-01T00:00:00Z")
    with pytest.raises(ApplicationError, match="is resolved"):
        event_acknowledge(event=event, user=None)
    with pytest.raises(ApplicationError, match="is resolved"):
        event_dismiss(event=event, user=None, note="x")
    live = OperationalEventFactory()
    with pytest.raises(ApplicationError, match="needs a note"):
        event_dismiss(event=live, user=None, note="  ")
    live.refresh_from_db()
    assert live.status == "open"
