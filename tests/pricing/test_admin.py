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
