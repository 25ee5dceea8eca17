"""The ops pages in real Chromium (the session's one browser, tests/conftest.py) for every staff
role: every page at 1366 and 390 px (a screenshot under var/screenshots/<role>/, no console error,
no failed request, no horizontal scroll, charts with data points; at 1366 no serious axe-core
violation for analyst and ops), the actions shown only to the roles that may take them, a filter
changing the list; and for ops the alert action, a job start and the live feed showing an alert
created after the page opened."""

import re

import pytest
from django.utils import timezone

from apps.jobs.models import JobRun
from tests.common.browser import SHOTS, page_problems, page_watch
from tests.ops.world import build_world

ROLES = ["admin", "back_office", "analyst", "ops"]
# axe-core runs for these two: their pages carry every variant of the role-bound controls (with
# and without the alert and job actions); admin's and back office's markup repeats one of them.
AXE_ROLES = {"analyst", "ops"}
# What each role may do on the pages: work alerts (alerts.change_operationalevent), start and
# cancel jobs (ops and admin only; see apps.accounts.roles).
WORKS_ALERTS = {"admin", "back_office", "ops"}
OPERATES_JOBS = {"admin", "ops"}
PAGES = [
    "/ops/", "/ops/?days=365", "/ops/alerts/", "/ops/jobs/", "/ops/fraud/payments/", "/ops/fraud/payments/list/",
    "/ops/fraud/rentals/", "/ops/fleet/", "/ops/risk/", "/ops/forecast/", "/ops/maintenance/", "/ops/revenue/",
]  # fmt: skip


def _sign_in(page, base, username):
    page.goto(f"{base}/admin/login/?next=/ops/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pass-for-tests-1")
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/ops/")


def _shot_name(path: str) -> str:
    name = path.strip("/").replace("/", "_").replace("?", "_").replace("=", "") or "ops"
    return re.sub(r"_\d+$", "_detail", name)  # one name per detail page, whichever row it shows


def _actions_shown(page, path: str) -> dict[str, bool]:
    """Which role-bound controls the page shows (only those that page can have)."""
    if path == "/ops/alerts/":
        return {"acknowledge": page.get_by_role("button", name="Acknowledge").count() > 0}
    if path.startswith("/ops/alerts/"):
        return {"act on the alert": page.locator("#act form").count() > 0}
    if path == "/ops/jobs/":
        return {"start a job": page.get_by_text("Start…").count() > 0}
    if path.startswith("/ops/jobs/"):
        return {"cancel the run": page.get_by_role("button", name="Cancel").count() > 0}
    return {}


