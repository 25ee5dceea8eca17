"""Risk writes: rescoring requests and batch scoring (`scores`), training a claim-frequency model
(`training`), and its activation behind the champion/challenger gate (`activation`)."""

from apps.risk.services.activation import risk_model_activate, risk_model_gate
from apps.risk.services.scores import (
    RESCORE_DEBOUNCE_SECONDS,
    _rescore_key,
    driver_rescore,
    driver_rescore_requested,
    driver_score_refresh,
    drivers_score,
    drivers_trips_computed,
    scores_chunk_save,
)
from apps.risk.services.training import (
    DEFAULT_MIN_TRAINING_CLAIMS,
    MIN_FOLLOW_DAYS,
    MIN_TRAINING_DRIVERS,
    min_training_claims,
    risk_model_train,
    risk_model_train_frame,
)

__all__ = [
    "DEFAULT_MIN_TRAINING_CLAIMS",
    "MIN_FOLLOW_DAYS",
    "MIN_TRAINING_DRIVERS",
    "RESCORE_DEBOUNCE_SECONDS",
    "_rescore_key",
    "driver_rescore",
    "driver_rescore_requested",
    "driver_score_refresh",
    "drivers_score",
    "drivers_trips_computed",
    "min_training_claims",
    "risk_model_activate",
    "risk_model_gate",
    "risk_model_train",
    "risk_model_train_frame",
    "scores_chunk_save",
]
