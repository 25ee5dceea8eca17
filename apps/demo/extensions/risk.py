"""Demo world extension: train a claim-frequency model, activate it if it passes the activation
gate and score every demo driver. A model that fails the gate is kept inactive, never forced.

The model learns from a simulated portfolio held in memory (`apps.demo.trips.portfolio`): the
fast simulator's drivers with the same traits, trips and claim process as the demo's own, at the
same realistic claim frequency (DEMO_CLAIM_FREQUENCY, about 0.12 claims a driver-year observed),
their features over a 90-day window as of a year and a day ago and their claims over the year
since. At that frequency a model needs thousands of driver-years to see the 200 claims its
training part must hold (RISK_MIN_TRAINING_CLAIMS), more than the demo's drivers drive: they are
scored by the model, not trained on. The gate chooses the family (XGBoost only if it beats the
standard GLM, else the GLM) and activates it only if it beats the constant model; on the
simulator's portfolio, whose risk is log-linear in the drivers' traits, the GLM is the usual
champion."""

import datetime as dt
import random

from django.utils import timezone

from apps.common.exceptions import ApplicationError
from apps.demo.extensions.telematics import DEMO_CLAIM_FREQUENCY, FEATURE_DAYS
from apps.demo.trips.portfolio import training_portfolio
from apps.risk.services import drivers_score, min_training_claims, risk_model_activate, risk_model_train_frame

# Drivers of the simulated training portfolio and the year of claims they are followed for:
# about 5,000 x 0.12 = 600 claims, some 300 in the training part (measured: 659-700 on seeds 0-3).
TRAINING_DRIVERS = 5_000
FOLLOW_DAYS = 365


def seed(*, size: str, rng: random.Random, stdout) -> None:
    today = timezone.localdate()
    as_of = today - dt.timedelta(days=FOLLOW_DAYS + 1)
    portfolio_seed = rng.randrange(2**31)
    frame, _ = training_portfolio(
        drivers=TRAINING_DRIVERS, seed=portfolio_seed, as_of=as_of, frequency=DEMO_CLAIM_FREQUENCY,
        window_days=FEATURE_DAYS, follow_days=FOLLOW_DAYS,
    )  # fmt: skip
    drivers, claims = len(frame), int(frame["claims"].sum())
    source = (f"a simulated portfolio of {drivers:,} drivers (apps.demo.trips.portfolio, seed {portfolio_seed}, "
              f"{DEMO_CLAIM_FREQUENCY} claims a year at 12,000 km and average risk)")  # fmt: skip
    no_model = " (simulate more drivers, then `manage.py train_risk_model`)"
    try:
        model = risk_model_train_frame(frame=frame, as_of=as_of, window_days=FEATURE_DAYS, follow_days=FOLLOW_DAYS,
                                       follow_end=as_of + dt.timedelta(days=FOLLOW_DAYS), seed=rng.randrange(1_000),
                                       source=source)  # fmt: skip
    except ApplicationError as exc:
        stdout.write(
            f"  risk: no model: {drivers} simulated drivers, {claims} claims; training refused: {exc.message}"
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
        f"  risk: model {model.version} ({model.algorithm}) trained on {drivers:,} simulated drivers / {claims} claims"
        f" ({claims / frame['exposure'].sum():.3f} a driver-year); test deviance XGBoost "
        f"{m['xgboost']['mean_poisson_deviance']:.3f}, GLM {m['glm']['mean_poisson_deviance']:.3f}, constant "
        f"{m['constant']['mean_poisson_deviance']:.3f}; {'XGBoost' if family == 'xgboost' else 'the GLM'} passed the"
        f" gate and is active; reasons may name {', '.join(model.model_card['reason_features']) or 'no feature'};"
        f" {result['written']} demo drivers scored as of {result['as_of']}"
    )
