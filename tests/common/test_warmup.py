import gc

import pytest
from django.conf import settings
from django.template import engines
from django.urls import clear_url_caches, get_resolver

from apps.common.warmup import warm_up


@pytest.fixture(autouse=True)
def _unfreeze():
    """The warm-up freezes the heap it made (as a web worker's is for its lifetime); the test
    process gives it back to the collector."""
    yield
    gc.unfreeze()


def test_warm_up_imports_the_urls_and_compiles_every_project_template(monkeypatch):
    loaded = []
    engine = engines["django"]
    original = engine.get_template
    monkeypatch.setattr(engine, "get_template", lambda name: loaded.append(name) or original(name))
    timing = warm_up()
    on_disk = sorted(
        str(p.relative_to(settings.BASE_DIR / "templates")) for p in (settings.BASE_DIR / "templates").rglob("*.html")
    )
    assert sorted(loaded) == on_disk and timing["templates"] == len(on_disk) > 20
    assert "portal/dashboard.html" in loaded and "portal/base.html" in loaded
    assert timing["urls_ms"] >= 0


def test_the_web_process_warms_up_when_it_loads_the_application(monkeypatch):
    import importlib

    import apps.common.warmup
    import fleetops.wsgi

    calls = []
    monkeypatch.setattr(apps.common.warmup, "warm_up", lambda: calls.append("warmed"))
    importlib.reload(fleetops.wsgi)
    assert calls == ["warmed"] and fleetops.wsgi.application is not None


def test_warm_up_builds_every_namespaces_url_reversing_tables():
    clear_url_caches()
    resolver = get_resolver()
    assert not resolver._populated
    warm_up()
    assert resolver._populated
    assert all(namespaced._populated for _, namespaced in resolver.namespace_dict.values())


def test_after_the_warm_up_reversing_a_namespaced_name_builds_no_table(monkeypatch):
    """`reverse` resolves a namespaced name through a resolver of its own per namespace prefix,
    whose tables the warm-up builds too (the admin's cost an ops page's first request 40 ms)."""
    from django.urls import reverse
    from django.urls.resolvers import URLResolver

    clear_url_caches()
    warm_up()
    built = []
    original = URLResolver._populate
    monkeypatch.setattr(URLResolver, "_populate", lambda self: built.append(self) or original(self))
    for name in ("admin:index", "ops:command-center", "portal:dashboard"):
        reverse(name)
    assert built == []


def test_warm_up_makes_the_cache_client_and_starts_without_a_cache(monkeypatch):
    import apps.common.warmup

    class Cache:
        def __init__(self, error=None):
            self.asked, self.error = [], error

        def get(self, key):
            self.asked.append(key)
            if self.error:
                raise self.error

    up, down = Cache(), Cache(ConnectionError("redis is down"))
    monkeypatch.setattr(apps.common.warmup, "cache", up)
    warm_up()
    assert up.asked == ["warm-up"]
    monkeypatch.setattr(apps.common.warmup, "cache", down)
    assert warm_up()["templates"] > 20 and down.asked == ["warm-up"]


def test_warm_up_hands_what_it_made_to_no_later_collection():
    gc.unfreeze()
    warm_up()
    assert gc.get_freeze_count() > 10_000
