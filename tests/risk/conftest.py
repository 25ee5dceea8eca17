import pytest
from django.core.cache import cache

from apps.risk.services import _rescore_key, risk_model_activate, risk_model_train
from tests.risk.simulation import AS_OF, TODAY, seed_drivers


@pytest.fixture
def artifact_root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return settings.ARTIFACT_ROOT


@pytest.fixture
def simulated(db):
    """600 drivers with features as of AS_OF and a year of claims driven by latent aggressiveness."""
    ids, latent = seed_drivers(600, seed=1)
    return ids, latent


@pytest.fixture
def active_model(simulated, artifact_root):
    model = risk_model_train(as_of=AS_OF, today=TODAY)
    return risk_model_activate(model=model)


@pytest.fixture
def clear_debounce():
    def clear(*driver_ids):
        for driver_id in driver_ids:
            cache.delete(_rescore_key(int(driver_id)))

    return clear
