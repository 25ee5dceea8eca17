"""Every ops page for every staff role, the actions scoped by role, CSV exports and the live
stream."""

import json
import threading
import time

import pytest
from django.urls import reverse

from apps.alerts.models import OperationalEvent
from apps.jobs.models import JobRun
from tests.ops.world import build_world

ROLES = ["admin", "back_office", "analyst", "ops"]
PAGES = [
    ("ops:command-center", {}),
    ("ops:alerts", {}),
    ("ops:jobs", {}),
    ("ops:payments-fraud", {}),
    ("ops:payments", {}),
    ("ops:rental-fraud", {}),
    ("ops:fleet", {}),
    ("ops:risk", {}),
    ("ops:forecast", {}),
    ("ops:maintenance", {}),
    ("ops:revenue", {}),
]
RAW = ("None", "nan %", "object (")


@pytest.fixture
def world(db):
    return build_world()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.django_db
def test_every_page_opens_for_every_staff_role_without_raw_values(
    client, role_user, world, role, django_assert_max_num_queries
):
    client.force_login(role_user(role))
    pages = [*PAGES, ("ops:vehicle", {"pk": world["vehicles"][0].pk}), ("ops:alert", {"pk": world["alerts"][0].pk})]
    for name, kwargs in pages:
        with django_assert_max_num_queries(17):  # a fixed budget: no query per row on any page
            response = client.get(reverse(name, kwargs=kwargs))
        html = response.content.decode()
        assert response.status_code == 200, name
        assert not [raw for raw in RAW if raw in html], name
        assert 'aria-current="page"' in html, name  # the navigation marks where we are


@pytest.mark.django_db
def test_command_center_has_trend_charts_by_region_and_the_feed(analyst_client, world):
    html = analyst_client.get(reverse("ops:command-center") + "?days=7").content.decode()
    assert html.count("data-chart=") == 4  # revenue, rentals, utilisation, fleet by status
    assert '"label": "Berlin"' in html and '"label": "Bavaria"' in html
    assert "Service overdue B-OP 1" in html and "7 days" in html
    assert "forecast missed the rentals by 25 % (WAPE), better than" in html


@pytest.mark.django_db
def test_alert_filters_change_the_list(analyst_client, world):
    page = analyst_client.get(reverse("ops:alerts") + "?severity=high").content.decode()
    assert "Odd rentals" in page and "Service overdue B-OP 1" not in page
    page = analyst_client.get(reverse("ops:alerts") + "?event_type=maintenance").content.decode()
    assert "Service overdue B-OP 1" in page and "Odd rentals" not in page


@pytest.mark.parametrize(
    ("role", "allowed"), [("analyst", False), ("back_office", True), ("ops", True), ("admin", True)]
)
@pytest.mark.django_db
def test_only_roles_that_work_alerts_can_acknowledge(client, role_user, world, role, allowed):
    client.force_login(role_user(role))
    event = world["alerts"][0]
    page = client.get(reverse("ops:alerts")).content.decode()
    assert ('value="acknowledge"' in page) is allowed
    response = client.post(reverse("ops:alert-act", args=[event.pk]), {"action": "acknowledge", "note": "on it"})
    event.refresh_from_db()
    if allowed:
        assert response.status_code == 302 and event.status == "acknowledged"
    else:
        assert response.status_code == 403 and event.status == "open"
        assert "Not for your role" in response.content.decode()


@pytest.mark.django_db
def test_dismissing_without_a_note_is_refused_with_a_message(client, role_user, world):
    client.force_login(role_user("ops"))
    event = world["alerts"][1]
    response = client.post(reverse("ops:alert-act", args=[event.pk]), {"action": "dismiss"}, follow=True)
    event.refresh_from_db()
    assert event.status == "open" and "needs a note" in response.content.decode()


@pytest.mark.parametrize(
    ("role", "allowed"), [("analyst", False), ("back_office", False), ("ops", True), ("admin", True)]
)
@pytest.mark.django_db
def test_only_ops_and_admin_start_jobs(client, role_user, role, allowed, django_capture_on_commit_callbacks):
    client.force_login(role_user(role))
    page = client.get(reverse("ops:jobs")).content.decode()
    assert ("Start intelligence.kpis" in page) is allowed
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("ops:job-start"), {"kind": "intelligence.kpis", "days": "3"})
    runs = JobRun.objects.filter(kind="intelligence.kpis")
    if allowed:
        run = runs.get()
        assert response.status_code == 302 and response["Location"] == reverse("ops:job", args=[run.pk])
        assert run.parameters == {"days": 3} and run.started_by.groups.filter(name=role).exists()
    else:
        assert response.status_code == 403 and not runs.exists()


