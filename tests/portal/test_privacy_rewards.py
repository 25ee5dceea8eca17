import io
import json
import zipfile

import pytest
from django.urls import reverse

from apps.audit.models import AuditEntry
from apps.customers.models import ErasureRequest, TelematicsConsent
from apps.telematics.models import Badge
from tests.accounts.factories import UserFactory
from tests.customers.factories import CustomerFactory, TelematicsConsentFactory
from tests.telematics.factories import TripFactory


@pytest.mark.django_db
def test_privacy_page_withdraws_and_grants_consent_audited(driver_client, driver_user):
    driver = driver_user.customer
    TelematicsConsentFactory(customer=driver)
    page = driver_client.get(reverse("portal:privacy"))
    assert page.status_code == 200 and b"Withdraw consent" in page.content
    response = driver_client.post(reverse("portal:privacy"), {"action": "consent_withdraw"}, follow=True)
    assert b"Telematics consent withdrawn" in response.content and b"Give consent" in response.content
    assert not TelematicsConsent.objects.filter(customer=driver, withdrawn_at__isnull=True).exists()
    driver_client.post(reverse("portal:privacy"), {"action": "consent_grant"})
    assert TelematicsConsent.objects.filter(customer=driver, withdrawn_at__isnull=True).count() == 1
    assert AuditEntry.objects.filter(action__startswith="customers.consent_").count() == 2


@pytest.mark.django_db
def test_erasure_request_is_recorded_once(driver_client, driver_user):
    driver_client.post(reverse("portal:privacy"), {"action": "erasure", "reason": "x" * 5000})
    response = driver_client.post(reverse("portal:privacy"), {"action": "erasure"}, follow=True)
    assert b"already waiting" in response.content
    request = ErasureRequest.objects.get(customer=driver_user.customer)
    assert len(request.reason) == 2000


@pytest.mark.django_db
def test_export_holds_the_drivers_own_data_only(driver_client, driver_user):
    mine = TripFactory(driver=driver_user.customer, feature_status="done", score=77)
    theirs = TripFactory(driver=CustomerFactory(), feature_status="done", score=55)
    response = driver_client.get(reverse("portal:privacy-export"))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="fleetops-my-data-')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = set(archive.namelist())
    assert {"profile.json", "trips.csv", "samples.csv", "scores.csv", "policies.csv", "consents.csv"} <= names
    profile = json.loads(archive.read("profile.json"))
    assert profile["id"] == driver_user.customer.pk and "user_id" not in profile
    trip_ids = [line.split(",")[0] for line in archive.read("trips.csv").decode().splitlines()[1:]]
    assert trip_ids == [str(mine.pk)] and str(theirs.pk) not in trip_ids
    assert "number_hmac" not in archive.read("cards.csv").decode()


@pytest.mark.django_db
def test_rewards_page_shows_rules_and_earned_badges(driver_client, driver_user):
    trip = TripFactory(driver=driver_user.customer, feature_status="done", score=95)
    Badge.objects.create(driver=driver_user.customer, code="first_trip", earned_at=trip.ended_at, trip=trip)
    page = driver_client.get(reverse("portal:rewards"))
    assert page.status_code == 200
    assert b"1 of 5 badges earned" in page.content and b"Smooth week" in page.content


@pytest.mark.django_db
def test_pages_need_a_driver(client):
    for name in ("portal:privacy", "portal:rewards", "portal:notifications", "portal:privacy-export"):
        assert client.get(reverse(name)).status_code == 302
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse("portal:privacy-export")).status_code == 403
