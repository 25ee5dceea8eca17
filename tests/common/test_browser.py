import pytest

from tests.fleet.factories import VehicleFactory


# live_server needs a transactional database. serialized_rollback: the flush after this test then
# leaves the tables empty instead of re-running post_migrate (role groups, content types), which
# would collide with the next serialized-rollback test restoring the same rows.
@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_back_office_logs_into_the_admin_and_opens_the_vehicle_list(live_server, role_user, chromium):
    # Playwright's sync API runs an event loop in this thread; the ORM calls below are still plain
    # synchronous calls on the test's own connection.
    from playwright.sync_api import expect

    role_user("back_office", username="bo-browser")
    VehicleFactory(plate="B-FO 4711", make="Škoda", model="Octavia")

    browser = chromium.new_context()
    try:
        page = browser.new_page()
        page.goto(f"{live_server.url}/admin/")
        expect(page).to_have_url(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("#id_username", "bo-browser")
        page.fill("#id_password", "pass-for-tests-1")
        page.click("input[type=submit]")
        expect(page.locator("#site-name")).to_contain_text("FleetOps back office")

        page.get_by_role("link", name="Vehicles", exact=True).click()
        expect(page).to_have_url(f"{live_server.url}/admin/fleet/vehicle/")
        rows = page.locator("#result_list tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("B-FO 4711")
        expect(rows.first).to_contain_text("Octavia")
    finally:
        browser.close()
