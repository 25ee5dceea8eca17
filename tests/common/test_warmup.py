from django.conf import settings
from django.template import engines
from django.urls import clear_url_caches, get_resolver

from apps.common.warmup import warm_up


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
