"""Every job kind is named after the app that registers it, and the registry finds them all in the
apps' own `jobs.py` (no special module for a package inside another app)."""

from django.apps import apps

from apps.jobs import registry

INTELLIGENCE_KINDS = {
    "intelligence.kpis",
    "intelligence.customer_segments",
    "intelligence.rental_fraud",
    "intelligence.payment_fraud",
    "intelligence.revenue",
    "intelligence.maintenance",
    "intelligence.demand_forecast",
}


def test_every_kind_is_prefixed_with_the_label_of_its_app():
    wrong = {}
    for name, kind in registry.all_kinds().items():
        if kind.func.__module__.startswith("tests."):
            continue  # the tests' own kinds (tests.jobs.kinds)
        app = apps.get_containing_app_config(kind.func.__module__)
        if app is None or name.split(".", 1)[0] != app.label or kind.func.__module__ != f"{app.name}.jobs":
            wrong[name] = kind.func.__module__
    assert wrong == {}


def test_the_intelligence_kinds_are_registered_by_the_intelligence_app():
    kinds = registry.all_kinds()
    assert {name for name in kinds if name.startswith("intelligence.")} == INTELLIGENCE_KINDS
    assert {kinds[name].func.__module__ for name in INTELLIGENCE_KINDS} == {"apps.intelligence.jobs"}


def test_the_payments_kinds_carry_the_transactions_label():
    kinds = registry.all_kinds()
    assert {name for name in kinds if name.startswith("transactions.")} == {"transactions.ingest"}
    assert not [name for name in kinds if name.startswith("payments.")]
