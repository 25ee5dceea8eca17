import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.portal.conftest import PASSWORD


@pytest.mark.django_db
def test_password_reset_by_email_then_sign_in_with_the_new_one(client, driver_user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PORTAL_BASE_URL = "https://portal.example.com/"
    driver_user.email = "dana@example.com"
    driver_user.save()
    response = client.post(reverse("portal:password-reset"), {"email": "dana@example.com"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:password-reset-done")
    (message,) = mail.outbox
    link = re.search(r"https://portal\.example\.com(/portal/password/reset/\S+/)", message.body).group(1)
    form = client.get(link, follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "a-new-long-pass-42", "new_password2": "a-new-long-pass-42"}
    )
    assert done["Location"] == reverse("portal:password-reset-complete")
    assert client.login(username=driver_user.username, password="a-new-long-pass-42")
    assert not client.login(username=driver_user.username, password=PASSWORD)
    assert b"too old" in client.get(link, follow=True).content  # the link works once


@pytest.mark.django_db
def test_unknown_address_looks_the_same_and_sends_nothing(client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    response = client.post(reverse("portal:password-reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and mail.outbox == []


@pytest.mark.django_db
def test_password_change_needs_the_old_password(driver_client, driver_user):
    url = reverse("portal:password-change")
    bad = driver_client.post(
        url, {"old_password": "wrong", "new_password1": "x-new-pass-123", "new_password2": "x-new-pass-123"}
    )
    assert bad.status_code == 200 and b"incorrectly" in bad.content
    good = driver_client.post(
        url, {"old_password": PASSWORD, "new_password1": "x-new-pass-123", "new_password2": "x-new-pass-123"}
    )
    assert good["Location"] == reverse("portal:password-change-done")
