"""Notifications in batches: one statement however many drivers, each event once, e-mailed after
commit to the drivers who opted in, told to the portal's live channel once committed."""

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.customers.models import Notification
from apps.customers.services import NotificationDraft, notifications_create, notifications_created
from tests.customers.factories import CustomerFactory


def _drafts(drivers, key="event:1"):
    return [
        NotificationDraft(customer_id=d.pk, kind="score_changed", title=f"Hello {d.pk}", dedupe_key=key, url="/portal/")
        for d in drivers
    ]


@pytest.mark.django_db
def test_a_batch_is_one_statement_and_each_event_is_stored_once():
    drivers = CustomerFactory.create_batch(40)
    with CaptureQueriesContext(connection) as ctx:
        created = notifications_create(drafts=_drafts(drivers) + _drafts(drivers[:3]))  # repeats in the batch
    assert len(ctx.captured_queries) == 1
    assert sorted(n.customer_id for n in created) == sorted(d.pk for d in drivers)
    assert all(n.pk and n.created_at and n.read_at is None for n in created)
    assert notifications_create(drafts=_drafts(drivers)) == []  # a retried batch
    assert Notification.objects.count() == 40
    assert notifications_create(drafts=[]) == []


@pytest.mark.django_db
def test_long_texts_are_cut_to_the_columns():
    driver = CustomerFactory()
    [n] = notifications_create(
        drafts=[NotificationDraft(customer_id=driver.pk, kind="badge", title="t" * 300, body="b" * 900, dedupe_key="k")]
    )
    n.refresh_from_db()
    assert (len(n.title), len(n.body)) == (120, 500)


@pytest.mark.django_db(transaction=True)
def test_e_mail_and_the_live_hook_follow_the_commit_and_only_opted_in_drivers_get_mail(settings, monkeypatch):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    yes = CustomerFactory(email="yes@example.com", notify_by_email=True)
    no = CustomerFactory(email="no@example.com", notify_by_email=False)
    told = []
    monkeypatch.setattr(notifications_created, "_receivers", [lambda *, notifications: told.append(notifications)])
    with transaction.atomic():
        notifications_create(drafts=_drafts([yes, no]))
        assert mail.outbox == [] and told == []
    assert [m.to for m in mail.outbox] == [["yes@example.com"]]
    assert mail.outbox[0].subject == f"FleetOps: Hello {yes.pk}"
    assert mail.outbox[0].body.endswith("/portal/")
    assert [[n.customer_id for n in batch] for batch in told] == [sorted([yes.pk, no.pk])]
    with transaction.atomic():
        notifications_create(drafts=_drafts([yes, no]))  # nothing new: nothing sent
    assert len(mail.outbox) == 1 and len(told) == 1
