"""The live fleet map: who may see it, what it shows, what it costs, the live message stored
positions publish, and in Chromium the markers drawn and moved by a position sent through the
OsmAnd endpoint."""

import datetime as dt
import urllib.parse
import urllib.request

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from apps.common import live
from apps.ops.selectors.live_map import fleet_positions
from apps.telematics.detection import trips_detect_pending
from apps.telematics.services import device_revoke
from tests.accounts.factories import UserFactory
from tests.common.browser import SHOTS, page_problems, page_watch
from tests.customers.factories import TelematicsConsentFactory
from tests.fleet.factories import VehicleFactory
from tests.ops.test_browser import _sign_in
from tests.telematics.factories import DeviceFactory
from tests.telematics.streams import legs, store

ROLES = ["admin", "back_office", "analyst", "ops"]


def build_fleet(now: dt.datetime) -> dict:
    """B-LM 1 driving (a trip in progress, last fix 30 s ago), B-LM 2 parked (last fix 2 h ago),
    B-LM 3 with a revoked tracker, B-LM 4 with a tracker that never reported, and a phone with no
    vehicle: only the first two are on the map."""
    out = {}
    for n in (1, 2, 3, 4):
        vehicle = VehicleFactory(plate=f"B-LM {n}", make="Volkswagen", model="Golf")
        out[n] = DeviceFactory(vehicle=vehicle, customer=TelematicsConsentFactory().customer, serial=f"LM-{n}")
    t, lat, lon, v = legs(now - dt.timedelta(seconds=930), [(300, 0), (600, 14)], lat0=52.52)
    store(out[1], t, lat, lon, v)
    t, lat, lon, v = legs(now - dt.timedelta(hours=3), [(3600, 0)], every=60, lat0=52.49)
    store(out[2], t, lat, lon, v)
    store(out[3], t, lat, lon, v)
    device_revoke(device=out[3])
    phone = DeviceFactory(vehicle=None, customer=TelematicsConsentFactory().customer)
    store(phone, t, lat, lon, v)
    trips_detect_pending(now=now)
    return out


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_every_staff_role_sees_the_map_with_its_vehicles(client, role_user, role, django_assert_max_num_queries):
    build_fleet(timezone.now())
    client.force_login(role_user(role))
    with django_assert_max_num_queries(5):  # session, user, role in the navigation, the positions
        response = client.get(reverse("ops:live-map"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/ops/map/" aria-current="page">Live map</a>' in html
    assert "B-LM 1" in html and "B-LM 2" in html and "B-LM 3" not in html and "B-LM 4" not in html
    assert '<strong data-count="moving">1</strong> moving · <strong data-count="stopped">1</strong> stopped' in html
    assert "Route so far" in html


@pytest.mark.django_db
def test_the_map_is_for_staff_only(client):
    for url in (reverse("ops:live-map"), reverse("ops:live-map-positions")):
        response = client.get(url)
        assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    client.force_login(UserFactory(is_staff=False))
    assert client.get(reverse("ops:live-map")).status_code == 302


@pytest.mark.django_db
def test_an_empty_fleet_says_how_trackers_are_set_up(client, role_user):
    client.force_login(role_user("analyst"))
    html = client.get(reverse("ops:live-map")).content.decode()
    assert "No vehicle with an active tracker has reported a position yet" in html
    assert "fleet-map-data" not in html


@pytest.mark.django_db
def test_positions_json_and_the_moving_rules(client, role_user, django_assert_max_num_queries):
    now = timezone.now()
    devices = build_fleet(now)
    client.force_login(role_user("analyst"))
    with django_assert_max_num_queries(4):
        data = client.get(reverse("ops:live-map-positions")).json()
    by_plate = {v["plate"]: v for v in data["vehicles"]}
    assert sorted(by_plate) == ["B-LM 1", "B-LM 2"]
    driving, parked = by_plate["B-LM 1"], by_plate["B-LM 2"]
    assert driving["moving"] and driving["speed"] == 14.0 and driving["device"] == devices[1].pk
    assert driving["trip_url"] == f"/ops/fleet/{devices[1].vehicle_id}/#trip"
    assert not parked["moving"] and parked["trip_url"] is None and parked["speed"] == 0.0
    assert driving["t"] == int((now - dt.timedelta(seconds=30)).timestamp())
    # Ten minutes on without a new position, the moving vehicle counts as stopped.
    later = fleet_positions(now=now + dt.timedelta(minutes=10))
    assert later["moving"] == 0 and later["stopped"] == 2


@pytest.mark.django_db
def test_the_vehicle_page_shows_the_trip_in_progress_so_far(client, role_user):
    devices = build_fleet(timezone.now())
    client.force_login(role_user("ops"))
    html = client.get(reverse("ops:vehicle", args=[devices[1].vehicle_id])).content.decode()
    assert '<h2 id="trip">Trip in progress' in html
    assert 'data-map="route-map"' in html
    assert "In progress: distance, events and score when the trip ends" in html  # not zeros


@pytest.mark.django_db
def test_a_store_publishes_one_message_with_each_devices_newest_position(
    monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(live, "send", lambda topic, data: sent.append((topic, data)))
    a = DeviceFactory(customer=TelematicsConsentFactory().customer)
    b = DeviceFactory(customer=TelematicsConsentFactory().customer)
    now = timezone.now()
    t, lat, lon, v = legs(now - dt.timedelta(minutes=20), [(1200, 10)])
    with django_capture_on_commit_callbacks(execute=True):
        store(a, t, lat, lon, v)
    assert len(sent) == 1
    topic, data = sent[0]
    assert topic == "positions"
    assert data == {
        "positions": [
            {
                "device": a.pk,
                "t": int(t[-1] // 1_000_000),
                "lat": round(lat[-1], 6),
                "lon": 13.4,
                "speed": 10.0,
                "heading": 0.0,
            }
        ]
    }
    # a gateway's batch of two devices: still one message
    sent.clear()
    from apps.telematics.positions.parse import PositionBatch
    from apps.telematics.positions.services import positions_store

    n = len(t)
    batch = PositionBatch(
        identifiers=[a.serial, b.serial], device=np.arange(2 * n) % 2, t=np.repeat(t + 5_000_000, 2),
        lat=np.repeat(lat, 2), lon=np.repeat(lon, 2), speed=np.repeat(v, 2), heading=np.zeros(2 * n),
        altitude=np.full(2 * n, np.nan), accuracy=np.full(2 * n, 5.0), battery=np.full(2 * n, np.nan),
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        positions_store(batch=batch, devices={0: a, 1: b})
    assert len(sent) == 1 and [p["device"] for p in sent[0][1]["positions"]] == [a.pk, b.pk]
    # positions older than the live window (an import) publish nothing
    sent.clear()
    t, lat, lon, v = legs(now - dt.timedelta(days=30), [(600, 10)])
    with django_capture_on_commit_callbacks(execute=True):
        store(a, t, lat, lon, v)
    assert sent == []


MARKERS = """() => Object.values(window.fleetMap.vehicles).map(v => [v.plate, v.marker.getLatLng().lat, v.moving,
    !!v.marker._path && v.marker._path.getAttribute('fill')])"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_markers_are_drawn_and_move_live_when_a_tracker_reports(live_server, role_user, chromium):
    devices = build_fleet(timezone.now())
    role_user("analyst", username="analyst-map")
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    browser = chromium.new_context()  # the session's one Chromium (tests/conftest.py)
    try:
        page = browser.new_page()
        errors, failed = page_watch(page, ignore="/ops/live/")
        _sign_in(page, live_server.url, "analyst-map")
        errors.clear()
        failed.clear()
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}/ops/map/")
            page.wait_for_selector("#fleet-map[data-ready='1']")
            markers = sorted(page.evaluate(MARKERS))
            assert [m[0] for m in markers] == ["B-LM 1", "B-LM 2"]
            assert markers[0][2] is True and markers[1][2] is False
            assert page.locator("#fleet-map path.leaflet-interactive").count() == 2
            page.screenshot(path=str(SHOTS / f"ops_map-{width}.png"), full_page=True)
            problems += page_problems(page, "/ops/map/", width)  # width, axe serious/critical
        # The parked vehicle's tracker reports from elsewhere, moving: its marker follows live.
        page.wait_for_selector("[data-map-live].on")
        query = urllib.parse.urlencode(
            {
                "id": devices[2].serial, "key": devices[2].raw_token, "lat": "52.53", "lon": "13.41",
                "speed": "20", "timestamp": str(int(timezone.now().timestamp())),
            }
        )  # fmt: skip
        with urllib.request.urlopen(f"{live_server.url}/api/v1/telematics/osmand?{query}") as response:
            assert response.status == 200
        page.wait_for_function(
            "() => { const v = Object.values(window.fleetMap.vehicles).find(v => v.plate === 'B-LM 2');"
            " return v.marker.getLatLng().lat === 52.53 && v.moving; }",
            timeout=10_000,
        )
        row = page.locator(f'tr[data-device="{devices[2].pk}"]')
        assert row.locator('[data-cell="state"]').inner_text() == "Moving"
        assert page.locator('[data-count="moving"]').inner_text() == "2"
        page.screenshot(path=str(SHOTS / "ops_map-live-390.png"), full_page=True)
        # Through to the vehicle's trip in progress.
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto(f"{live_server.url}/ops/map/")
        page.wait_for_selector("#fleet-map[data-ready='1']")
        page.evaluate(
            "() => Object.values(window.fleetMap.vehicles).find(v => v.plate === 'B-LM 1').marker.openPopup()"
        )
        page.locator(".fleet-popup").get_by_role("link", name="Trip in progress").click()
        page.wait_for_selector("body[data-ready='1']")
        assert page.url.endswith(f"/ops/fleet/{devices[1].vehicle_id}/#trip")
        assert page.locator("#trip").inner_text().startswith("Trip in progress")
        assert page.locator(".map path.leaflet-interactive").count() == 1  # the route so far
        page.screenshot(path=str(SHOTS / "ops_map-trip-1366.png"), full_page=True)
        # The icon's request is cut when the test leaves a page at once (a 4xx would still count).
        failed = [f for f in failed if not (f.startswith("http") and f.endswith("/static/common/favicon.svg"))]
        problems += [f"console {e}" for e in errors] + [f"request {f}" for f in failed]
    finally:
        browser.close()
    assert not problems, "\n".join(problems)


DEAD_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # nothing listens on the discard port
TILE_IMAGES = "() => document.querySelectorAll('#fleet-map .leaflet-tile-pane img').length"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_markers_draw_on_a_blank_background_when_no_tile_server_answers(live_server, role_user, chromium, settings):
    """The live map shares the portal trip map's background code (static/common/fleetops.js): the
    tiles that fail are dropped after a few, zooming and panning ask for no more, and the next
    page of the tab asks for none; nothing else fails."""
    settings.MAP_TILES_URL = DEAD_TILES
    build_fleet(timezone.now())
    role_user("analyst", username="analyst-tiles")
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser = chromium.new_context()
    tiles = []
    try:
        page = browser.new_page()
        errors, failed = page_watch(page, ignore="/ops/live/")
        page.on("request", lambda r: tiles.append(r.url) if "127.0.0.1:9/" in r.url else None)
        _sign_in(page, live_server.url, "analyst-tiles")
        errors.clear()
        failed.clear()
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto(f"{live_server.url}/ops/map/")
        page.wait_for_selector("#fleet-map[data-ready='1'][data-tiles='unreachable']", timeout=10_000)
        assert page.locator("#fleet-map path.leaflet-interactive").count() == 2
        assert page.evaluate(TILE_IMAGES) == 0
        asked = len(tiles)
        assert 3 <= asked <= 40, tiles  # the first view's tiles, then no more
        page.screenshot(path=str(SHOTS / "ops_map-without-tiles-1366.png"), full_page=True)
        page.evaluate("() => { const m = window.fleetMap.map; m.setZoom(m.getZoom() + 2); m.panBy([400, 200]); }")
        page.wait_for_timeout(1_000)
        assert len(tiles) == asked
        # The next page of the tab knows: no tile is asked for, the markers are drawn.
        page.set_viewport_size({"width": 390, "height": 900})
        page.goto(f"{live_server.url}/ops/map/")
        page.wait_for_selector("#fleet-map[data-ready='1'][data-tiles='unreachable']")
        assert page.locator("#fleet-map path.leaflet-interactive").count() == 2
        assert len(tiles) == asked
        page.screenshot(path=str(SHOTS / "ops_map-without-tiles-390.png"), full_page=True)
    finally:
        browser.close()
    # Chromium itself logs each failed tile; nothing else may fail.
    assert not [e for e in errors if not e.startswith("Failed to load resource: net::")], errors
    favicon = "/static/common/favicon.svg"
    assert not [f for f in failed if "127.0.0.1:9/" not in f and not f.endswith(favicon)], failed