@pytest.mark.browser
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_page_in_chromium_for_every_role(live_server, role_user, chromium, role):
    world = build_world(payments=True)
    running = JobRun.objects.create(
        kind="intelligence.kpis", parameters_hash="browser", status="running", started_at=timezone.now()
    )
    role_user(role, username=f"{role}-browser")
    pages = [
        *PAGES,
        f"/ops/fleet/{world['vehicles'][0].pk}/",
        f"/ops/alerts/{world['alerts'][0].pk}/",
        f"/ops/jobs/{running.pk}/",
    ]
    allowed = {
        "acknowledge": role in WORKS_ALERTS,
        "act on the alert": role in WORKS_ALERTS,
        "start a job": role in OPERATES_JOBS,
        "cancel the run": role in OPERATES_JOBS,
    }
    shots = SHOTS / role
    shots.mkdir(parents=True, exist_ok=True)
    problems = []
    context = chromium.new_context()
    try:
        page = context.new_page()
        errors, failed = page_watch(page, ignore="/ops/live/")
        _sign_in(page, live_server.url, f"{role}-browser")
        errors.clear()  # the admin's login page has no favicon
        failed.clear()
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900})
            for path in pages:
                page.goto(live_server.url + path)
                page.wait_for_selector("body[data-ready='1']")
                page.screenshot(path=str(shots / f"{_shot_name(path)}-{width}.png"), full_page=True)
                problems += page_problems(page, path, width, axe=width == 1366 and role in AXE_ROLES)
                for action, shown in _actions_shown(page, path).items():
                    if shown is not allowed[action]:
                        problems.append(f"{path} ({width}): '{action}' {'shown' if shown else 'missing'} for {role}")
                problems += [f"{path} ({width}): console {e}" for e in errors]
                problems += [f"{path} ({width}): request {f}" for f in failed]
                errors.clear()
                failed.clear()
        # a filter changes what the page shows
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto(f"{live_server.url}/ops/alerts/")
        page.select_option("#id_severity", "high")
        page.click("form.filters button[type=submit]")
        page.wait_for_selector("body[data-ready='1']")
        shown = page.inner_text("#alert-table")
    finally:
        context.close()
    assert "Odd rentals" in shown and "Service overdue B-OP 1" not in shown
    assert not problems, "\n".join(problems)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ops_acknowledges_starts_a_job_and_sees_a_new_alert_live(live_server, role_user, chromium):
    from playwright.sync_api import expect

    from apps.alerts.services import event_raise

    build_world()
    role_user("ops", username="ops-browser")
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_viewport_size({"width": 1366, "height": 900})
        _sign_in(page, live_server.url, "ops-browser")
        page.goto(f"{live_server.url}/ops/alerts/")
        page.locator("tr", has_text="Service overdue B-OP 1").get_by_role("button", name="Acknowledge").click()
        expect(page.locator(".messages")).to_contain_text("acknowledged")
        expect(page.locator("tr", has_text="Service overdue B-OP 1")).to_contain_text("ops-browser")

        page.goto(f"{live_server.url}/ops/")
        page.wait_for_selector("[data-live-status].on")
        event_raise(
            event_type="safety", severity="critical", entity_type="fleet.vehicle", entity_id="1",
            title="Harsh braking spree B-OP 2",
        )  # fmt: skip
        expect(page.locator("#alert-feed")).to_contain_text("Harsh braking spree B-OP 2", timeout=10_000)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "ops-live-feed-1366.png"), full_page=True)

        page.goto(f"{live_server.url}/ops/jobs/")
        row = page.locator("tr", has_text="intelligence.kpis")
        row.get_by_role("button", name="Start…").click()
        row.get_by_label("Days").fill("3")
        row.get_by_role("button", name="Start intelligence.kpis").click()
        expect(page.locator(".messages")).to_contain_text("queued as run")
        # tests run Celery eagerly: the run is done by the time its page shows
        expect(page.locator("#run-state")).to_contain_text(re.compile("succeeded|queued|running"))
        expect(page.locator("#run-state")).to_contain_text("days=3")
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_maps_draw_without_their_background_when_no_tile_loads(live_server, role_user, chromium, settings):
    """The tile server is a setting (default: the public OpenStreetMap tiles); when none of its
    tiles load the map drops the background and the stores are still drawn."""
    from playwright.sync_api import expect

    unreachable = "http://127.0.0.1:9/{z}/{x}/{y}.png"  # a port Chromium refuses to fetch from
    settings.MAP_TILES_URL = unreachable
    build_world()
    role_user("analyst", username="tiles-browser")
    context = chromium.new_context()
    errors = []
    try:
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.set_viewport_size({"width": 1366, "height": 900})
        _sign_in(page, live_server.url, "tiles-browser")
        errors.clear()
        page.goto(f"{live_server.url}/ops/fleet/")
        assert page.locator("body").get_attribute("data-tiles") == unreachable
        expect(page.locator(".map[data-tiles='unreachable']")).to_have_count(1, timeout=10_000)
        expect(page.locator(".map .leaflet-overlay-pane path")).not_to_have_count(0)
        assert page.locator(".map .leaflet-tile-pane img").count() == 0
        page.screenshot(path=str(SHOTS / "fleet-map-without-tiles-1366.png"), full_page=True)
    finally:
        context.close()
    # the failed tiles are logged by Chromium itself; nothing else may fail
    assert not [e for e in errors if not e.startswith("Failed to load resource: net::")], errors
