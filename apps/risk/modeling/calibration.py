"""Calibration by decile, and its correction when a decile with enough claims is off by more than
CALIBRATION_TOLERANCE on the validation part: a balance correction with a slope, i.e. the Poisson
GLM log(observed) = a + b x log(predicted frequency) + log(exposure) fitted on the validation part
(two numbers: robust on a few hundred claims where an isotonic step function over-fits, and
monotone, so the ranking never flips). It is applied only when it is significant on the
validation part (likelihood-ratio test, 2 degrees of freedom, 5%): on a few hundred claims a
decile is off by 10-20% by chance alone, and a correction fitted to that noise was measured to
worsen the test deviance (freMTPLmini, 3 seeds of 5)."""

import numpy as np

from apps.risk.modeling.metrics import calibration_by_decile, calibration_worst

CALIBRATION_TOLERANCE = 0.10
# Below this many observed claims a decile's ratio is mostly noise (Poisson: ±1/sqrt(n)).
MIN_DECILE_CLAIMS = 30
SLOPE_BOUNDS = (0.2, 2.0)
CHI2_2DF_95 = 5.991


def calibration_check(counts, exposure, predicted_counts) -> dict:
    table = calibration_by_decile(counts, exposure, predicted_counts)
    worst = calibration_worst(table, min_claims=MIN_DECILE_CLAIMS)
    return {
        "worst_decile_error": worst,
        "within_tolerance": worst is None or worst <= CALIBRATION_TOLERANCE,
        "deciles_judged": sum(r["observed_claims"] >= MIN_DECILE_CLAIMS for r in table),
        "predicted_over_observed": [r["predicted_over_observed"] for r in table],
    }


def correction_fit(counts, exposure, predicted_counts) -> dict:
    """{"intercept": a, "slope": b, "deviance_drop": ..., "significant": ...} of the recalibration
    on these rows (a slope out of SLOPE_BOUNDS falls back to the balance correction alone, b = 1)."""
    from sklearn.linear_model import PoissonRegressor

    y, e, mu = (np.asarray(v, dtype=float) for v in (counts, exposure, predicted_counts))
    x = np.log(mu / e)
    model = PoissonRegressor(alpha=0.0, solver="newton-cholesky").fit(x[:, None], y / e, sample_weight=e)
    slope, intercept = float(model.coef_[0]), float(model.intercept_)
    if not SLOPE_BOUNDS[0] <= slope <= SLOPE_BOUNDS[1]:
        slope, intercept = 1.0, float(np.log(y.sum() / mu.sum()))
    from apps.risk.modeling.metrics import poisson_deviance_total

    fixed = e * np.exp(intercept + slope * x)
    drop = poisson_deviance_total(y, mu) - poisson_deviance_total(y, fixed)
    return {
        "kind": "log-linear",
        "intercept": round(intercept, 6),
        "slope": round(slope, 6),
        "deviance_drop": round(float(drop), 4),
        "significant": bool(drop > CHI2_2DF_95),
    }


def corrected(frequency: np.ndarray, correction: dict | None) -> np.ndarray:
    """Frequencies with a fitted correction applied (unchanged without one)."""
    frequency = np.asarray(frequency, dtype=float)
    if not correction:
        return frequency
    return np.exp(correction["intercept"] + correction["slope"] * np.log(frequency))
