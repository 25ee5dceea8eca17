"""The minimum data to train, the champion/challenger activation gate, and the demo's use of both."""

import io
import random

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.audit.models import AuditEntry
from apps.common.exceptions import ApplicationError
from apps.demo.extensions import risk as demo
from apps.risk.models import RiskModel, RiskScore
from apps.risk.services import risk_model_activate, risk_model_gate, risk_model_train
from tests.risk.simulation import AS_OF, TODAY, seed_drivers


def test_training_refuses_fewer_claims_than_the_default_minimum(db, artifact_root):
    seed_drivers(600, seed=1)  # about 180 claims, about 90 of them in the training part
    with pytest.raises(ApplicationError) as raised:
        risk_model_train(as_of=AS_OF, today=TODAY)
    assert raised.value.code == "not_enough_claims"
    assert "claims in the training part" in raised.value.message
    assert "at least 200 are needed" in raised.value.message
    assert "RISK_MIN_TRAINING_CLAIMS" in raised.value.message
    assert not RiskModel.objects.exists() and not (artifact_root / "risk").exists()
    # configurable, per run or by the setting
    assert risk_model_train(as_of=AS_OF, today=TODAY, min_claims=40).pk


def test_the_train_command_says_why_it_refuses(db, artifact_root):
    seed_drivers(600, seed=1)
    with pytest.raises(CommandError, match="at least 200 are needed"):
        call_command("train_risk_model", "--as-of", AS_OF.isoformat(), stdout=io.StringIO())
    call_command("train_risk_model", "--as-of", AS_OF.isoformat(), "--min-claims", "40", stdout=io.StringIO())
    assert RiskModel.objects.count() == 1


def test_a_model_failing_the_gate_is_refused_and_the_card_says_why(active_model, simulated):
    challenger = risk_model_train(as_of=AS_OF, today=TODAY, seed=7)
    gate = risk_model_gate(model=challenger)
    family = challenger.model_card["family"]
    assert set(gate["comparisons"]) == {"xgboost": {"constant", "glm", "active"}, "glm": {"constant", "active"}}[family]
    assert gate["comparisons"]["active"]["version"] == active_model.version
    assert not gate["passed"]
    with pytest.raises(ApplicationError) as raised:
        risk_model_activate(model=challenger)
    assert raised.value.code == "gate_failed"
    assert "does not lie below zero" in raised.value.message
    assert RiskModel.objects.get(is_active=True).pk == active_model.pk
    challenger.refresh_from_db()
    assert challenger.model_card["activation"]["decision"] == "refused"
    assert challenger.model_card["activation"]["failed"] == gate["failed"]
    assert AuditEntry.objects.filter(action="risk.model_activation_refused", entity_id=str(challenger.pk)).exists()


def test_forcing_past_the_gate_needs_a_reason_and_is_audited(active_model, simulated):
    challenger = risk_model_train(as_of=AS_OF, today=TODAY, seed=7)
    with pytest.raises(ApplicationError, match="fails the activation gate"):
        risk_model_activate(model=challenger, force_reason="   ")
    risk_model_activate(model=challenger, force_reason="pilot: compare live for a week")
    challenger.refresh_from_db()
    assert challenger.is_active
    assert challenger.model_card["activation"]["decision"] == "forced"
    entry = AuditEntry.objects.filter(action="risk.model_activated", entity_id=str(challenger.pk)).get()
    assert entry.data["gate"] == "forced"
    assert entry.data["reason"] == "pilot: compare live for a week"
    assert entry.data["failed"]


