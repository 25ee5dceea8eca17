"""The gate's family choice (issue 17): XGBoost goes live only if it beats the standard GLM,
otherwise the GLM is the champion; the GLM as a deployable model (JSON artifact, monotone terms,
additive contributions and reasons)."""

import numpy as np
import pandas as pd
import pytest

from apps.risk import modeling, scoring
from apps.risk.features import FEATURES
from apps.risk.models import RiskScore
from apps.risk.services import drivers_score
from tests.risk.simulation import driver_frame

MONOTONE = {f.name: f.monotone for f in FEATURES if f.monotone}


@pytest.fixture(scope="module")
def log_linear():
    """1,500 drivers whose risk is log-linear in a latent trait the features measure: no tree can
    beat an additive GLM here. Fitted once for the module."""
    _, features, frequency, rng = driver_frame(1500, seed=3, effect=0.6, base_frequency=0.4)
    frame = pd.DataFrame(features)
    frame["driver_id"] = np.arange(len(frame))
    frame["exposure"] = 1.0
    frame["claims"] = rng.poisson(frequency)
    frame.loc[frame.index[:40], "harsh_brake_per_100km"] = np.nan  # not measurable for a few drivers
    dataset = modeling.Dataset(frame=frame, features=[f.name for f in FEATURES], count_col="claims",
                               exposure_col="exposure", group_col="driver_id",
                               missing_ok=[f.name for f in FEATURES if f.may_be_missing])  # fmt: skip
    return dataset, modeling.compare(dataset, monotone=MONOTONE, seed=0, size_tradeoff=False)


def test_the_glm_is_the_champion_when_xgboost_does_not_beat_it(log_linear):
    _, result = log_linear
    xgb_vs_glm = result.family_gates["xgboost"]["glm"]
    assert not modeling.gate_passed(xgb_vs_glm)
    assert result.family == "glm"
    # the GLM is judged against the constant alone, XGBoost against the constant and the GLM
    assert set(result.family_gates["glm"]) == {"constant"}
    assert set(result.family_gates["xgboost"]) == {"constant", "glm"}
    assert modeling.gate_passed(result.family_gates["glm"]["constant"])


def test_xgboost_is_chosen_only_with_an_interval_below_zero(log_linear, monkeypatch):
    dataset, _ = log_linear
    monkeypatch.setattr(modeling.protocol, "gate_passed", lambda c: True)
    assert modeling.compare(dataset, monotone=MONOTONE, seed=0, size_tradeoff=False).family == "xgboost"


def test_the_glm_artifact_reproduces_the_fitted_pipeline_exactly(log_linear, tmp_path):
    dataset, result = log_linear
    every = np.ones(len(dataset.frame), dtype=bool)
    artifact = modeling.glm_export(result.glm_standard, dataset, result.parts == "train")
    modeling.glm_save(artifact, tmp_path / "glm.json", training_data_hash="0" * 64)
    loaded = modeling.glm_load(tmp_path / "glm.json")
    values = dataset.frame[dataset.features].to_numpy(dtype=float)
    expected = result.glm_standard.predict_counts(dataset, every) / dataset.exposure
    np.testing.assert_allclose(np.exp(modeling.glm_margin(loaded, values)), expected, rtol=1e-9)
    # beyond the training range the terms continue linearly, as scikit-learn's splines do
    far = values.copy()
    far[:, 0] = far[:, 0].max() * 4
    shifted = dataset.frame.assign(km=far[:, 0])
    beyond = modeling.Dataset(frame=shifted, features=dataset.features, count_col="claims", exposure_col="exposure",
                              missing_ok=dataset.missing_ok)  # fmt: skip
    np.testing.assert_allclose(np.exp(modeling.glm_margin(loaded, far)),
                               result.glm_standard.predict_counts(beyond, every), rtol=1e-9)  # fmt: skip
    with pytest.raises(ValueError, match="not a glm-spline-poisson artifact"):
        (tmp_path / "other.json").write_text('{"family": "xgboost"}')
        modeling.glm_load(tmp_path / "other.json")


