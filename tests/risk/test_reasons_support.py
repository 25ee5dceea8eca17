"""Reasons and advice name only features whose effect the data support (`apps.risk.reasons`):
in a simulated world where rush-hour and highway shares have no effect on claims (drawn apart
from the drivers' risk), no driver is ever told that they cost anything."""

import math

import numpy as np
import pytest

from apps.portal.selectors import score_advice
from apps.risk import scoring
from apps.risk.modeling.support import term_support
from apps.risk.models import RiskScore
from apps.risk.services import drivers_score, risk_model_activate, risk_model_train
from tests.risk.simulation import AS_OF, TODAY, seed_drivers

pytestmark = pytest.mark.django_db

NO_EFFECT = {"rush_hour_share", "highway_share"}  # tests.risk.simulation draws them apart from the risk


@pytest.mark.parametrize("seed", [1, 2])
def test_a_feature_without_effect_is_never_a_reason_nor_advice(settings, artifact_root, seed):
    settings.RISK_MIN_TRAINING_CLAIMS = 40
    seed_drivers(600, seed=seed)
    # forced: what is tested is what the scores say, not whether 600 drivers make a model worth the gate
    model = risk_model_activate(model=risk_model_train(as_of=AS_OF, today=TODAY), force_reason="test: reasons")
    drivers_score(model=model)

    support = model.model_card["reason_support"]
    assert not NO_EFFECT & set(model.model_card["reason_features"]), support
    # the latent risk shows in the harsh-event rates: some of them are supported and named
    assert {"harsh_brake_per_100km", "harsh_accel_per_100km", "phone_use_per_hour"} & set(
        model.model_card["reason_features"]
    ), support
    scores = list(RiskScore.objects.select_related("model").filter(model=model))
    assert len(scores) == 600
    named = {reason["feature"] for score in scores for reason in score.reasons}
    advised = {item["feature"] for score in scores for item in score_advice(score=score)}
    assert named and not named & NO_EFFECT
    assert advised and not advised & NO_EFFECT
    # every reason shown is material
    assert all(abs(reason["effect"]) >= 0.05 for score in scores for reason in score.reasons)


def test_term_support_tells_a_real_effect_from_noise():
    rng = np.random.default_rng(0)
    n = 4000
    real, noise = rng.normal(size=n), rng.normal(size=n)
    exposure = np.ones(n)
    counts = rng.poisson(0.3 * np.exp(0.5 * real))
    # a model that learnt the real effect and a noise term of the same size
    contributions = np.column_stack([0.5 * real, 0.3 * noise])
    margin = math.log(0.3) + contributions.sum(axis=1)
    parts = np.where(np.arange(n) % 2 == 0, "train", np.where(np.arange(n) % 4 == 1, "validation", "test"))
    support = term_support(contributions=contributions, margin=margin, counts=counts, exposure=exposure,
                           parts=parts, features=["real", "noise"])  # fmt: skip
    assert support["real"]["supported"] and support["real"]["z"] > 5
    assert not support["noise"]["supported"] and support["noise"]["deviance_gain"] < 0


def test_reasons_name_only_supported_features_with_a_material_effect():
    names = ["harsh_brake_per_100km", "rush_hour_share", "night_share"]
    quantiles = {name: np.linspace(0.0, 1.0, 101).tolist() for name in names}
    values = np.array([[3.2, 0.5, 0.5]])
    # rush hour's +40% is the largest, but unsupported; night's +4% is supported but not material
    contributions = np.array([[math.log(1.12), math.log(1.4), math.log(1.04)]])
    reasons = scoring.reasons_for(feature_names=names, values=values, contributions=contributions,
                                  quantiles=quantiles, supported={"harsh_brake_per_100km", "night_share"})  # fmt: skip
    assert [r["feature"] for r in reasons[0]] == ["harsh_brake_per_100km"]
    everything = scoring.reasons_for(feature_names=names, values=values, contributions=contributions,
                                     quantiles=quantiles)  # fmt: skip
    assert [r["feature"] for r in everything[0]] == ["rush_hour_share", "harsh_brake_per_100km"]


def test_features_measuring_one_habit_are_supported_together():
    """Three noisy measures of one habit share its effect: the group's removal is what the held-out
    drivers notice, so each member may be named though alone it may fall within the noise."""
    rng = np.random.default_rng(1)
    n = 3000
    habit = rng.normal(size=n)
    measures = np.column_stack([habit + rng.normal(0, 0.3, n) for _ in range(3)])
    counts = rng.poisson(0.3 * np.exp(0.45 * habit))
    contributions = 0.15 * measures
    margin = math.log(0.3) + contributions.sum(axis=1)
    parts = np.where(np.arange(n) % 2 == 0, "train", "test")
    names = ["brake", "accel", "corner"]
    alone = term_support(contributions=contributions, margin=margin, counts=counts, exposure=np.ones(n),
                         parts=parts, features=names)  # fmt: skip
    together = term_support(contributions=contributions, margin=margin, counts=counts, exposure=np.ones(n),
                            parts=parts, features=names, groups={"harsh": names})  # fmt: skip
    group = together["brake"]["group"]
    assert group["name"] == "harsh" and group["supported"]
    assert all(group["z"] > alone[name]["z"] for name in names)
    assert all(together[name]["supported"] for name in names)
