# The pricing extension binds policies: it needs the pricing tests' rate plan and active model.
from tests.pricing.conftest import _fresh_api_cache, active_model, plan, world  # noqa: F401