def test_a_challenger_that_beats_constant_glm_and_champion_goes_live(gate_world):
    champion, challenger = gate_world
    # its drivers carry a night-and-speeding interaction no additive GLM can express: XGBoost wins
    assert challenger.model_card["family"] == "xgboost" and challenger.algorithm == "xgboost-poisson"
    gate = risk_model_gate(model=challenger)
    assert gate["passed"], gate
    for name in ("constant", "glm", "active"):
        assert gate["comparisons"][name]["ci95"][1] < 0, name
    assert gate["comparisons"]["active"]["test_drivers"] == challenger.model_card["gate"]["test_drivers"]
    risk_model_activate(model=challenger)
    challenger.refresh_from_db()
    assert challenger.is_active and challenger.model_card["activation"]["decision"] == "activated"
    champion.refresh_from_db()
    assert not champion.is_active


def test_the_champion_is_not_compared_when_the_data_changed_since_training(gate_world):
    from apps.risk.models import Claim
    from apps.telematics.models import DriverFeatures

    _, challenger = gate_world
    trained_on = DriverFeatures.objects.filter(as_of=AS_OF).values("driver_id")
    Claim.objects.filter(driver_id__in=trained_on, occurred_at__date__gt=AS_OF).order_by("pk").first().delete()
    gate = risk_model_gate(model=challenger)
    assert "changed since training" in gate["comparisons"]["active"]["error"]
    assert not gate["passed"] and "active" in gate["failed"]


def _demo_run(monkeypatch, *, training_drivers: int | None = None, portfolio=None) -> str:
    """The demo's risk extension: its simulated training portfolio (`training_drivers` of them, or
    the frame `portfolio` returns) and 40 demo drivers with features as of yesterday to score."""
    import datetime as dt

    from django.utils import timezone

    seed_drivers(40, seed=5, as_of=timezone.localdate() - dt.timedelta(days=1), base_frequency=1e-9)
    if training_drivers is not None:
        monkeypatch.setattr(demo, "TRAINING_DRIVERS", training_drivers)
    if portfolio is not None:
        monkeypatch.setattr(demo, "training_portfolio", portfolio)
    out = io.StringIO()
    demo.seed(size="small", rng=random.Random(0), stdout=out)
    return out.getvalue()


def test_the_demo_says_why_it_has_no_model(db, artifact_root, monkeypatch):
    text = _demo_run(monkeypatch, training_drivers=400)  # about 55 claims at a realistic frequency
    assert "risk: no model" in text and "at least 200 are needed" in text
    assert not RiskModel.objects.exists() and not RiskScore.objects.exists()


def test_the_demo_never_activates_a_model_failing_the_gate(db, artifact_root, settings, monkeypatch):
    from apps.demo.trips.portfolio import training_portfolio

    def claims_unrelated_to_driving(**kwargs):
        frame, truth = training_portfolio(**kwargs)
        frame["claims"] = np.random.default_rng(0).permutation(frame["claims"].to_numpy())
        return frame, truth

    settings.RISK_MIN_TRAINING_CLAIMS = 5
    text = _demo_run(monkeypatch, training_drivers=1500, portfolio=claims_unrelated_to_driving)
    assert "trained but NOT activated" in text, text
    assert not RiskModel.objects.filter(is_active=True).exists() and not RiskScore.objects.exists()


def test_the_demo_trains_on_a_realistic_simulated_portfolio_and_scores_its_drivers(db, artifact_root, monkeypatch):
    """The demo as `make run` runs it (5,000 simulated drivers followed for a year at a realistic
    claim frequency): enough claims to train (200 in the training part, the default), a model that
    passed the gate (never forced), a portfolio mean frequency a driver can believe, every demo
    driver scored."""
    text = _demo_run(monkeypatch)
    model = RiskModel.objects.get(is_active=True)
    card = model.model_card
    assert card["activation"]["decision"] == "activated", text
    assert "passed the gate and is active" in text
    assert model.metrics["split"]["train"]["claims"] >= 200
    assert 0.08 <= card["portfolio_mean_frequency"] <= 0.2
    assert card["data"]["source"].startswith("a simulated portfolio of ")
    assert card["data"]["follow_days"] == 365
    assert "not available" in card["fairness"]["note"]
    assert RiskScore.objects.filter(model=model).count() == 40
