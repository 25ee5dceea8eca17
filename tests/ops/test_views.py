import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.jobs.models import JobRun
from tests.accounts.factories import UserFactory
from tests.alerts.factories import OperationalEventFactory
from tests.fleet.factories import MaintenanceForecastFactory, VehicleFactory
from tests.jobs.factories import JobRunFactory
from tests.regions.factories import StoreDailyMetricsFactory, StoreFactory
from tests.transactions.factories import RentalFactory

PAGES = ["ops:command-center", "ops:maintenance", "ops:revenue", "ops:forecast"]


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True))
    return client


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.django_db
def test_pages_are_for_staff_only(client, page):
    response = client.get(reverse(page))
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    client.force_login(UserFactory(is_staff=False))
    assert client.get(reverse(page)).status_code == 302


@pytest.mark.django_db
def test_command_center_shows_kpis_alerts_and_segments(staff_client, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.jobs.services import job_execute, job_start

    store = StoreFactory()
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    StoreDailyMetricsFactory(store=store, date=yesterday, revenue=Decimal("1234"), rentals=7)
    for n in range(5):
        OperationalEventFactory(title=f"Check vehicle {n}", severity="critical" if n == 0 else "low")
    RentalFactory()
    # Before the nightly segments job has run, the page says so and ranks no customer itself.
    with CaptureQueriesContext(connection) as queries:
        page = staff_client.get(reverse("ops:command-center"))
    assert "No segments yet" in page.content.decode()
    assert not [q["sql"] for q in queries.captured_queries if "transactions_rental" in q["sql"]]

    run = job_start(kind="intelligence.customer_segments", parameters={}, trigger="cli", enqueue=False)
    job_execute(run_id=run.pk)
    # one query for the three trend charts (not three), one for the stored segments
    with django_assert_max_num_queries(14):
        page = staff_client.get(reverse("ops:command-center"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "1,234" in html and "Check vehicle 0" in html and "1 critical" in html
    assert '<td>Hibernating</td><td class="num">1</td>' in html  # ranks of a one-customer world are all 1


@pytest.mark.django_db
def test_the_stored_segments_are_the_summary_computed_directly():
    from apps.intelligence.segments import customer_segment_summary
    from apps.intelligence.selectors import customer_segments_latest
    from apps.jobs.services import job_execute, job_start

    now = timezone.now()
    for days_ago, amount in ((3, "80"), (40, "120"), (200, "45.50"), (300, "60")):
        RentalFactory(rented_at=now - dt.timedelta(days=days_ago), rental_amount=Decimal(amount))
    as_of = now.replace(microsecond=0)
    run = job_start(
        kind="intelligence.customer_segments", parameters={"as_of": as_of.isoformat()}, trigger="cli", enqueue=False
    )
    job_execute(run_id=run.pk)
    stored = customer_segments_latest()
    direct = customer_segment_summary(until=as_of)
    assert [s["segment"] for s in stored["segments"]] == [s["segment"] for s in direct]
    for got, want in zip(stored["segments"], direct, strict=True):
        assert (got["customers"], got["spend"]) == (want["customers"], want["spend"])
        assert Decimal(str(got["avg_rentals"])) == want["avg_rentals"]
        assert Decimal(str(got["avg_recency_days"])) == want["avg_recency_days"]
    assert sum(s["customers"] for s in stored["segments"]) == 4


@pytest.mark.django_db
def test_maintenance_queue_lists_the_most_urgent_first(staff_client, django_assert_max_num_queries):
    today = timezone.localdate()
    for urgency, plate in (("ok", "B-OK 1"), ("overdue", "B-LATE 1"), ("due_soon", "B-SOON 1")):
        MaintenanceForecastFactory(
            vehicle=VehicleFactory(plate=plate), as_of=today, urgency=urgency, reason=f"because {plate}"
        )
    with django_assert_max_num_queries(8):  # + the role in the navigation, the urgency chart
        html = staff_client.get(reverse("ops:maintenance")).content.decode()
    assert html.index("B-LATE 1") < html.index("B-SOON 1") < html.index("B-OK 1")
    assert "because B-LATE 1" in html


@pytest.mark.django_db
def test_revenue_page_lists_the_nightly_ranking_as_computed_directly(staff_client, django_assert_num_queries):
    from apps.intelligence.revenue import vehicle_revenue_opportunities
    from apps.jobs.services import job_execute, job_start

    vehicle = VehicleFactory(plate="B-CHEAP 1", price_per_day=Decimal("40"))
    now = timezone.now()
    for n in range(3):
        start = now - dt.timedelta(days=30 + 10 * n)
        RentalFactory(
            vehicle=vehicle,
            rented_at=start,
            due_at=start + dt.timedelta(days=2),
            returned_at=start + dt.timedelta(days=2),
            rental_amount=Decimal("120"),
        )
    page = staff_client.get(reverse("ops:revenue"))
    assert "No ranking yet" in page.content.decode()  # before the first revenue run, no scan of rentals

    as_of = now.replace(microsecond=0)
    run = job_start(kind="intelligence.revenue", parameters={"as_of": as_of.isoformat()}, trigger="cli", enqueue=False)
    job_execute(run_id=run.pk)
    RentalFactory(vehicle=VehicleFactory(plate="B-LATER 1"))  # after the run: the page does not rank again
    with django_assert_num_queries(3):  # session, user, the stored ranking
        page = staff_client.get(reverse("ops:revenue") + "?format=csv")
    shown = list(csv.DictReader(io.StringIO(page.content.decode())))
    direct = vehicle_revenue_opportunities(as_of=as_of)
    assert [r["Vehicle"] for r in shown] == [o["plate"] for o in direct] == ["B-CHEAP 1"]
    want = direct[0]
    assert shown[0]["Verdict"] == "under_priced"
    for column, key in (("List rate", "list_rate"), ("Paid per day", "actual_rate"), ("Suggested", "suggested_rate"),
                        ("Utilisation", "utilisation"), ("Effect over 30 days", "effect_30d")):  # fmt: skip
        assert Decimal(shown[0][column]) == want[key], column
    with django_assert_num_queries(4):  # and the role in the navigation
        html = staff_client.get(reverse("ops:revenue")).content.decode()
    assert "B-CHEAP 1" in html and "under_priced" in html and "B-LATER 1" not in html


@pytest.mark.django_db
def test_forecast_page_reads_the_latest_run(staff_client):
    store = StoreFactory(code="S-FC")
    assert "No forecast yet" in staff_client.get(reverse("ops:forecast")).content.decode()
    JobRunFactory(
        kind="intelligence.demand_forecast",
        status=JobRun.Status.SUCCEEDED,
        finished_at=timezone.now(),
        result={
            "model": "HW",
            "backtest": {
                "overall": {"weeks": 8, "model": {"mape": 12.5, "bias": 1.0}, "naive": {"mape": 20.0, "bias": 0.5}},
                "stores": {str(store.pk): {"model": {"mape": 11.0}, "naive": {"mape": 19.0}}},
            },
            "forecasts": {
                str(store.pk): {
                    "days": ["2026-06-01"],
                    "rentals": [4.0],
                    "expected_on_rent": [9.0],
                    "fleet": 5,
                    "mean_rental_days": 2.25,
                }
            },
        },
    )
    html = staff_client.get(reverse("ops:forecast")).content.decode()
    assert "S-FC" in html and "MAPE 12.5" in html and 'class="short"' in html


@pytest.mark.django_db
def test_report_csv_downloads(staff_client):
    RentalFactory()
    response = staff_client.get(reverse("ops:report-csv", args=["vehicles"]))
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert response.content.decode().startswith("vehicle_id,plate")
    assert staff_client.get("/ops/reports/other.csv").status_code == 404


@pytest.mark.django_db
def test_trend_charts_put_each_region_and_day_in_its_place():
    from apps.ops.selectors.command_center import kpi_trends, period_bounds

    first, last = period_bounds(7)
    north, south = StoreFactory(region__name="North"), StoreFactory(region__name="South")
    for day, revenue, rentals, on_rent, fleet in ((first, "100", 3, 5, 10), (last, "250.5", 4, 2, 8)):
        StoreDailyMetricsFactory(
            store=north, date=day, revenue=Decimal(revenue), rentals=rentals, active_rentals=on_rent, fleet_size=fleet
        )
    StoreDailyMetricsFactory(store=south, date=first + dt.timedelta(days=2), revenue=Decimal("70"), rentals=1,
                             active_rentals=1, fleet_size=3)  # fmt: skip
    charts = {c["key"]: c["chart"] for c in kpi_trends(days=7)}
    assert charts["revenue"]["labels"][0] == first.isoformat() and len(charts["revenue"]["labels"]) == 7
    data = {metric: {d["label"]: d["data"] for d in chart["datasets"]} for metric, chart in charts.items()}
    assert data["revenue"] == {
        "North": [100.0, None, None, None, None, None, 250.5],
        "South": [None, None, 70.0, None, None, None, None],
    }
    assert data["rentals"]["North"][6] == 4.0 and data["rentals"]["South"][2] == 1.0
    assert data["utilisation"]["North"][0] == 50.0 and data["utilisation"]["North"][6] == 25.0
    assert data["utilisation"]["South"][2] == 33.3


@pytest.mark.parametrize("page", ["ops:payments-fraud", "ops:payments"])
@pytest.mark.django_db
def test_a_payments_filter_without_a_period_shows_the_period_the_figures_cover(staff_client, page):
    # A hand-made link with only a category or channel: the figures cover the last 12 months, and
    # the period select must say so (it showed its first option, "Last 30 days").
    response = staff_client.get(reverse(page), {"method": "online"})
    assert response.status_code == 200
    form = response.context["form"]
    assert form["period"].value() == "365" and form["method"].value() == "online"
    assert '<option value="365" selected>' in response.content.decode()
    chosen = staff_client.get(reverse(page), {"period": "30", "method": "online"}).context["form"]
    assert chosen["period"].value() == "30"
