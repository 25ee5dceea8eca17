"""The portal's 403, 404 and 500 are pages in the portal's layout with a way back; elsewhere the
site's own error pages stay as they are."""

import re

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from apps.common import views as common_views
from tests.customers.factories import CustomerFactory
from tests.telematics.factories import TripFactory


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.mark.django_db
def test_a_foreign_trip_is_the_friendly_404_in_the_portal_layout(driver_client):
    other = TripFactory(driver=CustomerFactory())
    for path in (f"/portal/trips/{other.pk}/", "/portal/trips/999999999/", "/portal/no-such-page/"):
        response = driver_client.get(path)
        assert response.status_code == 404
        text = _text(response)
        assert "We could not find that" in text and "not one of yours" in text
        assert "Back to my score" in text and 'href="/portal/"' in response.content.decode()
        assert "Sign out" in text  # the portal's own top bar, not a bare "Not Found"
    # the foreign trip's page knows the signed-in driver: the full menu
    assert "Privacy" in _text(driver_client.get(f"/portal/trips/{other.pk}/"))


@pytest.mark.django_db
def test_outside_the_portal_the_sites_404_stays(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and "Nothing here" in _text(response)


def test_a_portal_403_is_in_the_portal_layout_with_a_way_back(rf: RequestFactory):
    request = rf.get("/portal/privacy/")
    request.user = type("Anonymous", (), {"is_authenticated": False})()
    response = common_views.permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    text = _text(response)
    assert "You cannot open this" in text and "Sign in" in text


@pytest.mark.django_db
def test_a_portal_500_is_in_the_portal_layout_and_needs_no_database(rf: RequestFactory, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = common_views.server_error(rf.get("/portal/"))
    assert response.status_code == 500
    text = _text(response)
    assert "Something went wrong on our side" in text and "Back to my score" in text
    assert "FleetOps driver" in text
