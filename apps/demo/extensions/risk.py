"""Demo world extension: train a claim-frequency model on the demo drivers, activate it if it
passes the activation gate and score every driver, when the demo drivers carry enough claims to
learn from (RISK_MIN_TRAINING_CLAIMS in the training part; otherwise the seed says why there is no
model). A model that fails the gate is kept inactive, never forced.

The telematics demo simulates the last 180 days of driving with claims. The model needs claims
that happen AFTER the features it learns from, so the driver features are taken as of
FOLLOW_DAYS + 1 days ago (over the 90 days of driving before that day) and the claims of the
days since are the target. The gate chooses the family (XGBoost only if it beats the standard
GLM, else the GLM) and activates it only if it beats the constant model; on the simulated
portfolio, whose risk is log-linear in the drivers' traits, the GLM is the usual champion."""

import datetime as dt
import random

from django.utils import timezone

from apps.common.exceptions import ApplicationError
from apps.demo.extensions.telematics import FEATURE_DAYS, FOLLOW_DAYS
from apps.risk import selectors
from apps.risk.services import (
    MIN_FOLLOW_DAYS,
    MIN_TRAINING_DRIVERS,
    drivers_score,
    min_training_claims,
    risk_model_activate,
    risk_model_train,
)

WINDOW_DAYS = FEATURE_DAYS


def seed(*, size: str, rng: random.Random, stdout) -> None:
    from apps.telematics.services import driver_features_refresh

    today = timezone.localdate()
    as_of = today - dt.timedelta(days=max(FOLLOW_DAYS, MIN_FOLLOW_DAYS) + 1)
    driver_features_refresh(as_of=as_of, window_days=WINDOW_DAYS)
    frame = selectors.training_frame(as_of=as_of, window_days=WINDOW_DAYS, follow_days=365, claims_known_until=today)
    drivers, claims = len(frame), int(frame["claims"].sum()) if len(frame) else 0
    if drivers == 0:
        # Fail (and so run again on the next seed_demo) rather than record a world without drivers.
        raise RuntimeError(f"no demo driver has driving before {as_of}: the telematics demo extension must run first")
    no_model = " (seed a medium world or simulate more drivers, then `manage.py train_risk_model`)"
    if drivers < MIN_TRAINING_DRIVERS:
        stdout.write(
            f"  risk: no model: {drivers} demo drivers with driving before {as_of}, at least {MIN_TRAINING_DRIVERS}"
            f" are needed{no_model}"
        )
        return
    try:
        model = risk_model_train(as_of=as_of, window_days=WINDOW_DAYS, seed=rng.randrange(1_000), today=today)
    except ApplicationError as exc:
        stdout.write(
            f"  risk: no model: {drivers} demo drivers, {claims} claims since {as_of}; training refused: {exc.message}"
            f" (minimum {min_training_claims()} claims in the training part){no_model}"
        )
        return
    try:
        risk_model_activate(model=model)
    except ApplicationError as exc:
        stdout.write(f"  risk: model {model.version} trained but NOT activated, no scores: {exc.message}")
        return
    result = drivers_score(model=model)
    m = model.metrics
    family = model.model_card["family"]
    stdout.write(
        f"  risk: model {model.version} ({model.algorithm}) trained on {drivers} drivers / {claims} claims; test "
        f"deviance XGBoost {m['xgboost']['mean_poisson_deviance']:.3f}, GLM {m['glm']['mean_poisson_deviance']:.3f}, "
        f"constant {m['constant']['mean_poisson_deviance']:.3f}; {'XGBoost' if family == 'xgboost' else 'the GLM'}"
        f" passed the gate and is active; {result['written']} drivers scored as of {result['as_of']}"
    )
