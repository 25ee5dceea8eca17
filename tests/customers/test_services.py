import pytest

from apps.audit.models import AuditEntry
from apps.common.exceptions import ApplicationError
from apps.customers.models import ErasureRequest, TelematicsConsent
from apps.customers.services import (
    consent_grant,
    consent_withdraw,
    customer_preferences_update,
    erasure_request_close,
    erasure_request_create,
)
from tests.accounts.factories import UserFactory
from tests.customers.factories import CustomerFactory


@pytest.mark.django_db
def test_consent_withdraw_and_grant_again_keep_history_and_are_audited():
    driver = CustomerFactory()
    first = consent_grant(customer=driver)
    assert consent_grant(customer=driver) == first  # already in force: unchanged
    withdrawn = consent_withdraw(customer=driver)
    assert withdrawn.pk == first.pk and withdrawn.withdrawn_at is not None
    assert consent_withdraw(customer=driver) is None
    second = consent_grant(customer=driver)
    assert second.pk != first.pk
    assert TelematicsConsent.objects.filter(customer=driver).count() == 2
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["customers.consent_granted", "customers.consent_withdrawn", "customers.consent_granted"]


@pytest.mark.django_db
def test_preferences_change_only_what_changed():
    driver = CustomerFactory()
    customer_preferences_update(customer=driver, leaderboard_opt_in=True, notify_by_email=False)
    driver.refresh_from_db()
    assert driver.leaderboard_opt_in and not driver.notify_by_email
    customer_preferences_update(customer=driver, leaderboard_opt_in=True, notify_by_email=False)
    assert AuditEntry.objects.filter(action="customers.preferences_changed").count() == 1


@pytest.mark.django_db
def test_one_erasure_request_waits_at_a_time_and_refusal_needs_a_note():
    driver = CustomerFactory()
    staff = UserFactory(is_staff=True)
    request = erasure_request_create(customer=driver, reason="moving abroad")
    with pytest.raises(ApplicationError, match="already waiting"):
        erasure_request_create(customer=driver)
    assert ErasureRequest.objects.filter(customer=driver).count() == 1
    with pytest.raises(ApplicationError, match="note"):
        erasure_request_close(request=request, status="refused", actor=staff, note=" ")
    request.refresh_from_db()
    assert request.status == "pending"
    erasure_request_close(request=request, status="done", actor=staff, note="erased")
    with pytest.raises(ApplicationError, match="already been handled"):
        erasure_request_close(request=request, status="done", actor=staff)
    erasure_request_create(customer=driver)  # a new one may be made after the first is closed
