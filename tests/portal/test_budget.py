"""The portal's pages run a fixed number of queries: the same with a week of data as with many
more scores, trips, notifications and consents, and never more than the page's budget. Server
times are measured by bench/portal_pages.py, never timed here."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.customers.models import Notification
from tests.customers.factories import TelematicsConsentFactory
from tests.portal.world import build_portal_world
from tests.risk.factories import RiskScoreFactory
from tests.telematics.factories import TripFactory

pytestmark = pytest.mark.django_db

# page -> most queries, session and user included (a driver without a score or a home store runs
# one query more on the dashboard, two fewer on rewards: the demo's driver1 takes the budget)
BUDGET = {
    "/portal/": 9,
    "/portal/rewards/": 7,
    "/portal/notifications/": 5,
    "/portal/privacy/": 6,
    "/portal/password/": 3,
    "/portal/trips/999999/": 4,
}


def _queries(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == (404 if "999999" in path else 200)
    return len(ctx.captured_queries)


@pytest.mark.parametrize("kind", ["phyd", "payd", "traditional"])
def test_every_page_runs_a_fixed_number_of_queries_within_its_budget(client, kind, django_assert_max_num_queries):
    world = build_portal_world(kind=kind)
    client.force_login(world["user"])
    before = {path: _queries(client, path) for path in BUDGET}

    driver, today, now = world["driver"], timezone.localdate(), timezone.now()
    for days in range(60, 120):
        RiskScoreFactory(driver=driver, model=world["model"], as_of=today - dt.timedelta(days=days))
    for i in range(40):
        TripFactory(driver=driver, device=world["device"], started_at=now - dt.timedelta(days=20, hours=i),
                    feature_status="done", score=80)  # fmt: skip
    Notification.objects.bulk_create(
        [
            Notification(customer=driver, kind="trip_scored", title=f"Trip {i}", dedupe_key=f"more-{i}")
            for i in range(50)
        ]
    )
    for _ in range(5):
        TelematicsConsentFactory(customer=driver, given_at=now - dt.timedelta(days=400), withdrawn_at=now)
    after = {path: _queries(client, path) for path in BUDGET}
    assert after == before
    for path, most in BUDGET.items():
        with django_assert_max_num_queries(most):
            client.get(path)


def test_the_sign_in_page_reads_nothing(client):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/portal/login/").status_code == 200
    assert len(ctx.captured_queries) == 0
