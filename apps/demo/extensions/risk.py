"""Demo world extension: train a claim-frequency model on the demo drivers, activate it and score
every driver, when the demo drivers carry enough claims to learn from.

The telematics demo simulates the last 45-60 days of driving with claims. The model needs claims
that happen AFTER the features it learns from, so the driver features are taken as of 31 days
ago (over the driving before that day) and the claims of the 30 days since are the target. A
small demo world has too few claims in those 30 days to fit anything honest; the seed then says
so and leaves the world without a model (size medium, or `manage.py simulate_trips`, gives more)."""

import datetime as dt
import random

from django.utils import timezone

from apps.risk import selectors
from apps.risk.services import (
    MIN_FOLLOW_DAYS,
    MIN_TRAINING_DRIVERS,
    drivers_score,
    risk_model_activate,
    risk_model_train,
)

MIN_DEMO_CLAIMS = 20
WINDOW_DAYS = 90


def seed(*, size: str, rng: random.Random, stdout) -> None:
    from apps.telematics.services import driver_features_refresh

    today = timezone.localdate()
    as_of = today - dt.timedelta(days=MIN_FOLLOW_DAYS + 1)
    driver_features_refresh(as_of=as_of, window_days=WINDOW_DAYS)
    frame = selectors.training_frame(as_of=as_of, window_days=WINDOW_DAYS, follow_days=365, claims_known_until=today)
    drivers, claims = len(frame), int(frame["claims"].sum()) if len(frame) else 0
    if drivers == 0:
        # Fail (and so run again on the next seed_demo) rather than record a world without drivers.
        raise RuntimeError(f"no demo driver has driving before {as_of}: the telematics demo extension must run first")
    if drivers < MIN_TRAINING_DRIVERS or claims < MIN_DEMO_CLAIMS:
        stdout.write(
            f"  risk: {drivers} demo drivers with driving before {as_of} and {claims} claims since: too few to "
            f"train a model (needs {MIN_TRAINING_DRIVERS} drivers and {MIN_DEMO_CLAIMS} claims); no model trained,"
            " no scores (seed a medium world or simulate more drivers, then `manage.py train_risk_model`)"
        )
        return
    model = risk_model_train(as_of=as_of, window_days=WINDOW_DAYS, seed=rng.randrange(1_000), today=today)
    risk_model_activate(model=model)
    result = drivers_score(model=model)
    xgb, glm = model.metrics["xgboost"], model.metrics["glm"]
    stdout.write(
        f"  risk: model {model.version} trained on {drivers} drivers / {claims} claims (test deviance XGBoost "
        f"{xgb['mean_poisson_deviance']:.3f} vs GLM {glm['mean_poisson_deviance']:.3f}), activated; "
        f"{result['written']} drivers scored as of {result['as_of']}"
    )
