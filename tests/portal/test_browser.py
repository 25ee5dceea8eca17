"""The driver portal in real Chromium for driver1, at 390 px (a phone) and 1366 px: every page of
the portal's own (sign-in, dashboard, rewards, notifications, privacy, password pages, the
friendly errors) without a console error or failed request, no wider than the window, its charts
drawn with data, no serious axe-core violation, a screenshot each under var/screenshots/portal/;
the phone menu opens; and consent withdrawn on the privacy page makes the upload API refuse a
trip until consent is given again; the trip then uploaded earns a badge, and the data downloaded
from the privacy page holds this driver's trips and no other driver's."""

import zipfile

import orjson
import pytest

from tests.common.browser import CHART_POINTS, SHOTS, page_problems, page_watch
from tests.portal.conftest import PASSWORD
from tests.portal.world import build_portal_world
from tests.telematics.factories import TripFactory
from tests.telematics.helpers import cruise

WIDTHS = (390, 1366)
ANONYMOUS = ["/portal/login/", "/portal/password/reset/", "/portal/password/reset/sent/",
             "/portal/password/reset/MQ/not-a-token/", "/portal/password/reset/done/"]  # fmt: skip
SIGNED_IN = ["/portal/", "/portal/rewards/", "/portal/notifications/", "/portal/privacy/", "/portal/password/",
             "/portal/password/done/"]  # fmt: skip
NOT_FOUND = ["/portal/trips/999999/", "/portal/no-such-page/"]
SHOT_DIR = SHOTS / "portal"


def _name(path: str) -> str:
    return path.strip("/").replace("/", "_") or "root"


def _sign_in(page, base):
    page.goto(f"{base}/portal/login/")
    page.fill("#id_username", "driver1")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/portal/")


def _check(page, base, path, width, problems, *, status=200):
    response = page.goto(base + path)
    page.wait_for_selector("body[data-ready='1']")
    if response.status != status:
        problems.append(f"{path}: status {response.status}, expected {status}")
    page.screenshot(path=str(SHOT_DIR / f"{_name(path)}-{width}.png"), full_page=True)
    problems += page_problems(page, path, width)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_portal_page_for_driver1_on_a_phone_and_a_laptop(live_server, chromium):
    from playwright.sync_api import expect

    build_portal_world()
    SHOT_DIR.mkdir(parents=True, exist_ok=True)
    base, problems, charts = live_server.url, [], {}
    browser = chromium.new_context()  # the session's one Chromium (tests/conftest.py)
    try:
        page = browser.new_page()
        errors, failed = page_watch(page, ignore="/portal/live/")  # the live stream is cut on leaving a page

        def flush(path, width, expected_failure=""):
            problems.extend(f"{path} ({width}): console {e}" for e in errors if not expected_failure)
            # an empty expected_failure is in every string: without the first test no failure counted
            unexpected = [f for f in failed if not expected_failure or expected_failure not in f]
            problems.extend(f"{path} ({width}): request {f}" for f in unexpected)
            errors.clear()
            failed.clear()

        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 860})
            page.context.clear_cookies()
            for path in ANONYMOUS:
                _check(page, base, path, width, problems)
                flush(path, width)
            _sign_in(page, base)
            for path in SIGNED_IN:
                _check(page, base, path, width, problems)
                if path == "/portal/":
                    charts[width] = page.evaluate(CHART_POINTS)
                flush(path, width)
            for path in NOT_FOUND:
                _check(page, base, path, width, problems, status=404)
                expect(page.locator("#error-page")).to_contain_text("not one of yours")
                flush(path, width, expected_failure=f"404 {base}{path}")
        # the phone menu: closed at first, then every page one tap away, and the driver named
        page.set_viewport_size({"width": 390, "height": 860})
        page.goto(f"{base}/portal/rewards/")
        expect(page.get_by_role("link", name="Privacy")).to_be_hidden()
        page.get_by_role("button", name="Menu").click()
        expect(page.get_by_role("link", name="Privacy")).to_be_visible()
        expect(page.locator("#signed-in-as")).to_have_text("Dana Driver")
        page.screenshot(path=str(SHOT_DIR / "menu-open-390.png"), full_page=True)
        page.get_by_role("link", name="Notifications").click()
        expect(page).to_have_url(f"{base}/portal/notifications/")
        flush("menu", 390)
    finally:
        browser.close()
    assert not problems, "\n".join(problems)
    # the score trend is a real chart at both widths: the seven weekly scores of the world
    for width in WIDTHS:
        assert dict(charts[width]).get("score-trend") == 7, charts[width]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_consent_withdrawn_in_the_portal_stops_uploads_until_given_again(live_server, chromium):
    from playwright.sync_api import expect

    world = build_portal_world()
    world["driver"].badges.all().delete()  # the world's badge was made by hand; earn one for real
    other = TripFactory(feature_status="done", score=60).driver  # another driver's trip, never exported
    base = live_server.url
    headers = {"Authorization": f"Device {world['device'].raw_token}", "Content-Type": "application/json"}

    def upload(page, external_id):
        body = orjson.dumps({"external_id": external_id, "samples": cruise(30)})
        response = page.request.post(f"{base}/api/v1/telematics/trips", data=body, headers=headers)
        return response.status, response.json()

    browser = chromium.new_context()  # the session's one Chromium (tests/conftest.py)
    try:
        page = browser.new_page()
        page.set_viewport_size({"width": 390, "height": 860})
        _sign_in(page, base)
        page.goto(f"{base}/portal/privacy/")
        page.get_by_role("button", name="Withdraw consent").click()
        expect(page.locator(".messages")).to_contain_text("consent withdrawn")
        expect(page.locator("#consent-state")).to_contain_text("Not given")
        page.screenshot(path=str(SHOT_DIR / "privacy-withdrawn-390.png"), full_page=True)
        refused = upload(page, "after-withdrawal")
        page.get_by_role("button", name="Give consent").click()
        expect(page.locator("#consent-state")).to_contain_text("In force since")
        page.goto(f"{base}/portal/rewards/")
        expect(page.locator("main")).to_contain_text("0 of 5 badges earned")
        accepted = upload(page, "after-grant")
        # The upload's features (run at once in tests) evaluate the badge rules: one appears.
        page.goto(f"{base}/portal/rewards/")
        expect(page.locator("main")).not_to_contain_text("0 of 5 badges earned")
        expect(page.locator(".card.earned").first).to_contain_text("Earned")
        # Take the data: the zip downloaded in the browser holds this driver's trips, no other's.
        page.goto(f"{base}/portal/privacy/")
        with page.expect_download() as download:
            page.get_by_role("button", name="Download my data").click()
        archive = zipfile.ZipFile(download.value.path())
        exported = {line.split(",")[0] for line in archive.read("trips.csv").decode().splitlines()[1:]}
    finally:
        browser.close()
    assert refused[0] == 403 and refused[1]["reason"] == "consent_withdrawn"
    assert accepted[0] == 201, accepted
    assert world["driver"].trips.filter(external_id="after-grant").exists()
    assert not world["driver"].trips.filter(external_id="after-withdrawal").exists()
    assert world["driver"].badges.exists()
    assert exported == {str(pk) for pk in world["driver"].trips.values_list("pk", flat=True)}
    assert not exported & {str(pk) for pk in other.trips.values_list("pk", flat=True)}
