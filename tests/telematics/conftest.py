import pytest
from django.test import Client

from tests.telematics.lean import LeanClient


def pytest_generate_tests(metafunc):
    """A module with THROUGH_LEAN_PATH = True runs each test that uses `client` twice: through
    Django's stack alone, and through fleetops.wsgi's lean routes in front of it."""
    if "client" in metafunc.fixturenames and getattr(metafunc.module, "THROUGH_LEAN_PATH", False):
        metafunc.parametrize("client", ["django", "lean"], indirect=True)


@pytest.fixture
def client(request):
    return LeanClient() if getattr(request, "param", "django") == "lean" else Client()
