import math

import numpy as np
import pandas as pd
import pytest
import shap
import xgboost as xgb

from apps.risk import modeling
from apps.risk.features import FEATURE_NAMES, FEATURES
from tests.risk.simulation import driver_frame


def simulated_dataset(n=3000, *, seed=0, effect=0.6):
    a, features, frequency, rng = driver_frame(n, seed=seed, effect=effect)
    exposure = rng.uniform(0.3, 1.0, n)
    frame = pd.DataFrame(features)
    frame["claims"] = rng.poisson(frequency * exposure)
    frame["exposure"] = exposure
    frame["driver_id"] = np.arange(n) + 1000
    dataset = modeling.Dataset(
        frame=frame, features=list(FEATURE_NAMES), count_col="claims", exposure_col="exposure", group_col="driver_id"
    )
    return dataset, a


@pytest.fixture(scope="module")
def trained():
    dataset, latent = simulated_dataset()
    monotone = {f.name: f.monotone for f in FEATURES if f.monotone}
    return dataset, latent, modeling.compare(dataset, monotone=monotone, seed=0, size_tradeoff=False)


def test_split_by_group_keeps_every_group_in_one_part():
    groups = np.repeat(np.arange(200), 3)  # three rows per driver
    parts = modeling.split_by_group(groups, seed=7, fractions=(0.6, 0.2, 0.2))
    seen = {}
    for group, part in zip(groups, parts, strict=True):
        assert seen.setdefault(group, part) == part
    by_part = {p: {g for g, q in seen.items() if q == p} for p in modeling.PARTS}
    assert by_part["train"].isdisjoint(by_part["validation"])
    assert by_part["train"].isdisjoint(by_part["test"])
    assert by_part["validation"].isdisjoint(by_part["test"])
    assert sum(len(s) for s in by_part.values()) == 200
    assert (len(by_part["train"]), len(by_part["validation"]), len(by_part["test"])) == (120, 40, 40)
    assert (modeling.split_by_group(groups, seed=7, fractions=(0.6, 0.2, 0.2)) == parts).all()


def test_the_default_split_holds_a_third_of_the_groups_out_for_the_test():
    parts = modeling.split_by_group(np.arange(1000), seed=0)
    assert {p: int((parts == p).sum()) for p in modeling.PARTS} == {"train": 503, "validation": 167, "test": 330}


def test_split_refuses_too_few_groups_and_bad_fractions():
    with pytest.raises(ValueError, match="at least 3 distinct groups"):
        modeling.split_by_group(np.array([1, 1, 2]))
    with pytest.raises(ValueError, match="fractions"):
        modeling.split_by_group(np.arange(10), fractions=(0.5, 0.5, 0.5))


def test_metrics_on_a_hand_checked_case():
    # Two policies, one year each: 0 claims predicted 0.5, 2 claims predicted 1.0.
    y, e, mu = [0, 2], [1.0, 1.0], [0.5, 1.0]
    # unit deviances: 2*(0 - (0 - 0.5)) = 1.0 ; 2*(2*ln(2) - (2 - 1)) = 4 ln 2 - 2
    total = 1.0 + 4 * math.log(2) - 2
    assert modeling.poisson_deviance_total(y, mu) == pytest.approx(total)
    assert modeling.mean_poisson_deviance(y, e, mu) == pytest.approx(total / 2)
    # null: mean frequency 1.0 for both -> 2*(0-(0-1)) + 2*(2 ln 2 - 1) = 4 ln 2
    assert modeling.d2_poisson(y, e, mu) == pytest.approx(1 - total / (4 * math.log(2)))
    # Lorenz ranked by prediction: (0,0) -> (0.5, 0) -> (1, 1): area 0.25, Gini 0.5; the oracle
    # ranks the same way, so the normalised Gini is 1.
    assert modeling.gini(y, e, np.array(mu) / e) == pytest.approx(0.5)
    assert modeling.normalised_gini(y, e, np.array(mu) / e) == pytest.approx(1.0)
    # the reversed ranking is the worst one
    assert modeling.gini(y, e, [2.0, 0.1]) == pytest.approx(-0.5)
    metrics = modeling.poisson_metrics(y, e, mu)
    assert metrics["total_predicted"] == 1.5
    assert metrics["total_observed"] == 2
    assert metrics["predicted_over_observed"] == 0.75


def test_metrics_with_unequal_exposure_weight_by_exposure():
    y, e, mu = [1, 0, 3], [0.5, 2.0, 1.5], [0.4, 0.2, 1.8]
    unit = [2 * (1 * math.log(1 / 0.4) - (1 - 0.4)), 2 * 0.2, 2 * (3 * math.log(3 / 1.8) - (3 - 1.8))]
    assert modeling.mean_poisson_deviance(y, e, mu) == pytest.approx(sum(unit) / 4.0)
    # Lorenz by predicted frequency 0.8, 0.1, 1.2 -> order (2nd, 1st, 3rd):
    # exposure 2.0, 0.5, 1.5 of 4 ; claims 0, 1, 3 of 4
    xs, ys = [0, 0.5, 0.625, 1.0], [0, 0, 0.25, 1.0]
    area = sum((xs[i + 1] - xs[i]) * (ys[i + 1] + ys[i]) / 2 for i in range(3))
    assert modeling.gini(y, e, np.array(mu) / e) == pytest.approx(1 - 2 * area)


