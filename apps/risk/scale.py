"""The safety-score scale, without the model: relative risk to the 0-100 safety score and its
inverse, and the bands (see apps.risk.scoring's docstring for how the numbers relate). Plain
arithmetic, so pages and pricing what-ifs can use it without loading XGBoost."""

import math

import numpy as np

from apps.risk.models import RiskScore

SAFETY_PIVOT = 1.5
BAND_EDGES = ((0.8, RiskScore.Band.LOW), (1.1, RiskScore.Band.MILD), (1.5, RiskScore.Band.MEDIUM))
BAND_ORDER = {RiskScore.Band.LOW: 0, RiskScore.Band.MILD: 1, RiskScore.Band.MEDIUM: 2, RiskScore.Band.HIGH: 3}


def safety_score(relative_risk: np.ndarray) -> np.ndarray:
    rr = np.maximum(np.asarray(relative_risk, dtype=float), 0.0)
    return np.clip(np.rint(100.0 / (1.0 + (rr / SAFETY_PIVOT) ** 2)), 0, 100).astype(int)


def relative_risk_for_safety_score(score: float) -> float:
    """The inverse of safety_score (before its rounding): the relative risk that scores `score`,
    for 0 < score <= 100; what-if figures (the driver portal) price a better score with it."""
    if not 0 < score <= 100:
        raise ValueError(f"a safety score is in (0, 100], not {score}")
    return SAFETY_PIVOT * math.sqrt(100.0 / score - 1.0)


def band(relative_risk: np.ndarray) -> np.ndarray:
    rr = np.asarray(relative_risk, dtype=float)
    out = np.full(rr.shape, RiskScore.Band.HIGH.value, dtype=object)
    for edge, name in reversed(BAND_EDGES):
        out[rr < edge] = name.value
    return out


def band_safety_ranges() -> list[tuple[str, float, float]]:
    """Each band as (band, lowest, highest) safety score, safest first: the band edges in
    relative risk read on the safety scale (before its rounding)."""
    edges = [100.0 / (1.0 + (edge / SAFETY_PIVOT) ** 2) for edge, _ in BAND_EDGES]
    names = [name.value for _, name in BAND_EDGES] + [RiskScore.Band.HIGH.value]
    tops = [100.0, *edges]
    bottoms = [*edges, 0.0]
    return list(zip(names, bottoms, tops, strict=True))