@pytest.mark.django_db
def test_a_bad_job_parameter_is_a_message_not_a_500(client, role_user):
    client.force_login(role_user("ops"))
    response = client.post(reverse("ops:job-start"), {"kind": "intelligence.kpis", "days": "many"}, follow=True)
    assert response.status_code == 200 and not JobRun.objects.exists()
    assert "invalid literal" in response.content.decode()


@pytest.mark.django_db
def test_a_failed_run_shows_one_line_and_the_traceback_only_to_operators(client, role_user):
    run = JobRun.objects.create(
        kind="intelligence.kpis",
        parameters_hash="x",
        status="failed",
        error="ValueError: no stores\nTraceback (most recent call last):\n  File secret.py",
    )
    client.force_login(role_user("analyst"))
    html = client.get(reverse("ops:job", args=[run.pk])).content.decode()
    assert "Failed: ValueError: no stores" in html and "secret.py" not in html
    client.force_login(role_user("ops"))
    assert "secret.py" in client.get(reverse("ops:job", args=[run.pk])).content.decode()


@pytest.mark.parametrize(
    "name", ["ops:alerts", "ops:fleet", "ops:maintenance", "ops:revenue", "ops:rental-fraud", "ops:jobs"]
)
@pytest.mark.django_db
def test_lists_export_csv(analyst_client, world, name):
    response = analyst_client.get(reverse(name) + "?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert len(lines) >= (1 if name == "ops:revenue" else 2) and "None" not in response.content.decode()


@pytest.mark.django_db
def test_fleet_list_sorts_filters_and_links_the_vehicle(analyst_client, world):
    html = analyst_client.get(reverse("ops:fleet") + "?sort=-plate").content.decode()
    assert html.index("B-OP 3") < html.index("B-OP 2") < html.index("B-OP 1")
    html = analyst_client.get(reverse("ops:fleet") + "?urgency=overdue").content.decode()
    assert "B-OP 1" in html and "B-OP 2" not in html
    assert f'href="/ops/fleet/{world["vehicles"][0].pk}/"' in html


@pytest.mark.django_db
def test_unknown_pages_and_rows_get_the_friendly_404(analyst_client):
    response = analyst_client.get("/ops/fleet/999999/")
    assert response.status_code == 404 and "Nothing here" in response.content.decode()


@pytest.mark.django_db
def test_admin_view_site_leads_to_the_ops_pages(back_office_client):
    assert 'href="/ops/"' in back_office_client.get("/admin/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_payments_dashboard_charts_and_drill_down(client, role_user):
    world = build_world(payments=True)
    client.force_login(role_user("analyst"))
    html = client.get(reverse("ops:payments-fraud") + "?period=90").content.decode()
    assert f"{world['payments']:,}" in html or "300" in html
    assert html.count("data-chart=") == 4 and "Electronics" in html
    online = client.get(reverse("ops:payments-fraud") + "?period=90&method=online").content.decode()
    assert ">100<" in online  # the channel filter leaves the online third
    drill = client.get(reverse("ops:payments") + "?method=online&fraud_only=on").content.decode()
    assert "Visa •••• " in drill or "•••• " in drill
    assert "card_number" not in drill
    assert "<td>Fraud</td>" in drill and "True" not in drill  # the label in words, not a raw boolean


@pytest.mark.django_db
def test_live_stream_forwards_an_alert_published_after_it_opened(analyst_client):
    from apps.common import live

    def publish_soon():
        time.sleep(0.5)
        live.publish("alerts", {"ids": [42]})

    threading.Thread(target=publish_soon).start()
    response = analyst_client.get(reverse("ops:live") + "?topics=alerts&seconds=3")
    assert response["Content-Type"] == "text/event-stream"
    body = b"".join(response.streaming_content).decode()
    event = [block for block in body.split("\n\n") if block.startswith("event: alerts")]
    assert event and json.loads(event[0].split("data: ", 1)[1]) == {"ids": [42]}


@pytest.mark.django_db
def test_opening_an_alert_publishes_to_the_live_feed(world, django_capture_on_commit_callbacks, monkeypatch):
    from apps.alerts.services import event_raise
    from apps.common import live

    sent = []
    monkeypatch.setattr(live, "_redis", lambda: type("R", (), {"publish": lambda self, c, d: sent.append((c, d))})())
    with django_capture_on_commit_callbacks(execute=True):
        event = event_raise(event_type="safety", severity="high", entity_type="fleet.vehicle", entity_id=1, title="x")
    assert sent and json.loads(sent[0][1])["ids"] == [event.pk]
    assert OperationalEvent.objects.filter(pk=event.pk).exists()
