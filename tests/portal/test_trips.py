"""The driver's trips: cards with what cost points, a trip's route, speeding stretches, event
markers and speed profile from the driver's own samples (small however long the trip), the trip in
progress, and the pages' fixed query counts."""

import datetime as dt
import json
import re

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.portal import route as routes
from apps.portal.trips import driver_live_trip
from apps.telematics.models import Trip
from tests.customers.factories import CustomerFactory
from tests.portal.trips_world import driven_trip, minutes_ago
from tests.telematics.factories import DeviceFactory, TripFactory

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _island(response, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', response.content.decode())
    assert match, f"no data island {element_id}"
    return json.loads(match.group(1))


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


# --- simplification -------------------------------------------------------------------------------


def test_a_straight_line_keeps_its_ends_and_a_bend_keeps_its_corner():
    lat = np.linspace(52.0, 52.01, 200)
    lon = np.full(200, 13.0)
    assert routes.simplify(lat, lon).tolist() == [0, 199]
    bent_lat = np.concatenate([lat, np.full(100, 52.01)])
    bent_lon = np.concatenate([lon, np.linspace(13.0, 13.02, 101)[1:]])
    assert routes.simplify(bent_lat, bent_lon).tolist() == [0, 199, 299]


def test_a_long_wiggly_route_is_cut_to_the_point_budget():
    t = np.arange(20_000)
    lat = 52.0 + t * 1e-5
    lon = 13.0 + 0.001 * np.sin(t / 5)  # ~70 m wiggles every few seconds
    kept = routes.simplify(lat, lon)
    assert len(kept) <= routes.MAX_ROUTE_POINTS
    assert kept[0] == 0 and kept[-1] == len(t) - 1


# --- the list --------------------------------------------------------------------------------------


def test_trip_cards_show_local_date_distance_duration_score_and_what_cost_points(driver_client, driver_user):
    driver = driver_user.customer
    start = dt.datetime(2026, 7, 1, 6, 5, tzinfo=dt.UTC)  # 08:05 in Berlin
    TripFactory(
        driver=driver,
        started_at=start,
        distance_km=12.34,
        duration_s=1500,
        score=81,
        feature_status="done",
        score_deductions=[
            {"reason": "harsh_brake", "amount": 2, "points": 8.0, "events": [0, 1]},
            {"reason": "speeding", "amount": 1.5, "points": 3.0, "events": [2]},
            {"reason": "night", "amount": 0.0, "points": 0.0, "events": []},
        ],
    )
    TripFactory(driver=driver, started_at=start - dt.timedelta(days=1), score=100, feature_status="done")
    TripFactory(driver=CustomerFactory(), started_at=start, score=12)
    text = _text(driver_client.get("/portal/trips/"))
    assert "2 trips, newest first" in text
    assert "Wed 01 Jul, 08:05" in text
    assert "12.3 km · 25 min 00 s" in text
    assert "81 /100" in text
    assert "2 harsh brakes \u22128.0" in text
    assert "1.5 min over the limit \u22123.0" in text
    assert "Nothing cost points on this trip." in text
    assert "night" not in text.lower()  # a deduction of no points is not listed
    assert " 12 /100" not in text  # another driver's trip


def test_the_list_with_no_trips_says_where_they_come_from(driver_client):
    assert "No trips yet" in _text(driver_client.get("/portal/trips/"))


# --- one trip --------------------------------------------------------------------------------------


def test_a_trip_page_draws_the_route_speeding_events_and_speed_in_kmh(driver_client, driver_user):
    trip = driven_trip(driver_user.customer)
    assert trip.speeding_count == 1 and trip.harsh_brake_count == 1
    response = driver_client.get(f"/portal/trips/{trip.pk}/")
    assert response.status_code == 200
    route_map = _island(response, "trip-map")
    route_line, stretch = route_map["lines"]
    assert 10 < len(route_line["points"]) < 600  # the bends kept, the straight bits dropped
    assert route_line["points"][0] == pytest.approx([52.52, 13.405], abs=1e-3)
    assert "up to 65 km/h where 50 km/h is allowed" in stretch["label"]
    assert len(stretch["points"]) >= 2
    labels = [p["label"] for p in route_map["points"]]
    assert labels[0].startswith("Start ") and labels[1].startswith("End ")
    assert any(lab.startswith("Harsh braking: 5.0 m/s² (0.51 g)") for lab in labels)

    chart = _island(response, "speed-chart")
    speed, limit = chart["datasets"]
    assert chart["unit"] == "km/h"
    assert max(speed["data"]) == 65 and set(limit["data"]) == {50}  # 18 m/s, 13.89 m/s
    assert len(chart["labels"]) == 300  # 600 samples in 300 steps
    text = _text(response)
    assert "Points lost" in text and "Harsh braking \u2212" in text and "Speeding \u2212" in text
    assert "1 harsh brake" in text
    assert "52.5" not in text.replace(json.dumps(route_map), "")  # no raw coordinates in the text


def test_the_route_of_a_long_trip_stays_small(driver_client, driver_user):
    trip = driven_trip(driver_user.customer, n=7200)  # two hours at 1 Hz
    response = driver_client.get(f"/portal/trips/{trip.pk}/")
    route_map = _island(response, "trip-map")
    assert len(route_map["lines"][0]["points"]) <= routes.MAX_ROUTE_POINTS
    assert len(_island(response, "speed-chart")["labels"]) == routes.MAX_PROFILE_POINTS
    assert len(response.content) < 120_000


def test_another_drivers_trip_and_its_route_are_a_404(driver_client):
    other = driven_trip(CustomerFactory(), n=60)
    response = driver_client.get(f"/portal/trips/{other.pk}/")
    assert response.status_code == 404
    assert "trip-map" not in response.content.decode()


def test_a_trip_without_samples_says_there_is_no_route(driver_client, driver_user):
    trip = TripFactory(driver=driver_user.customer)
    text = _text(driver_client.get(f"/portal/trips/{trip.pk}/"))
    assert "no route to draw" in text and "No speeds are stored" in text


# --- the trip in progress --------------------------------------------------------------------------


def test_a_trip_uploaded_minutes_ago_shows_as_just_uploaded_with_its_last_position(driver_client, driver_user):
    driver = driver_user.customer
    driven_trip(driver, n=300, t0=minutes_ago(60 * 24 * 3), external_id="old")  # uploaded now, ended days ago
    assert driver_live_trip(driver_id=driver.pk) is None
    trip = driven_trip(driver, n=300, t0=minutes_ago(7), external_id="fresh")
    response = driver_client.get("/portal/trips/")
    text = _text(response)
    assert "Trip just uploaded" in text and "Distance 3.8 km" in text
    live_map = _island(response, "live-trip-map")
    assert live_map["points"][0]["label"] == "Last position"
    assert live_map["points"][0]["lat"] == live_map["lines"][0]["points"][-1][0]
    assert f'/portal/trips/{trip.pk}/' in response.content.decode()
    later = timezone.now() + dt.timedelta(minutes=11)
    assert driver_live_trip(driver_id=driver.pk, now=later) is None  # the window has passed


def test_an_open_detected_trip_shows_as_in_progress_and_its_panel_reloads_alone(driver_client, driver_user):
    driver = driver_user.customer
    device = DeviceFactory(customer=driver)
    now = timezone.now()
    Trip.objects.create(
        device=device, external_id="stream-1", driver=driver, source="positions", in_progress=True,
        started_at=now - dt.timedelta(minutes=14), ended_at=now - dt.timedelta(seconds=20), distance_km=9.31,
    )  # fmt: skip
    other = CustomerFactory()
    Trip.objects.create(
        device=DeviceFactory(customer=other), external_id="stream-2", driver=other, source="positions",
        in_progress=True, started_at=now, ended_at=now,
    )  # fmt: skip
    panel = driver_client.get("/portal/trips/live/")
    text = _text(panel)
    assert "Trip in progress" in text and "Distance so far 9.3 km" in text and "Duration 13 min 40 s" in text
    assert "<html" not in panel.content.decode()  # the panel alone


# --- query counts ----------------------------------------------------------------------------------


def test_trip_pages_run_a_fixed_number_of_queries(driver_client, driver_user, django_assert_num_queries):
    driver = driver_user.customer
    short = driven_trip(driver, n=120, t0=minutes_ago(60 * 24 * 3), external_id="short")
    list_before = _queries(driver_client, "/portal/trips/")
    detail_before = _queries(driver_client, f"/portal/trips/{short.pk}/")
    long = driven_trip(driver, n=3000, t0=minutes_ago(60 * 24 * 2), external_id="long")
    for i in range(30):
        TripFactory(driver=driver, started_at=timezone.now() - dt.timedelta(days=5, hours=i), score=90)
    assert _queries(driver_client, "/portal/trips/") == list_before
    assert _queries(driver_client, f"/portal/trips/{long.pk}/") == detail_before
    # session, user, driver, count, the page's trips, the trip in progress (none)
    with django_assert_num_queries(6):
        driver_client.get("/portal/trips/")
    # session, user, driver, the trip, its samples
    with django_assert_num_queries(5):
        driver_client.get(f"/portal/trips/{long.pk}/")
    driven_trip(driver, n=120, t0=minutes_ago(5), external_id="live")
    with django_assert_num_queries(7):  # and the trip in progress's samples
        driver_client.get("/portal/trips/")
