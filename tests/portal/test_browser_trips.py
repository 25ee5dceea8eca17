"""The trip pages in real Chromium for driver1, at 390 px and 1366 px, with trips uploaded and scored
as a device's would be: the list and a trip page with its route, speeding stretch and event
markers drawn on the map and the speed chart drawn with data, no console error, no wider than the
window, no serious axe-core violation, a screenshot each under var/screenshots/portal/. The map's
tile server is unreachable here, which is the case the pages must survive: the route still draws.
Then, with the trips page open, a trip uploaded through the real API appears as the trip just
uploaded and its notification appears without a reload."""

import orjson
import pytest

from tests.common.browser import CHART_POINTS, SHOTS, page_problems
from tests.portal.test_browser import _sign_in
from tests.portal.trips_world import driven_trip, minutes_ago, winding_samples
from tests.portal.world import build_portal_world

WIDTHS = (390, 1366)
SHOT_DIR = SHOTS / "portal"
DEAD_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # nothing listens on the discard port
MAP_DRAWN = """(selector) => {
    const el = document.querySelector(selector);
    if (!el || !el.classList.contains('leaflet-container')) return null;
    const paths = Array.from(el.querySelectorAll('.leaflet-overlay-pane path'));
    return {paths: paths.length, coloured: [...new Set(paths.map(p => p.getAttribute('stroke')))].sort()};
}"""


@pytest.fixture
def dead_tiles(settings):
    settings.MAP_TILES_URL = DEAD_TILES


def _watch(page):
    """Console errors and failed requests, except the unreachable tiles and a stream cut on leaving."""
    errors, failed = [], []

    def console(message):
        if message.type == "error" and ":9/" not in (message.location or {}).get("url", ""):
            errors.append(message.text)

    page.on("console", console)
    page.on("requestfailed", lambda r: None if ":9/" in r.url or "/portal/live/" in r.url else failed.append(r.url))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return errors, failed


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_trip_list_and_trip_map_for_driver1_on_a_phone_and_a_laptop(live_server, chromium, dead_tiles):
    world = build_portal_world()
    trip = driven_trip(world["driver"], device=world["device"], n=900, t0=minutes_ago(60 * 26), external_id="drive")
    assert trip.speeding_count == 1 and trip.harsh_brake_count == 1
    SHOT_DIR.mkdir(parents=True, exist_ok=True)
    base, problems, drawn = live_server.url, [], {}
    browser = chromium.new_context()  # the session's one Chromium (tests/conftest.py)
    try:
        page = browser.new_page()
        errors, failed = _watch(page)
        _sign_in(page, base)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 860})
            for path, name in (("/portal/trips/", "trips"), (f"/portal/trips/{trip.pk}/", "trip")):
                response = page.goto(base + path)
                page.wait_for_selector("body[data-ready='1']")
                if response.status != 200:
                    problems.append(f"{path}: status {response.status}")
                if name == "trip":
                    page.wait_for_selector(".trip-map .leaflet-overlay-pane path")
                    drawn[width] = (page.evaluate(MAP_DRAWN, ".trip-map"), dict(page.evaluate(CHART_POINTS)))
                page.screenshot(path=str(SHOT_DIR / f"{name}-{width}.png"), full_page=True)
                problems += page_problems(page, path, width)
                problems += [f"{path} ({width}): console {e}" for e in errors]
                problems += [f"{path} ({width}): request {f}" for f in failed]
                errors.clear()
                failed.clear()
        # a tap on the speeding stretch says how fast, where what was allowed
        page.locator(".trip-map path[stroke='#e65100']").first.click(force=True)
        popup = page.locator(".leaflet-popup-content").inner_text()
    finally:
        browser.close()
    assert not problems, "\n".join(problems)
    for width in WIDTHS:
        route_map, charts = drawn[width]
        # route, speeding stretch, start, end and the harsh brake: five shapes in their colours
        assert route_map["paths"] == 5, route_map
        assert {"#1e88e5", "#e65100", "#c62828"} <= set(route_map["coloured"]), route_map
        assert charts["speed-chart"] == 2 * 300, charts  # speed and limit, 900 samples in 300 steps
    assert "up to 65 km/h where 50 km/h is allowed" in popup


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_upload_shows_live_on_the_open_trips_page_with_its_notification(live_server, chromium, dead_tiles):
    from playwright.sync_api import expect

    from apps.customers.services import notification_create

    world = build_portal_world()
    base = live_server.url
    headers = {"Authorization": f"Device {world['device'].raw_token}", "Content-Type": "application/json"}
    browser = chromium.new_context()  # the session's one Chromium (tests/conftest.py)
    try:
        page = browser.new_page()
        errors, failed = _watch(page)
        page.set_viewport_size({"width": 390, "height": 860})
        _sign_in(page, base)
        page.goto(f"{base}/portal/trips/")
        page.wait_for_selector("body[data-live-connected='1']")
        expect(page.locator("#live-trip")).to_be_empty()
        expect(page.locator("#unread-nav")).to_have_text("2", use_inner_text=False)

        # a notification created while the page is open appears without a reload
        notification_create(
            customer_id=world["driver"].pk, kind="badge", title="New badge: Smooth week", dedupe_key="badge:live"
        )
        expect(page.locator("#live-notices")).to_contain_text("New badge: Smooth week", timeout=10_000)
        expect(page.locator("#unread-nav")).to_have_text("3", use_inner_text=False)

        # a trip uploaded through the API: the trip just uploaded with its map, and its notification
        body = orjson.dumps({"external_id": "live-upload", "samples": winding_samples(240, t0=minutes_ago(5))})
        response = page.request.post(f"{base}/api/v1/telematics/trips", data=body, headers=headers)
        assert response.status == 201, response.text()
        expect(page.locator("#live-trip")).to_contain_text("Trip just uploaded", timeout=15_000)
        page.wait_for_selector("#live-trip .leaflet-overlay-pane path")
        expect(page.locator("#live-notices")).to_contain_text("Trip scored", timeout=15_000)
        page.screenshot(path=str(SHOT_DIR / "trips-live-390.png"), full_page=True)
        problems = page_problems(page, "/portal/trips/ (live)", 390)
    finally:
        browser.close()
    assert not problems, "\n".join(problems)
    assert not errors and not failed, (errors, failed)
