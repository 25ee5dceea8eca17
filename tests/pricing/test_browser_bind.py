"""The back office binds a policy in real Chromium: the driver is found with the admin's
autocomplete (JavaScript), which the client-side tests cannot exercise."""

import pytest

from tests.customers.factories import CustomerFactory
from tests.fleet.factories import VehicleCategoryFactory
from tests.regions.factories import RegionFactory


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_back_office_finds_a_driver_and_binds_a_policy(live_server, role_user, plan, chromium):
    from playwright.sync_api import expect

    from apps.pricing.models import Policy
    from tests.partners.factories import PartnerFactory

    role_user("back_office", username="bo-bind")
    driver = CustomerFactory(first_name="Greta", last_name="Quellmalz")
    CustomerFactory.create_batch(3)
    partner = PartnerFactory(name="Aurora Test AG")
    VehicleCategoryFactory(code="SUV")
    RegionFactory(code="BY")

    browser = chromium.new_context()
    try:
        page = browser.new_page()
        page.goto(f"{live_server.url}/admin/login/?next=/admin/pricing/policy/")
        page.fill("#id_username", "bo-bind")
        page.fill("#id_password", "pass-for-tests-1")
        page.click("input[type=submit]")
        page.get_by_role("link", name="Quote and bind a policy").click()

        page.locator(".select2-selection").first.click()  # the driver's autocomplete box
        page.locator(".select2-search__field").fill("Quellm")
        page.locator(".select2-results__option", has_text="Quellmalz").click()
        page.select_option("#id_partner", label=str(partner))
        page.select_option("#id_kind", "traditional")
        page.select_option("#id_vehicle_category", index=1)
        page.select_option("#id_region", index=1)
        page.click("input[type=submit]")

        expect(page.locator(".messagelist")).to_contain_text("bound")
        landed = page.url
    finally:
        browser.close()
    # The ORM once the browser's context is closed: a query while the page still talked to the
    # live server once opened a connection of its own that outlived the test (asgiref's
    # context-local connections).
    policy = Policy.objects.get(driver=driver, partner=partner)
    assert landed.endswith(f"/admin/pricing/policy/{policy.pk}/change/")
    assert (policy.kind, policy.status) == ("traditional", "active")
