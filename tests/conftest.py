import pytest
from django.contrib.auth.models import Group

from tests.accounts.factories import UserFactory

# A `serialized_rollback` test ends with a flush that skips post_migrate (Django restores the
# serialized rows only when the next such test starts). Any other test that follows would find
# no content types, permissions, role groups or default schedules, so restore them first.
_restore_pending = False


def _is_serialized(item) -> bool:
    marker = item.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("serialized_rollback"))


def pytest_runtest_setup(item):
    global _restore_pending
    if _restore_pending and not _is_serialized(item):
        from django.contrib.contenttypes.models import ContentType
        from django.db import connection
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            contents = getattr(connection, "_test_serialized_contents", None)
            if contents:
                connection.creation.deserialize_db_from_string(contents)
            ContentType.objects.clear_cache()
        _restore_pending = False


def pytest_runtest_teardown(item, nextitem):
    global _restore_pending
    if _is_serialized(item):
        _restore_pending = True


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


def pytest_collection_modifyitems(items):
    """Every transactional test (transaction=True, live_server, transactional_db) runs with
    serialized rollback: it restores the migrated baseline (content types, permissions, role groups,
    default schedules) from the copy taken when the test database was set up, and its flush does
    not re-run post_migrate. Mixing the two kinds breaks whichever runs next: after a serialized
    test the tables are empty (no role groups), after a plain one the restore hits duplicates."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        fixtures = getattr(item, "fixturenames", ())
        transactional = "live_server" in fixtures or "transactional_db" in fixtures
        transactional = transactional or bool(marker and marker.kwargs.get("transaction"))
        if transactional and not (marker and marker.kwargs.get("serialized_rollback")) and not (marker and marker.args):
            kwargs = {**(marker.kwargs if marker else {}), "transaction": True, "serialized_rollback": True}
            item.add_marker(pytest.mark.django_db(**kwargs), append=False)
