"""The ops pages in real Chromium: every page for an analyst at 1366 and 390 px (screenshot under
var/screenshots/, no console error, no failed request, charts with data points, no horizontal
scroll on a laptop, no serious axe-core violation), and for ops the alert action, a job start and
the live feed showing an alert created after the page opened."""

import os
import re

import pytest

from tests.common.browser import SHOTS, browser_launch, page_problems, page_watch
from tests.common.test_browser import CHROMIUM
from tests.ops.world import build_world

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


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_every_page_in_chromium_for_an_analyst(live_server, role_user, tmp_path, monkeypatch):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/ensure_chromium.sh)")
    monkeypatch.setitem(os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    world = build_world(payments=True)
    role_user("analyst", username="analyst-browser")
    pages = [*PAGES, f"/ops/fleet/{world['vehicles'][0].pk}/", f"/ops/alerts/{world['alerts'][0].pk}/"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    with sync_playwright() as playwright:
        browser = browser_launch(playwright, tmp_path)
        try:
            page = browser.new_page()
            errors, failed = page_watch(page, ignore="/ops/live/")
            _sign_in(page, live_server.url, "analyst-browser")
            errors.clear()  # the admin's login page has no favicon
            failed.clear()
            for width in (1366, 390):
                page.set_viewport_size({"width": width, "height": 900})
                for path in pages:
                    page.goto(live_server.url + path)
                    page.wait_for_selector("body[data-ready='1']")
                    name = path.strip("/").replace("/", "_").replace("?", "_").replace("=", "") or "ops"
                    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
                    if width == 1366:
                        problems += page_problems(page, path, width)
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
            browser.close()
    assert "Odd rentals" in shown and "Service overdue B-OP 1" not in shown
    assert not problems, "\n".join(problems)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ops_acknowledges_starts_a_job_and_sees_a_new_alert_live(live_server, role_user, tmp_path, monkeypatch):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (scripts/ensure_chromium.sh)")
    monkeypatch.setitem(os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    from apps.alerts.services import event_raise

    build_world()
    role_user("ops", username="ops-browser")
    with sync_playwright() as playwright:
        browser = browser_launch(playwright, tmp_path)
        try:
            page = browser.new_page()
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
            browser.close()
