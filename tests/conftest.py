import pytest
from django.contrib.auth.models import Group

from tests.accounts.factories import UserFactory


@pytest.fixture
def role_user(db):
    """Makes a staff user in a role group: role_user("analyst")."""

    def make(role: str, **kwargs):
        user = UserFactory(is_staff=True, **kwargs)
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def back_office_client(client, role_user):
    client.force_login(role_user("back_office"))
    return client


@pytest.fixture
def analyst_client(client, role_user):
    client.force_login(role_user("analyst"))
    return client
