import json

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.audit.models import AuditEntry
from apps.common.exceptions import ApplicationError
from apps.customers.models import Customer
from apps.risk.features import FEATURE_NAMES, PROTECTED_NAMES, feature_names_check
from apps.risk.modeling import SEARCH_GRID
from apps.risk.models import Claim, RiskModel
from apps.risk.scoring import artifact_file
from apps.risk.services import risk_model_activate, risk_model_train
from tests.risk.factories import RiskModelFactory
from tests.risk.simulation import AS_OF, TODAY, seed_drivers


def test_training_stores_an_inactive_model_with_its_card(simulated, artifact_root):
    model = risk_model_train(as_of=AS_OF, today=TODAY)

    assert not model.is_active
    assert model.feature_names == list(FEATURE_NAMES)
    assert model.as_of == AS_OF
    path = artifact_file(model)
    assert path.parent == artifact_root / "risk" and path.suffix == ".json"
    saved = json.loads(path.read_text())
    # the simulated risk is log-linear: the GLM is deployed, its artifact plain JSON (never pickle)
    assert model.model_card["family"] == "glm" and model.algorithm == "glm-spline-poisson"
    assert saved["family"] == "glm-spline-poisson"
    assert saved["training_data_hash"] == model.training_data_hash
    assert saved["features"] == list(FEATURE_NAMES) == [t["feature"] for t in saved["terms"]]
    for name in ("xgboost", "glm"):
        metrics = model.metrics[name]
        assert {"mean_poisson_deviance", "d2", "gini", "normalised_gini", "total_predicted", "total_observed"} <= set(
            metrics
        )
        assert len(metrics["calibration"]) == 10
        assert metrics["total_observed"] == sum(r["observed_claims"] for r in metrics["calibration"])
    split = model.metrics["split"]
    assert sum(part["groups"] for part in split.values()) == 600
    card = model.model_card
    assert card["data"]["drivers"] == 600
    assert card["data"]["claims"] == Claim.objects.count()
    assert len(card["size_tradeoff"]) == len(SEARCH_GRID)
    assert [r["model"] for r in card["size_tradeoff"]].count("chosen") == 1
    chosen = next(r for r in card["size_tradeoff"] if r["model"] == "chosen")
    assert chosen["validation_mean_poisson_deviance"] == min(
        r["validation_mean_poisson_deviance"] for r in card["size_tradeoff"]
    )
    assert (card["params"]["max_depth"], card["params"]["trees"]) == (chosen["max_depth"], chosen["trees"])
    assert not card["params"]["cap_reached"] and card["params"]["trees"] < card["params"]["max_trees"]
    assert {r["feature"] for r in card["shap_summary_test"]} == set(FEATURE_NAMES)
    assert {r["feature"] for r in card["feature_importances"]} == set(FEATURE_NAMES)
    # the portfolio mean is the observed one: claims over exposure of the drivers trained on
    exposure_years = 600 * 365 / 365.25  # each driver followed 365 days
    assert card["portfolio_mean_frequency"] == pytest.approx(Claim.objects.count() / exposure_years)
    assert set(card["gate"]["comparisons"]) == {"constant"}  # the GLM's gate; XGBoost's had the GLM too
    assert set(card["family_choice"]["gates"]["xgboost"]) == {"constant", "glm"}
    assert card["family_choice"]["xgboost_vs_glm"]["ci95"][1] >= 0
    assert {"xgboost", "glm", "glm_linear", "constant"} <= set(model.metrics)
    assert set(card["feature_quantiles"]) == set(FEATURE_NAMES)
    # the latent effect drives harsh braking: its SHAP values rise with the value
    harsh = next(r for r in card["shap_summary_test"] if r["feature"] == "harsh_brake_per_100km")
    assert harsh["value_shap_correlation"] > 0
    assert AuditEntry.objects.filter(action="risk.model_trained", entity_id=str(model.pk)).count() == 1


def test_training_the_same_data_again_returns_the_stored_model(simulated, artifact_root):
    first = risk_model_train(as_of=AS_OF, today=TODAY)
    again = risk_model_train(as_of=AS_OF, today=TODAY)
    assert again.pk == first.pk
    assert RiskModel.objects.count() == 1
    other_seed = risk_model_train(as_of=AS_OF, today=TODAY, seed=1)
    assert other_seed.pk != first.pk