def test_calibration_by_decile_sums_to_totals():
    rng = np.random.default_rng(3)
    mu = rng.uniform(0.05, 0.5, 500)
    e = rng.uniform(0.2, 1.0, 500)
    y = rng.poisson(mu)
    table = modeling.calibration_by_decile(y, e, mu)
    assert [row["decile"] for row in table] == list(range(1, 11))
    assert sum(row["observed_claims"] for row in table) == y.sum()
    assert sum(row["predicted_claims"] for row in table) == pytest.approx(mu.sum(), abs=1e-2)
    assert sum(row["exposure"] for row in table) == pytest.approx(e.sum(), abs=1e-2)
    freqs = [row["predicted_frequency"] for row in table]
    assert freqs == sorted(freqs)


@pytest.mark.parametrize(
    ("y", "e", "mu", "message"),
    [([1], [0.0], [0.5], "exposure must be positive"), ([1], [1.0], [0.0], "predicted claim counts")],
)
def test_metrics_refuse_bad_input(y, e, mu, message):
    with pytest.raises(ValueError, match=message):
        modeling.poisson_metrics(y, e, mu)


def test_trainer_recovers_a_known_latent_effect(trained):
    dataset, latent, result = trained
    test = result.parts == "test"
    predicted = modeling.xgb_predict_counts(result.booster, dataset, test) / dataset.exposure[test]
    a = latent[test]
    top, bottom = predicted[a > np.quantile(a, 0.75)].mean(), predicted[a < np.quantile(a, 0.25)].mean()
    # the true ratio of mean frequencies between the quartiles is about 3; the model must see it
    assert top / bottom > 1.8
    assert np.corrcoef(a, np.log(predicted))[0, 1] > 0.5
    assert result.metrics["xgboost"]["d2"] > 0
    assert result.metrics["glm"]["d2"] > 0
    assert result.metrics["xgboost"]["normalised_gini"] > 0.2
    assert set(result.metrics["split"]) == {"train", "validation", "test"}
    assert sum(p["groups"] for p in result.metrics["split"].values()) == len(dataset.frame)
    assert 1 <= result.booster.num_boosted_rounds() <= modeling.XGB_MAX_TREES


def test_monotone_constraints_hold(trained):
    dataset, _, result = trained
    base = dataset.xgb_matrix().iloc[:200].copy()
    for feature in (f for f in FEATURES if f.monotone):
        low, high = base.copy(), base.copy()
        high[feature.name] = low[feature.name] * 1.5 + 0.1
        margins = [
            result.booster.predict(xgb.DMatrix(m, base_margin=np.zeros(len(m))), output_margin=True)
            for m in (low, high)
        ]
        assert (margins[1] >= margins[0] - 1e-6).all(), feature.name


def test_save_load_round_trip_gives_identical_predictions(trained, tmp_path):
    dataset, _, result = trained
    path = tmp_path / "model.json"
    modeling.booster_save(result.booster, path, feature_names=list(FEATURE_NAMES), training_data_hash="ab" * 32)
    assert path.read_text().startswith("{")
    loaded = modeling.booster_load(path)
    X = dataset.xgb_matrix()
    before = result.booster.predict(xgb.DMatrix(X, base_margin=np.zeros(len(X))))
    after = loaded.predict(xgb.DMatrix(X, base_margin=np.zeros(len(X))))
    assert np.array_equal(before, after)
    assert loaded.attr("training_data_hash") == "ab" * 32
    assert loaded.attr("feature_list") == '["' + '", "'.join(FEATURE_NAMES) + '"]'
    with pytest.raises(ValueError, match="JSON"):
        modeling.booster_save(result.booster, tmp_path / "model.pkl", feature_names=[], training_data_hash="")


def test_pred_contribs_equal_the_shap_package_and_sum_to_the_margin(trained):
    dataset, _, result = trained
    X = dataset.xgb_matrix().iloc[:300]
    matrix = xgb.DMatrix(X, base_margin=np.zeros(len(X)))
    contribs = result.booster.predict(matrix, pred_contribs=True)
    reference = shap.TreeExplainer(result.booster).shap_values(X)
    assert np.abs(contribs[:, :-1] - reference).max() < 1e-4
    margin = result.booster.predict(matrix, output_margin=True)
    assert np.abs(contribs.sum(axis=1) - margin).max() < 1e-4


def test_dataset_refuses_bad_columns():
    frame = pd.DataFrame({"x": [1.0, 2.0], "n": [0, -1], "e": [1.0, 1.0]})
    with pytest.raises(ValueError, match="non-negative whole numbers"):
        modeling.Dataset(frame=frame, features=["x"], count_col="n", exposure_col="e")
    with pytest.raises(ValueError, match="missing column"):
        modeling.Dataset(frame=frame, features=["nope"], count_col="n", exposure_col="e")
    frame["n"] = [0, 1]
    frame["e"] = [1.0, 0.0]
    with pytest.raises(ValueError, match="must be positive"):
        modeling.Dataset(frame=frame, features=["x"], count_col="n", exposure_col="e")
