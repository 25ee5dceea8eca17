"""The simulated training portfolio the demo's risk model learns from: a realistic claim
frequency, the features DriverFeatures has, and claims drawn around each driver's true rate."""

import datetime as dt

import numpy as np

from apps.demo.trips.portfolio import training_portfolio
from apps.risk.features import FEATURE_NAMES


def test_the_training_portfolio_has_a_realistic_frequency_and_the_driver_features():
    frame, truth = training_portfolio(drivers=2_000, seed=3, as_of=dt.date(2025, 12, 5), frequency=0.1)
    assert list(frame.columns) == ["driver_id", *FEATURE_NAMES, "claims", "exposure"]
    assert len(frame) >= 1_990 and frame["driver_id"].is_unique
    assert (frame["exposure"] == 365 / 365.25).all()
    observed = frame["claims"].sum() / frame["exposure"].sum()
    assert 0.09 <= observed <= 0.17  # 0.1 at 12,000 km and average risk; the drivers average ~1.24 of that
    # the claims are Poisson draws around each driver's true expected claims
    assert abs(frame["claims"].sum() - truth.sum()) < 4 * np.sqrt(truth.sum())
    shares = frame[["speeding_share", "night_share", "rush_hour_share", "highway_share"]]
    assert ((shares >= 0) & (shares <= 1)).all().all()
    assert frame["km"].median() > 1_500  # 90 days of a median 10,600 km a year
    again, _ = training_portfolio(drivers=2_000, seed=3, as_of=dt.date(2025, 12, 5), frequency=0.1)
    assert again.equals(frame)
