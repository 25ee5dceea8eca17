"""The nightly drift check: PSI per feature and of the score against the training data, and an
anomaly event naming each feature above 0.25."""

import numpy as np
import pytest

from apps.alerts.models import OperationalEvent
from apps.common.exceptions import ApplicationError
from apps.jobs.models import JobRun
from apps.jobs.services import job_execute, job_start
from apps.risk.services import drivers_score
from apps.risk.services.drift import PSI_ALERT, psi, risk_drift_check
from apps.telematics.models import DriverFeatures
from tests.risk.simulation import AS_OF


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shifted_one():
    rng = np.random.default_rng(0)
    training = rng.lognormal(0, 0.5, 50_000)
    quantiles = np.quantile(training, np.linspace(0, 1, 1001))
    assert psi(quantiles, rng.lognormal(0, 0.5, 20_000)) < 0.01
    assert 0.1 < psi(quantiles, rng.lognormal(0.2, 0.5, 20_000)) < PSI_ALERT
    assert psi(quantiles, rng.lognormal(0.6, 0.5, 20_000)) > PSI_ALERT
    # a feature with many ties (most drivers never drive at night) still bins sensibly
    tied = np.where(rng.random(50_000) < 0.6, 0.0, rng.random(50_000))
    assert (
        psi(np.quantile(tied, np.linspace(0, 1, 1001)), np.where(rng.random(9000) < 0.6, 0.0, rng.random(9000))) < 0.02
    )
    with pytest.raises(ValueError, match="no current values"):
        psi(quantiles, np.array([]))


def test_a_drifted_feature_raises_an_anomaly_naming_it_and_a_stable_world_raises_none(active_model, simulated):
    drivers_score(explain=False)
    result = risk_drift_check(as_of=AS_OF)
    assert set(result["psi"]) == {*active_model.feature_names, "score (expected claims per year)"}
    assert result["drifted"] == [] and not OperationalEvent.objects.filter(event_type="anomaly").exists()

    # phone use triples for everyone: that feature (and the score it drives) move, the others stay
    DriverFeatures.objects.filter(as_of=AS_OF).update(phone_use_per_hour=models_f("phone_use_per_hour") * 3 + 20)
    result = risk_drift_check(as_of=AS_OF)
    assert "phone_use_per_hour" in result["drifted"]
    assert "harsh_brake_per_100km" not in result["drifted"]
    event = OperationalEvent.objects.get(event_type="anomaly", entity_id=f"{active_model.version}:phone_use_per_hour")
    assert "phone_use_per_hour" in event.title and event.metadata["psi"] > PSI_ALERT

    # back to normal: the next run resolves the event
    DriverFeatures.objects.filter(as_of=AS_OF).update(phone_use_per_hour=(models_f("phone_use_per_hour") - 20) / 3)
    result = risk_drift_check(as_of=AS_OF)
    assert "phone_use_per_hour" not in result["drifted"]
    event.refresh_from_db()
    assert event.status == "resolved"


def models_f(name):
    from django.db.models import F

    return F(name)


def test_the_drift_job_runs_nightly_and_refuses_without_a_model(db):
    from apps.jobs import registry

    assert registry.get("risk.drift").schedule == "30 3 * * *"
    with pytest.raises(ApplicationError, match="no active risk model"):
        risk_drift_check()


def test_the_drift_job_records_its_figures(active_model, simulated):
    run = job_execute(run_id=job_start(kind="risk.drift", parameters={"as_of": AS_OF.isoformat()}, enqueue=False).pk)
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.result["drivers"] == 600 and "km" in run.result["psi"]