def test_the_glm_contributions_sum_to_its_margin_and_are_zero_for_the_median_driver(log_linear):
    dataset, result = log_linear
    every = np.ones(len(dataset.frame), dtype=bool)
    artifact = modeling.glm_export(result.glm_standard, dataset, every)
    values = dataset.frame[dataset.features].to_numpy(dtype=float)
    contributions, base = modeling.glm_contributions(artifact, values)
    np.testing.assert_allclose(base + contributions.sum(axis=1), modeling.glm_margin(artifact, values), atol=1e-12)
    median = np.nanmedian(values, axis=0)[None, :]
    at_median, _ = modeling.glm_contributions(artifact, median)
    np.testing.assert_allclose(at_median, 0.0, atol=1e-12)


def test_the_glm_terms_of_monotone_features_never_decrease(log_linear):
    dataset, result = log_linear
    assert set(result.glm_standard.constrained) == set(MONOTONE)
    artifact = modeling.glm_export(result.glm_standard, dataset, result.parts == "train")
    for term in artifact["terms"]:
        if term["feature"] not in MONOTONE:
            continue
        column = dataset.frame[term["feature"]].dropna()
        grid = np.linspace(column.min() / 2, column.max() * 2, 400)
        assert np.all(np.diff(modeling.additive.term_values(term, grid)) >= -1e-9), term["feature"]


def test_the_monotone_fit_is_the_unconstrained_one_when_the_data_already_agree():
    """The constraint binds only where the data disagree: on a clearly increasing effect the
    constrained and free fits predict alike."""
    rng = np.random.default_rng(5)
    x = rng.lognormal(0, 0.6, 4000)
    frame = pd.DataFrame({"phone_use_per_hour": x, "g": np.arange(4000), "e": 1.0})
    frame["y"] = rng.poisson(0.3 * x)
    dataset = modeling.Dataset(frame=frame, features=["phone_use_per_hour"], count_col="y", exposure_col="e",
                               group_col="g")  # fmt: skip
    parts = modeling.split_by_group(dataset.groups, seed=0)
    free = modeling.glm_standard_fit(dataset, parts)
    tied = modeling.glm_standard_fit(dataset, parts, monotone={"phone_use_per_hour": 1})
    every = np.ones(4000, dtype=bool)
    np.testing.assert_allclose(tied.predict_counts(dataset, every), free.predict_counts(dataset, every), rtol=0.03)


def test_a_glm_model_scores_with_reasons_that_agree_with_the_values(glm_model, simulated):
    """Scored through the same batch as XGBoost: expected claims from the artifact, contributions
    summing to the margin, and reasons whose direction agrees with the driver's value for every
    monotone feature (above most drivers: more claims)."""
    assert glm_model.algorithm == "glm-spline-poisson" and glm_model.model_card["family"] == "glm"
    drivers_score(model=glm_model)
    scores = list(RiskScore.objects.filter(model=glm_model))
    assert len(scores) == 600
    names = list(glm_model.feature_names)
    values = np.array([s.feature_values for s in scores])
    margin = np.log(scoring.expected_frequency(model=glm_model, values=values))
    for score, m in zip(scores, margin, strict=True):
        # contributions are stored to 6 decimals: nine of them sum to within 5e-6
        assert score.base_value + sum(score.contributions[n] for n in names) == pytest.approx(m, abs=5e-6)
        assert float(score.expected_claims_per_year) == pytest.approx(np.exp(m), rel=1e-9)
    quantiles = glm_model.model_card["feature_quantiles"]
    checked = 0
    for score in scores:
        for reason in score.reasons:
            if reason["feature"] not in MONOTONE:
                continue
            median = np.quantile(quantiles[reason["feature"]], 0.5)
            value = score.features[reason["feature"]]
            if value > median:
                assert reason["effect"] > 0, reason["text"]
            elif value < median:
                assert reason["effect"] < 0, reason["text"]
            checked += 1
    assert checked > 100


def test_a_family_can_be_asked_for_and_is_still_gated(simulated, artifact_root):
    from apps.risk.services import risk_model_gate, risk_model_train
    from tests.risk.simulation import AS_OF, TODAY

    model = risk_model_train(as_of=AS_OF, today=TODAY, family="xgboost")
    assert model.algorithm == "xgboost-poisson" and model.model_card["family"] == "xgboost"
    scoring.model_booster(model)  # an XGBoost artifact
    assert set(risk_model_gate(model=model)["comparisons"]) == {"constant", "glm"}
    assert risk_model_train(as_of=AS_OF, today=TODAY).algorithm == "glm-spline-poisson"  # the rule's, another version
