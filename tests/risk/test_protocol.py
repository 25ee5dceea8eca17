"""The corrected procedure: the base margin from the observed frequency, the size chosen on
validation, the standard GLM, calibration and its correction, and the repeated protocol."""

import numpy as np
import pandas as pd
import pytest

from apps.risk import modeling
from apps.risk.modeling import boosting
from tests.risk.test_modeling import simulated_dataset


@pytest.fixture(scope="module")
def fitted():
    dataset, _ = simulated_dataset(4000, seed=3)
    parts = modeling.split_by_group(dataset.groups, seed=0)
    return dataset, parts, modeling.compare(dataset, parts=parts, size_tradeoff=False)


def _slice(booster, trees):
    part = booster[:trees]
    part.set_attr(**{modeling.BASE_ATTRIBUTE: booster.attr("start_log_frequency")})
    return part


def test_the_model_is_balanced_on_its_training_part(fitted):
    dataset, parts, result = fitted
    train = parts == "train"
    observed = dataset.counts[train].sum()
    predicted = modeling.xgb_predict_counts(result.booster, dataset, train).sum()
    assert predicted == pytest.approx(observed, rel=0.01)
    # boosting starts from the observed frequency: one tree in, still balanced (the old start, one
    # claim a year, over-predicted these drivers about 4x)
    first_tree = modeling.xgb_predict_counts(_slice(result.booster, 1), dataset, train).sum()
    assert first_tree == pytest.approx(observed, rel=0.01)
    assert float(result.booster.attr("start_log_frequency")) == pytest.approx(
        np.log(observed / dataset.exposure[train].sum())
    )
    assert abs(float(result.booster.attr("balance_correction"))) < 0.03


def test_early_stopping_not_the_cap_decides_the_size_and_validation_picks_depth_and_rate(fitted):
    _, _, result = fitted
    table = result.size_tradeoff
    assert len(table) == len(modeling.SEARCH_GRID)
    assert all(not row["cap_reached"] and row["trees"] < modeling.XGB_MAX_TREES for row in table)
    chosen = [row for row in table if row.get("chosen")]
    assert len(chosen) == 1
    assert chosen[0]["validation_mean_poisson_deviance"] == min(r["validation_mean_poisson_deviance"] for r in table)
    assert result.booster.num_boosted_rounds() == chosen[0]["trees"]
    assert result.metrics["xgboost"]["trees"] == chosen[0]["trees"]


def test_the_standard_glm_follows_a_curved_effect_the_linear_one_cannot():
    rng = np.random.default_rng(5)
    n = 20_000
    x = rng.uniform(18, 80, n)  # a U-shaped effect, like drivers' age in freMTPL
    skewed = rng.lognormal(0, 1.2, n)
    frequency = 0.1 * np.exp(((x - 45) / 15) ** 2 * 0.5) * (1 + 0.3 * (np.log(skewed) > 0))
    frame = pd.DataFrame({"x": x, "skewed": skewed, "kind": rng.choice(["a", "b", "c"], n)})
    frame["exposure"] = rng.uniform(0.5, 1.0, n)
    frame["claims"] = rng.poisson(frequency * frame["exposure"])
    dataset = modeling.Dataset(frame=frame, features=["x", "skewed", "kind"], count_col="claims",
                               exposure_col="exposure", categorical=["kind"])  # fmt: skip
    result = modeling.compare(dataset, seed=1, size_tradeoff=False)
    assert result.glm_standard.encoding == {"x": "spline", "skewed": "log spline", "kind": "one-hot"}
    standard, linear = result.metrics["glm"], result.metrics["glm_linear"]
    assert standard["mean_poisson_deviance"] < 0.97 * linear["mean_poisson_deviance"]
    assert standard["d2"] > 2 * linear["d2"]


def test_a_miscalibrated_prediction_is_corrected_and_the_correction_keeps_the_ranking():
    rng = np.random.default_rng(2)
    n = 30_000
    truth = np.exp(rng.normal(np.log(0.2), 0.5, n))
    e = np.ones(n)
    y = rng.poisson(truth)
    stretched = 0.2 * (truth / 0.2) ** 1.6  # spread too wide: top deciles over, bottom under
    before = modeling.calibration_check(y, e, stretched)
    assert not before["within_tolerance"] and before["worst_decile_error"] > 0.2
    correction = modeling.correction_fit(y, e, stretched)
    assert correction["significant"]
    assert correction["slope"] == pytest.approx(1 / 1.6, abs=0.05)
    fixed = modeling.corrected(stretched, correction)
    assert modeling.calibration_check(y, e, fixed)["within_tolerance"]
    assert (np.argsort(fixed, kind="stable") == np.argsort(stretched, kind="stable")).all()
    # noise alone is not corrected: an honest prediction on a few hundred claims
    small = slice(0, 1500)
    assert not modeling.correction_fit(y[small], e[small], truth[small])["significant"]


def test_the_bootstrap_interval_holds_the_mean_and_narrows_with_more_data():
    rng = np.random.default_rng(4)

    def runs(n):
        out = []
        for _ in range(3):
            mu = np.exp(rng.normal(np.log(0.2), 0.4, n))
            y = rng.poisson(mu)
            out.append({"counts": y.astype(float), "exposure": np.ones(n), "groups": np.arange(n),
                        "predicted": {"model": mu, "constant": np.full(n, y.mean())}})  # fmt: skip
        return out

    small = modeling.bootstrap_headline(runs(2000), ["model", "constant"], draws=200, reference="constant")
    large = modeling.bootstrap_headline(runs(20000), ["model", "constant"], draws=200, reference="constant")
    for summary in (small, large):
        for key in ("mean_poisson_deviance", "d2", "normalised_gini"):
            row = summary["model"][key]
            assert row["ci95"][0] <= row["mean"] <= row["ci95"][1]
        assert summary["model"]["deviance_minus_constant"]["ci95"][1] < 0
    width = [s["model"]["mean_poisson_deviance"]["ci95"][1] - s["model"]["mean_poisson_deviance"]["ci95"][0]
             for s in (small, large)]  # fmt: skip
    assert width[1] < width[0] / 2


def test_a_given_test_part_stays_and_groups_never_straddle():
    groups = np.repeat(np.arange(300), 2)
    test = groups >= 200
    for seed in (0, 1):
        parts = modeling.split_given_test(groups, test, seed=seed)
        assert (parts[test] == "test").all() and set(parts[~test]) == {"train", "validation"}
        assert all(len(set(parts[groups == g])) == 1 for g in range(300))
    with pytest.raises(ValueError, match="both sides"):
        modeling.split_given_test(groups, np.arange(600) % 2 == 0)


def test_too_few_training_claims_are_refused_before_fitting(monkeypatch):
    dataset, _ = simulated_dataset(400, seed=1)
    monkeypatch.setattr(boosting.xgb, "train", lambda *a, **k: pytest.fail("fitted anyway"))
    with pytest.raises(modeling.NotEnoughClaims, match="at least 200 are needed"):
        modeling.compare(dataset, min_claims=200)
