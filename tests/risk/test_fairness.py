"""The fairness policy: one list read by training, activation, the benchmark and pricing, and the
model card's fairness report (monitoring only)."""

import pytest

from apps.common.exceptions import ApplicationError
from apps.customers.models import Customer
from apps.pricing.services.quotes import RATING_ATTRIBUTES
from apps.risk import fairness
from apps.risk.features import FEATURE_NAMES, feature_names_check
from apps.risk.services import risk_model_train
from tests.risk.simulation import AS_OF, TODAY


def test_every_model_feature_and_rating_attribute_is_allowed_by_the_policy():
    assert set(FEATURE_NAMES) <= set(fairness.model_attributes())
    fairness.price_inputs_check(RATING_ATTRIBUTES)
    assert "licence_since" in RATING_ATTRIBUTES
    assert fairness.ALLOWED_BY_NAME["licence_since"].price and not fairness.ALLOWED_BY_NAME["licence_since"].model


@pytest.mark.parametrize("name", ["gender", "birth_year", "DrivAge", "driver-age", "Postcode", "nationality"])
def test_forbidden_attributes_are_refused_in_a_price_and_in_a_model(db, name):
    assert fairness.forbidden_among(["km", name]) == [name]
    with pytest.raises(ApplicationError, match=name):
        fairness.price_inputs_check([*RATING_ATTRIBUTES, name])
    with pytest.raises(ApplicationError, match=name) as raised:
        feature_names_check(["km", name])
    assert raised.value.code == "protected_feature"


def test_driving_experience_prices_but_never_scores(db):
    fairness.price_inputs_check(["licence_since"])
    with pytest.raises(ApplicationError, match="licence_since"):
        feature_names_check(["km", "licence_since"])


def test_the_model_card_reports_score_by_gender_and_age_band_for_monitoring(simulated, artifact_root):
    ids, _ = simulated
    Customer.objects.filter(pk__in=ids[:300]).update(gender="female", birth_year=2003)
    Customer.objects.filter(pk__in=ids[300:]).update(gender="male", birth_year=1970)
    model = risk_model_train(as_of=AS_OF, today=TODAY)
    assert "gender" not in model.feature_names and "birth_year" not in model.feature_names
    report = model.model_card["fairness"]
    assert report["drivers"] == 600 and "monitoring only" in report["use"]
    by_gender = {r["group"]: r for r in report["groups"]["gender"]}
    assert set(by_gender) == {"female", "male"} and by_gender["female"]["drivers"] == 300
    by_age = {r["group"]: r for r in report["groups"]["age_band"]}
    assert set(by_age) == {"under 25", "50-64"}  # born 2003 and 1970, as of 2025
    weighted = sum(r["ratio_score"] * r["drivers"] for r in by_gender.values()) / 600
    assert weighted == pytest.approx(1.0, abs=1e-3)
    assert by_gender["female"]["mean_premium"] is None  # no quotes yet
