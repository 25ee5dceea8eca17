import datetime as dt

import pytest
from django.core.cache import cache

from apps.risk.services import _rescore_key, risk_model_activate, risk_model_train
from tests.risk.simulation import AS_OF, TODAY, seed_drivers


@pytest.fixture
def artifact_root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return settings.ARTIFACT_ROOT


@pytest.fixture
def simulated(db, settings):
    """600 drivers with features as of AS_OF and a year of claims driven by latent aggressiveness
    (about 180 claims: the minimum to train is lowered for them; the default is tested apart)."""
    settings.RISK_MIN_TRAINING_CLAIMS = 40
    ids, latent = seed_drivers(600, seed=1)
    return ids, latent


@pytest.fixture
def active_model(simulated, artifact_root):
    """The simulated drivers' model, live because it passed the gate (the GLM family: their risk is
    log-linear in the latent trait, so XGBoost does not beat it; it beats the constant)."""
    model = risk_model_train(as_of=AS_OF, today=TODAY)
    return risk_model_activate(model=model)


@pytest.fixture
def glm_model(simulated, artifact_root):
    """The model trained on the simulated drivers, whose risk is log-linear in their latent trait:
    the gate's family rule deploys the GLM (XGBoost does not beat it)."""
    model = risk_model_train(as_of=AS_OF, today=TODAY)
    assert model.model_card["family"] == "glm", model.model_card["family_choice"]
    return model


@pytest.fixture
def clear_debounce():
    def clear(*driver_ids):
        for driver_id in driver_ids:
            cache.delete(_rescore_key(int(driver_id)))

    return clear


@pytest.fixture
def gate_world(db, settings, artifact_root):
    """A champion trained on drivers whose risk is their latent aggressiveness alone (forced
    active), and a challenger trained later on drivers who also carry a night-and-speeding risk
    the champion never saw: the challenger beats the constant, the GLM and the champion."""
    settings.RISK_MIN_TRAINING_CLAIMS = 40
    early = AS_OF - dt.timedelta(days=60)
    seed_drivers(600, seed=11, as_of=early)
    champion = risk_model_activate(model=risk_model_train(as_of=early, today=TODAY), force_reason="test: champion")
    seed_drivers(1500, seed=12, interaction=1.6)
    challenger = risk_model_train(as_of=AS_OF, today=TODAY)
    return champion, challenger
