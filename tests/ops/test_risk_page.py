"""The risk page answers "is the active model any good" (issue 15): its family and why, its test
deviance against the constant (and the GLM) with intervals, calibration by decile with the
observed interval, and drift."""

import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.jobs.models import JobRun
from apps.ops.selectors.risk import _poisson_interval
from tests.jobs.factories import JobRunFactory
from tests.risk.factories import RiskModelFactory, RiskScoreFactory

pytestmark = pytest.mark.django_db
CALIBRATION = [
    {"decile": d, "rows": 20, "exposure": 20.0, "predicted_claims": 2.0 * d, "observed_claims": 2 * d + (d == 10) * 12,
     "predicted_frequency": 0.1 * d, "observed_frequency": (2 * d + (d == 10) * 12) / 20,
     "predicted_over_observed": 2.0 * d / (2 * d + (d == 10) * 12)}
    for d in range(1, 11)
]  # fmt: skip


def _model(**card):
    metrics = {
        "glm": {"mean_poisson_deviance": 0.42, "d2": 0.18, "normalised_gini": 0.41, "calibration": CALIBRATION},
        "xgboost": {"mean_poisson_deviance": 0.44, "d2": 0.14, "normalised_gini": 0.37, "calibration": CALIBRATION},
        "constant": {"mean_poisson_deviance": 0.512},
        "split": {"test": {"groups": 200, "claims": 119.0}},
    }
    comparisons = {"constant": {"difference": -0.092, "ci95": [-0.14, -0.05], "relative": -0.18}}
    card = {
        "family": "glm",
        "family_choice": {"xgboost_vs_glm": {"difference": 0.02, "ci95": [-0.01, 0.05]}},
        "activation": {"decision": "activated", "comparisons": comparisons, "passed": True},
        "calibration": {"test_after": {"worst_decile_error": 0.3}, "corrected": False},
        **card,
    }
    model = RiskModelFactory(
        version="20261001-glm", algorithm="glm-spline-poisson", is_active=True, activated_at=timezone.now(),
        metrics=metrics, model_card=card,
    )  # fmt: skip
    RiskScoreFactory(model=model, as_of=timezone.localdate(), contributions={"km": 0.2})
    return model


def _island(html: str, name: str) -> dict:
    return json.loads(re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', html, re.S).group(1))


def test_the_page_says_whether_the_glm_champion_is_any_good(analyst_client):
    model = _model()
    JobRunFactory(kind="risk.drift", status=JobRun.Status.SUCCEEDED, finished_at=timezone.now(),
                  result={"model": model.version, "as_of": "2026-12-05", "drivers": 600, "drifted": ["km"],
                          "psi": {"km": 0.31, "night_share": 0.04}})  # fmt: skip
    html = analyst_client.get(reverse("ops:risk")).content.decode()
    verdict = re.sub(r"\s+", " ", re.search(r'<section class="notice" id="model-verdict">(.*?)</section>', html, re.S)
                     .group(1))  # fmt: skip
    assert "GLM (Poisson, splines)" in html
    assert "On 200 held-out drivers (119 claims)" in verdict
    minus = "\u2212"  # the number filters print a typographic minus
    assert (f"a constant model: {minus}18.0 % (difference {minus}0.092, 95&nbsp;% interval {minus}0.140 to "
            f"{minus}0.050)") in verdict  # fmt: skip
    assert "<strong>better</strong>" in verdict
    assert "XGBoost, trained beside it, did not beat it" in verdict
    assert "off by 30.0 %" in verdict
    assert "1 input shifted" in verdict
    calibration = _island(html, "calibration")
    assert [d["label"] for d in calibration["datasets"]] == [
        "Observed: 95% interval low", "Observed: 95% interval", "Observed claims per driver-year",
        "GLM (Poisson, splines) predicted",
    ]  # fmt: skip
    low, high = calibration["datasets"][0]["data"], calibration["datasets"][1]["data"]
    assert all(a < o < b for a, o, b in zip(low, calibration["datasets"][2]["data"], high, strict=True))
    # D10 predicts 20 claims where 32 were seen: outside the exact Poisson interval [21.9, 45.2]
    assert [r["inside"] for r in calibration["table"]] == [True] * 9 + [False]
    assert _island(html, "drift")["labels"] == ["km", "night share"]
    comparison = _island(html, "model-comparison")
    assert comparison["labels"] == ["GLM (Poisson, splines) \u2014 active", "XGBoost", "Constant (portfolio mean)"]
    assert comparison["datasets"][0]["data"] == [0.42, 0.44, 0.512]


def test_a_forced_model_and_a_missing_drift_check_are_said_plainly(analyst_client):
    _model(
        family="xgboost",
        family_choice={"xgboost_vs_glm": {"difference": -0.03, "ci95": [-0.05, -0.01]}},
        activation={"decision": "forced", "reason": "pilot week", "passed": False,
                    "comparisons": {"active": {"version": "v1", "difference": 0.01, "ci95": [-0.02, 0.04]}}},
    )  # fmt: skip
    html = re.sub(r"\s+", " ", analyst_client.get(reverse("ops:risk")).content.decode())
    assert "by force, past a failed gate: pilot week" in html
    assert "the model it replaced (v1): difference 0.010" in html and "not shown to be better" in html
    assert "Drift: not checked yet" in html
    assert "XGBoost beat the GLM trained beside it" in html


def test_the_calibration_band_is_the_exact_poisson_interval():
    assert _poisson_interval(0, 1.0) == pytest.approx((0.0, 3.6889), abs=1e-4)  # the "rule of 3.69"
    assert _poisson_interval(5, 2.0) == pytest.approx((1.6235 / 2, 11.6683 / 2), abs=1e-4)


def test_the_page_says_where_the_model_learnt_and_what_its_reasons_may_name(analyst_client):
    _model(data={"source": "a simulated portfolio of 5,000 drivers (seed 1)"},
           reason_features=["km", "harsh_brake_per_100km"])  # fmt: skip
    html = re.sub(r"\s+", " ", analyst_client.get(reverse("ops:risk")).content.decode())
    assert "Trained on a simulated portfolio of 5,000 drivers (seed 1)." in html
    assert "Reasons and advice name only the features whose term the held-out drivers support" in html
    assert "5 % or more: distance driven, harsh braking.</p>" in html


def test_a_model_without_the_reason_rule_says_nothing_about_it(analyst_client):
    _model()
    html = analyst_client.get(reverse("ops:risk")).content.decode()
    assert 'id="reason-features"' not in html and "Trained on" not in html
