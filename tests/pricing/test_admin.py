import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.pricing.models import RatePlan
from tests.pricing.factories import PolicyFactory, QuoteFactory, RatePlanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pass-for-tests-1")
    client.force_login(user)
    return client


def test_a_plan_in_force_is_read_only_and_new_version_copies_it(admin_client):
    plan = RatePlanFactory(name="standard", version=1, effective_from=timezone.localdate() - dt.timedelta(days=5))
    url = reverse("admin:pricing_rateplan_change", args=[plan.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # view-only
    refused = admin_client.post(url, {"name": "standard", "version": 1, "minimum_premium": "1.00"})
    assert refused.status_code == 403
    plan.refresh_from_db()
    assert plan.minimum_premium == Decimal("150.00")

    response = admin_client.post(
        reverse("admin:pricing_rateplan_changelist"), {"action": "new_version", "_selected_action": [plan.pk]}
    )
    assert response.status_code == 302
    new = RatePlan.objects.get(name="standard", version=2)
    assert new.effective_from == timezone.localdate() + dt.timedelta(days=1)
    assert new.base_premiums == plan.base_premiums
    # the scheduled version is editable
    page = admin_client.get(reverse("admin:pricing_rateplan_change", args=[new.pk]))
    assert b'name="_save"' in page.content


def test_quotes_are_read_only_in_the_admin(admin_client):
    quote = QuoteFactory()
    assert admin_client.get(reverse("admin:pricing_quote_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:pricing_quote_add")).status_code == 403
    page = admin_client.get(reverse("admin:pricing_quote_change", args=[quote.pk]))
    assert b'name="_save"' not in page.content
    assert admin_client.post(reverse("admin:pricing_quote_delete", args=[quote.pk]), {"post": "yes"}).status_code == 403


def test_policy_admin_lists_with_premium_history(admin_client):
    policy = PolicyFactory()
    assert admin_client.get(reverse("admin:pricing_policy_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:pricing_policy_change", args=[policy.pk])).status_code == 200


def test_the_requote_action_requotes_only_the_selected_policies(admin_client, monkeypatch):
    from apps.pricing import services

    chosen = PolicyFactory()
    PolicyFactory(driver=chosen.driver)  # the same driver with another partner
    asked = {}

    def requote(**kwargs):
        asked.update(kwargs)
        return {"policies": 1, "changed": 0}

    monkeypatch.setattr(services, "policies_requote", requote)
    response = admin_client.post(
        reverse("admin:pricing_policy_changelist"), {"action": "requote", "_selected_action": [chosen.pk]}, follow=True
    )
    assert response.status_code == 200
    assert asked == {"policy_ids": [chosen.pk]}


def _bind_form(world, partner, **overrides):
    return {
        "driver": world["driver"].pk,
        "partner": partner.pk,
        "kind": "phyd",
        "vehicle_category": world["category"].pk,
        "region": world["region"].pk,
        "vehicle_age_years": "",
        "starts_on": timezone.localdate().isoformat(),
        **overrides,
    }


def test_back_office_quotes_and_binds_a_driver_into_a_partners_book(admin_client, world):
    from apps.audit.models import AuditEntry
    from apps.partners.selectors import partner_driver_visible
    from apps.pricing.models import Policy, PremiumChange
    from tests.partners.factories import PartnerFactory

    partner = PartnerFactory()
    assert not partner_driver_visible(partner=partner, driver_id=world["driver"].pk)
    changelist = admin_client.get(reverse("admin:pricing_policy_changelist"))
    assert reverse("admin:pricing_policy_bind").encode() in changelist.content
    page = admin_client.get(reverse("admin:pricing_policy_bind"))
    assert page.status_code == 200 and b"autocomplete" in page.content  # drivers are searched, not listed

    response = admin_client.post(reverse("admin:pricing_policy_bind"), _bind_form(world, partner))
    policy = Policy.objects.get(driver=world["driver"], partner=partner)
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:pricing_policy_change", args=[policy.pk]
    )
    assert (policy.status, policy.kind, policy.quote.risk_score_id) == ("active", "phyd", world["score"].pk)
    assert PremiumChange.objects.get(policy=policy).reason == "bound"
    assert AuditEntry.objects.filter(action="pricing.policy_bound", entity_id=str(policy.pk)).exists()
    assert partner_driver_visible(partner=partner, driver_id=world["driver"].pk)

    again = admin_client.post(reverse("admin:pricing_policy_bind"), _bind_form(world, partner))
    assert again.status_code == 200 and b"already has an active policy with this partner" in again.content
    assert Policy.objects.filter(driver=world["driver"], partner=partner).count() == 1


def test_a_refused_bind_stores_nothing_and_names_the_field(admin_client, world):
    from apps.pricing.models import Policy, Quote
    from tests.partners.factories import PartnerFactory

    partner = PartnerFactory()
    late = (timezone.localdate() + dt.timedelta(days=120)).isoformat()
    response = admin_client.post(reverse("admin:pricing_policy_bind"), _bind_form(world, partner, starts_on=late))
    assert response.status_code == 200
    assert "starts_on" in response.context["form"].errors
    assert not Policy.objects.filter(partner=partner).exists()
    assert not Quote.objects.filter(partner=partner).exists()  # the quote went with the refused bind


def test_binding_needs_the_add_permission(client, django_user_model, world):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pass-for-tests-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_policy"))
    client.force_login(user)
    assert client.get(reverse("admin:pricing_policy_bind")).status_code == 403
    assert (
        reverse("admin:pricing_policy_bind").encode()
        not in client.get(reverse("admin:pricing_policy_changelist")).content
    )
