"""risk 0004 turns each score's features snapshot (a JSON object) into an array in the order of
its model's feature names, and back."""

import datetime as dt

import pytest

from tests.migrations import migrate as _migrate

BEFORE = [("risk", "0003_riskscore_model_index_unused")]
AFTER = [("risk", "0004_riskscore_feature_values")]


@pytest.mark.django_db(transaction=True)
def test_snapshots_carried_over_in_model_order_and_back():
    apps = _migrate(BEFORE)
    try:
        Customer = apps.get_model("customers", "Customer")
        RiskModel = apps.get_model("risk", "RiskModel")
        RiskScore = apps.get_model("risk", "RiskScore")
        driver = Customer.objects.create(first_name="Ada", last_name="Old", email="old-snapshot@drivers.test")
        model = RiskModel.objects.create(
            version="old", artifact_path="x.json", training_data_hash="0" * 64, feature_names=["night_share", "km"]
        )
        common = {"driver": driver, "model": model, "expected_claims_per_year": 0.1, "relative_risk": 1.0}
        common["safety_score"] = 69
        full = RiskScore.objects.create(
            **common, as_of=dt.date(2026, 1, 1), band="mild", features={"km": 1234.5, "night_share": 0.25}
        )
        partial = RiskScore.objects.create(**common, as_of=dt.date(2026, 1, 2), band="mild", features={"km": 10.0})
        empty = RiskScore.objects.create(**common, as_of=dt.date(2026, 1, 3), band="mild", features={})

        apps = _migrate(AFTER)
        RiskScore = apps.get_model("risk", "RiskScore")
        values = dict(RiskScore.objects.values_list("pk", "feature_values"))
        assert values[full.pk] == [0.25, 1234.5]  # the model's order, not the object's
        assert values[partial.pk] == [None, 10.0]  # a missing name stays missing
        assert values[empty.pk] == []

        apps = _migrate(BEFORE)
        RiskScore = apps.get_model("risk", "RiskScore")
        assert RiskScore.objects.get(pk=full.pk).features == {"km": 1234.5, "night_share": 0.25}
        assert RiskScore.objects.get(pk=empty.pk).features == {}
    finally:
        _migrate(AFTER)