def test_training_picks_the_latest_feature_day_with_a_following_period(simulated, artifact_root):
    model = risk_model_train(today=TODAY)
    assert model.as_of == AS_OF


@pytest.mark.parametrize(
    ("setup", "kwargs", "message"),
    [
        ("none", {"as_of": AS_OF, "today": TODAY}, "at least 30 are needed"),
        ("few", {"as_of": AS_OF, "today": TODAY}, "at least 30 are needed"),
        ("no_claims", {"as_of": AS_OF, "today": TODAY}, "no claims"),
        ("few", {"as_of": TODAY, "today": TODAY}, "less than 30 days of following period"),
        ("none", {"today": TODAY}, "no 90-day driver features"),
    ],
)
def test_training_refuses_unusable_data_and_stores_nothing(db, artifact_root, setup, kwargs, message):
    if setup == "few":
        seed_drivers(20, seed=3)
    elif setup == "no_claims":
        seed_drivers(100, seed=4, effect=0.0)
        Claim.objects.all().delete()
    with pytest.raises(ApplicationError, match=message):
        risk_model_train(**kwargs)
    assert RiskModel.objects.count() == 0
    assert not (artifact_root / "risk").exists()


# --- protected attributes ------------------------------------------------------------------------


def test_no_protected_or_customer_attribute_is_a_feature():
    customer_fields = {f.name for f in Customer._meta.get_fields()} | {
        f.attname for f in Customer._meta.concrete_fields
    }
    assert not set(FEATURE_NAMES) & customer_fields
    assert not {n.lower() for n in FEATURE_NAMES} & PROTECTED_NAMES
    feature_names_check(FEATURE_NAMES)


@pytest.mark.parametrize(
    "name",
    ["gender", "birth_year", "age", "age_band", "Gender", "credit_score", "yearly_income", "postal_area", "city",
     "licence_since", "email", "home_store_id", "first_name"],
)  # fmt: skip
def test_protected_attribute_guard_refuses_a_feature_list(db, name):
    with pytest.raises(ApplicationError) as raised:
        feature_names_check(["harsh_brake_per_100km", name])
    assert raised.value.code == "protected_feature"
    assert name in raised.value.message


def test_a_model_with_a_protected_feature_cannot_be_activated(db, artifact_root):
    model = RiskModelFactory(feature_names=["harsh_brake_per_100km", "gender"])
    with pytest.raises(ApplicationError, match="gender"):
        risk_model_activate(model=model)
    assert not RiskModel.objects.filter(is_active=True).exists()


def test_every_trained_model_passes_the_guard(simulated, artifact_root):
    risk_model_train(as_of=AS_OF, today=TODAY)
    for names in RiskModel.objects.values_list("feature_names", flat=True):
        feature_names_check(names)


# --- activation ----------------------------------------------------------------------------------


def test_activation_keeps_exactly_one_model_active(gate_world):
    first, second = gate_world
    call_command("activate_risk_model", second.version)
    assert list(RiskModel.objects.filter(is_active=True).values_list("pk", flat=True)) == [second.pk]
    first.refresh_from_db()
    assert not first.is_active
    entry = AuditEntry.objects.filter(action="risk.model_activated").order_by("-id").first()
    assert entry.data == {"version": second.version, "previous": [first.version], "gate": "activated"}


def test_activation_refuses_a_missing_artifact(simulated, artifact_root):
    model = risk_model_train(as_of=AS_OF, today=TODAY)
    artifact_file(model).unlink()
    with pytest.raises(ApplicationError, match="does not load"):
        risk_model_activate(model=model)
    assert not RiskModel.objects.filter(is_active=True).exists()


def test_activate_command_refuses_an_unknown_version(db):
    with pytest.raises(CommandError, match="no risk model 'nope'"):
        call_command("activate_risk_model", "nope")


def test_the_trained_model_ranks_drivers_by_their_latent_aggressiveness(active_model, simulated):
    from apps.risk.models import RiskScore
    from apps.risk.services import drivers_score

    ids, latent = simulated
    drivers_score()
    expected = dict(RiskScore.objects.values_list("driver_id", "expected_claims_per_year"))
    predicted = np.array([expected[int(i)] for i in ids])
    assert np.corrcoef(latent, np.log(predicted))[0, 1] > 0.5
    top, bottom = latent > np.quantile(latent, 0.8), latent < np.quantile(latent, 0.2)
    assert predicted[top].mean() > 1.8 * predicted[bottom].mean()
